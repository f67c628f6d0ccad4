//! altur-gateway: one shared, rate-limited, caching door to the Altur API.
//!
//! # Layout
//!
//! Data flows one way; modules are listed in that order.
//!
//! - [`server`] — accept loop, HTTP/1.1 + h2c, connection limits, graceful shutdown.
//! - [`routes`] — downstream request -> [`routes::Route`] or a refusal.
//! - [`proxy`] — the pipeline, the only module that knows the order of the steps.
//! - [`cache`] — moka, TTLs and the stale-if-error window; [`cache::shared`],
//!   the optional second level in Redis and its cross-replica fetch lock.
//! - [`flight`] — one upstream fetch per key however many callers wait.
//! - [`queue`] — the shared upstream budget: FIFO, max wait, 429 pause;
//!   [`queue::redis_budget`], one budget for a fleet of replicas, through Redis.
//! - [`redis_conn`] — Redis connections that fail fast.
//! - [`upstream`] — the client: builds requests, injects the key, timeouts.
//! - [`secret`] — the API key; one function exposes it.
//! - [`error`] — errors by side, and the one mapping to status and JSON.
//! - [`health`] — readiness.
//! - [`config`] — settings, layered and validated; [`telemetry`] and [`metrics`].
//! - [`sim`] — the simulated Altur API for the demo, tests and benchmarks; [`demo`].
#![forbid(unsafe_code)]

pub mod cache;
pub mod config;
pub mod demo;
pub mod error;
pub mod flight;
pub mod health;
pub mod metrics;
pub mod proxy;
pub mod queue;
pub mod redis_conn;
pub mod routes;
pub mod secret;
pub mod server;
pub mod sim;
pub mod telemetry;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{Backend, Settings};
use crate::proxy::Gateway;
use crate::secret::ApiKey;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Secret(#[from] secret::SecretError),
    #[error("cannot bind: {0}")]
    Bind(std::io::Error),
}

impl StartError {
    /// Exit code: 2 for configuration and secret problems, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_) | StartError::Secret(_) => 2,
            StartError::Bind(_) => 1,
        }
    }
}

/// Builds the gateway for these settings: the local budget, or the fleet's
/// shared one in Redis (`rate_limit.backend = "redis"`).
///
/// # Errors
/// A setting this build cannot honour.
pub fn build(settings: Settings, key: Arc<ApiKey>) -> Result<Arc<Gateway>, StartError> {
    let rl = &settings.rate_limit;
    let url = match (rl.backend, rl.redis_url.as_deref()) {
        (Backend::Local, _) => return Ok(Gateway::new(settings, key)?),
        (Backend::Redis, Some(url)) => url,
        (Backend::Redis, None) => {
            return Err(StartError::Config(config::ConfigError::Invalid {
                key: "rate_limit.redis_url",
                reason: "required when rate_limit.backend is \"redis\"".into(),
            }));
        }
    };
    let metrics = Arc::new(metrics::Metrics::new());
    let readiness = Arc::new(health::Readiness::default());
    let budget = queue::RedisBudget::new(
        url,
        queue::redis_budget::RedisBudgetConfig {
            limit: rl.requests_per_second.get() as usize,
            window: rl.window(),
            fallback_limit: rl.fallback_requests_per_second.get() as usize,
            max_send_delay: settings.upstream.timeout,
            name: "altur".into(),
        },
        Arc::clone(&metrics),
        Arc::clone(&readiness),
    )
    .map_err(|reason| {
        StartError::Config(config::ConfigError::Invalid {
            key: "rate_limit.redis_url",
            reason,
        })
    })?;
    Ok(Gateway::with_budget(
        settings,
        key,
        Arc::new(budget),
        metrics,
        readiness,
    )?)
}

/// Serves on `listener` until `shutdown` resolves, then drains and returns.
///
/// # Errors
/// Settings this build cannot honour.
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    key: Arc<ApiKey>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let limits = server::Limits::from_settings(&settings.server);
    let gateway = build(settings, key)?;
    server::serve(listener, gateway, limits, shutdown)
        .await
        .map_err(StartError::Bind)
}
