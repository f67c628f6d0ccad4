//! altur-gateway: one shared, rate-limited, caching door to the Altur API.
//!
//! # Layout
//!
//! Data flows one way; modules are listed in that order.
//!
//! - [`server`] — accept loop, HTTP/1.1 + h2c, connection limits, graceful shutdown.
//! - [`request_id`] — `X-Request-Id`.
//! - [`routes`] — downstream request -> an Altur route of [`routes::table`]
//!   with its canonical target, a local route, or a refusal.
//! - [`proxy`] — the pipeline, the only module that knows the order of the steps.
//! - [`auth`] — a caller's token to its name, scopes and weight (the callers
//!   file, [`watched`] for changes); [`admission`] — each caller's own rate
//!   (governor).
//! - [`webhook`] — Altur's signed webhook: the secret, the signature, what
//!   an event drops.
//! - [`cache`] — moka, TTLs and the stale-if-error window, keyed by
//!   [`cache::key::CacheKey`]; [`cache::shared`], the optional second level
//!   in Redis and its cross-replica fetch lock.
//! - [`flight`] — one upstream fetch per key however many callers wait.
//! - [`fetch`] — one upstream request through the queue: retries, 429 pause.
//! - [`queue`] — the shared upstream budget: fair lanes by caller weight, a
//!   background class, max wait, 429 pause;
//!   [`queue::redis_budget`], one budget for a fleet of replicas, through Redis.
//! - [`redis_conn`] — Redis connections that fail fast.
//! - [`upstream`] — the client: builds requests, injects the key, timeouts.
//! - [`secret`] — the API key; one function exposes it. [`redact`] — secrets
//!   inside other values (a Redis URL's password), shown redacted.
//! - [`reload`] — SIGHUP: every watched file re-read at once.
//! - [`error`] — errors by side, and the one mapping to status and JSON;
//!   [`outcome`] — cache and upstream outcomes as log, header and metric words.
//! - [`health`] — readiness; [`status`], the live page for people (`/status`).
//! - [`config`] — settings, layered and validated; [`telemetry`] (logs, and
//!   spans over OTLP) and [`metrics`]; [`trace_context`], the caller's W3C
//!   `traceparent`; [`toml_error`], a bad TOML file described without echoing it.
//! - [`sim`] — the simulated Altur API for the demo, tests and benchmarks; [`demo`].
#![forbid(unsafe_code)]

pub mod admission;
pub mod auth;
pub mod cache;
pub mod config;
pub mod demo;
pub mod error;
pub mod fetch;
pub mod flight;
#[cfg(test)]
mod fuzzing;
pub mod health;
pub mod metrics;
pub mod outcome;
pub mod proxy;
pub mod queue;
pub mod redact;
pub mod redis_conn;
pub mod reload;
pub mod request_id;
pub mod routes;
pub mod secret;
pub mod server;
pub mod sim;
pub mod status;
pub mod telemetry;
pub mod toml_error;
pub mod trace_context;
pub mod upstream;
pub mod watched;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::file::CallersFile;
use crate::config::{Backend, Settings};
use crate::proxy::Gateway;
use crate::secret::ApiKey;
use crate::webhook::WebhookSecret;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Secret(#[from] secret::SecretError),
    /// The callers file is missing, unreadable or invalid.
    #[error("{0}")]
    Callers(String),
    /// The webhook secret file is missing, unreadable or invalid.
    #[error("{0}")]
    Webhook(#[from] webhook::SecretError),
    #[error("cannot bind: {0}")]
    Bind(std::io::Error),
    /// The listen address cannot be bound: named, with the key that moves it.
    #[error(
        "cannot listen on {0}: {1}; set `listen` (ALTUR_GATEWAY__LISTEN) to an address that is free"
    )]
    Listen(std::net::SocketAddr, std::io::Error),
}

impl StartError {
    /// Exit code: 2 for configuration, secret and callers problems, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_)
            | StartError::Secret(_)
            | StartError::Callers(_)
            | StartError::Webhook(_) => 2,
            StartError::Bind(_) | StartError::Listen(..) => 1,
        }
    }
}

/// The files the gateway watches besides the key, loaded before it binds.
#[derive(Debug, Clone)]
pub struct Files {
    pub callers: Arc<CallersFile>,
    /// `webhook.secret_file`; none: `POST /webhooks/altur` is 404.
    pub webhook: Option<Arc<WebhookSecret>>,
}

/// Loads the callers file (or only the anonymous caller) and the webhook
/// secret the settings name.
///
/// # Errors
/// [`StartError::Callers`] or [`StartError::Webhook`], naming the file and
/// the problem.
pub fn load_files(settings: &Settings) -> Result<Files, StartError> {
    let c = &settings.callers;
    let callers = CallersFile::load(c.file.as_deref(), c.anonymous_scopes)
        .map(Arc::new)
        .map_err(StartError::Callers)?;
    let webhook = match &settings.webhook_secret_file {
        Some(path) => Some(Arc::new(WebhookSecret::load(path)?)),
        None => None,
    };
    Ok(Files { callers, webhook })
}

/// Builds the gateway for these settings: the one place its parts are made
/// and wired (the local budget, or the fleet's shared one in Redis with
/// `rate_limit.backend = "redis"`).
///
/// # Errors
/// A setting this build cannot honour.
pub fn build(
    settings: Settings,
    key: Arc<ApiKey>,
    files: Files,
) -> Result<Arc<Gateway>, StartError> {
    let metrics = Arc::new(metrics::Metrics::new());
    let readiness = Arc::new(health::Readiness::default());
    let rl = &settings.rate_limit;
    let backend = match rl.backend {
        Backend::Local => "local",
        Backend::Redis => "redis",
    };
    metrics
        .rate_limit_requests_per_second
        .get_or_create(&metrics::BackendLabels { backend })
        .set(i64::from(rl.requests_per_second.get()));
    let budget: Arc<dyn queue::Budget> = match (rl.backend, rl.redis_url.as_deref()) {
        (Backend::Local, _) => Arc::new(queue::LocalBudget::new(
            rl.requests_per_second.get() as usize,
            rl.window(),
        )),
        (Backend::Redis, Some(url)) => Arc::new(
            queue::RedisBudget::new(
                url,
                queue::redis_budget::RedisBudgetConfig {
                    limit: rl.requests_per_second.get() as usize,
                    window: rl.window(),
                    fallback_limit: rl.fallback_requests_per_second.get() as usize,
                    max_send_delay: settings.upstream.timeout,
                    name: queue::redis_budget::BUDGET_NAME.into(),
                },
                Arc::clone(&metrics),
                Arc::clone(&readiness),
            )
            .map_err(|reason| config::ConfigError::Invalid {
                key: "rate_limit.redis_url",
                reason,
            })?,
        ),
        // Validation already refuses this; kept so a bad state is an error, not a panic.
        (Backend::Redis, None) => {
            return Err(StartError::Config(config::ConfigError::Invalid {
                key: "rate_limit.redis_url",
                reason: "required when rate_limit.backend is \"redis\"".into(),
            }));
        }
    };
    files.callers.watch();
    Ok(Gateway::new(proxy::Parts {
        settings,
        key,
        callers: files.callers,
        webhook: files.webhook,
        budget,
        metrics,
        readiness,
    })?)
}

/// Binds the listen address.
///
/// # Errors
/// [`StartError::Listen`], naming the address and the setting that moves it.
pub async fn listen(addr: std::net::SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen(addr, e))
}

/// Serves on `listener` until `shutdown` resolves, then drains and returns.
/// Loads the callers file itself; see [`run_with`].
///
/// # Errors
/// Settings this build cannot honour.
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    key: Arc<ApiKey>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let files = load_files(&settings)?;
    run_with(listener, settings, key, files, shutdown).await
}

/// Serves on `listener` with the given files until `shutdown` resolves,
/// then drains and returns.
///
/// # Errors
/// Settings this build cannot honour.
pub async fn run_with(
    listener: TcpListener,
    settings: Settings,
    key: Arc<ApiKey>,
    files: Files,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let limits = server::Limits::from_settings(&settings.server);
    // Every file the gateway watches, which SIGHUP re-reads at once.
    let mut watched: Vec<Arc<dyn reload::Watched>> = vec![
        Arc::clone(&key) as Arc<dyn reload::Watched>,
        Arc::clone(&files.callers) as Arc<dyn reload::Watched>,
    ];
    if let Some(secret) = &files.webhook {
        watched.push(Arc::clone(secret) as Arc<dyn reload::Watched>);
    }
    let gateway = build(settings, key, files)?;
    let _sighup = reload::on_sighup(reload::Reloader::new(watched));
    server::serve(listener, gateway, limits, shutdown)
        .await
        .map_err(StartError::Bind)
}
