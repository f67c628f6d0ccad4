//! Making a gateway from its parts: the cache and its policies, the shared
//! cache and the fleet's invalidation listener, the queue, the upstream
//! client and the fetcher. Nothing here runs per request.

use std::sync::Arc;

use super::Gateway;
use crate::auth::{callers::Caller, file::CallersFile};
use crate::cache::shared::SharedCache;
use crate::cache::{Cache, Fences, Policy};
use crate::config::{ConfigError, Settings};
use crate::fetch::Fetcher;
use crate::health::Readiness;
use crate::metrics::Metrics;
use crate::queue::{Budget, Queue};
use crate::request_id::RequestIds;
use crate::secret::ApiKey;
use crate::trace_context::TraceIds;
use crate::upstream::Upstream;
use crate::webhook::WebhookSecret;

/// A background task that ends when its owner is dropped.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the gateway is made of; `lib::build` makes them.
pub struct Parts {
    pub settings: Settings,
    pub key: Arc<ApiKey>,
    pub callers: Arc<CallersFile>,
    pub webhook: Option<Arc<WebhookSecret>>,
    pub budget: Arc<dyn Budget>,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
}

impl Gateway {
    /// Wires the parts into a gateway.
    ///
    /// # Errors
    /// A base URL the client cannot use, or a shared cache URL Redis cannot.
    pub fn new(parts: Parts) -> Result<Arc<Gateway>, ConfigError> {
        let Parts {
            settings,
            key,
            callers,
            webhook,
            budget,
            metrics,
            readiness,
        } = parts;
        let c = &settings.cache;
        let u = &settings.upstream;
        // A request is in flight at most its attempts' timeouts.
        let fences = Arc::new(Fences::new(u.timeout * (u.max_retries + 1)));
        let cache = Cache::new(c.max_bytes, Arc::clone(&fences));
        let policies = Policy::all(c);
        // The longest a shared entry lives: how long Redis keeps an invalidation.
        let keep = policies
            .iter()
            .map(|p| p.ttl + p.stale_if_error)
            .max()
            .unwrap_or_default();
        let shared = match c.redis_url.as_deref() {
            Some(url) => {
                Some(
                    SharedCache::new(url, keep).map_err(|reason| ConfigError::Invalid {
                        key: "cache.redis_url",
                        reason,
                    })?,
                )
            }
            None => None,
        };
        // Other replicas' writes drop what they changed from this one's memory.
        let listener = shared.as_ref().map(|s| {
            let (one, all) = (cache.clone(), cache.clone());
            let (m1, m2) = (Arc::clone(&metrics), Arc::clone(&metrics));
            AbortOnDrop(s.listen(
                move |groups| {
                    one.invalidate(groups);
                    m1.invalidated("fleet");
                },
                move || {
                    all.invalidate_all();
                    m2.invalidated("lost_channel");
                },
            ))
        });
        let queue = Queue::start_with_reserve(
            budget,
            settings.rate_limit.max_wait,
            Some(metrics.queue_depth.clone()),
            settings.rate_limit.background_cap(),
        );
        let upstream = Upstream::new(
            &settings.upstream.base_url,
            Arc::clone(&key),
            settings.upstream.timeout,
        )
        .map_err(|reason| ConfigError::Invalid {
            key: "upstream.base_url",
            reason,
        })?;
        let fetcher = Fetcher::new(
            queue,
            Arc::clone(&fences),
            upstream,
            Arc::clone(&metrics),
            Arc::clone(&readiness),
            settings.upstream.max_retries,
        );
        Ok(Arc::new(Gateway {
            settings,
            cache,
            fences,
            policies,
            shared,
            flights: Arc::default(),
            fetcher,
            key,
            callers,
            webhook,
            unknown: Caller::unknown(),
            metrics,
            readiness,
            ids: RequestIds::new(),
            trace_ids: TraceIds::new(),
            _listener: listener,
        }))
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
