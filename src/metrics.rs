//! The Prometheus registry (prometheus-client) and the gateway's metrics.
//!
//! Names and labels are part of the operator contract; the README lists them.
//! The common hit counter is resolved once, so a cache hit costs one atomic add.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::outcome::{CacheStatus, RouteLabel};
use crate::routes::RouteId;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub status: u16,
    pub cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// HTTP status, or `error` / `timeout`.
    pub status: String,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    /// `requests{route=<read route>,status="200",cache="hit"}`, resolved
    /// once per route, indexed by `RouteId as usize`: a hit costs one atomic add.
    hits_ok: Vec<Counter>,
    pub upstream_requests: Family<UpstreamLabels, Counter>,
    pub upstream_duration: Histogram,
    pub queue_wait: Histogram,
    pub queue_depth: Gauge,
    pub rate_limit_pauses: Counter,
    pub cache_entries: Gauge,
    pub cache_bytes: Gauge,
    pub stale_served: Counter,
    pub rate_limit_fallback: Gauge,
    pub key_reload_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("altur_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Downstream requests by route, status and cache outcome",
            requests.clone(),
        );
        let hits_ok = RouteId::ALL
            .iter()
            .map(|r| {
                requests
                    .get_or_create(&RequestLabels {
                        route: r.as_str(),
                        status: 200,
                        cache: CacheStatus::Hit.as_str(),
                    })
                    .clone()
            })
            .collect();
        let upstream_requests = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "Upstream requests started, by upstream status (or error, timeout)",
            upstream_requests.clone(),
        );
        let buckets = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let upstream_duration = Histogram::new(buckets);
        registry.register(
            "upstream_duration_seconds",
            "Upstream exchange latency (request sent to body read)",
            upstream_duration.clone(),
        );
        let queue_wait =
            Histogram::new([0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
        registry.register(
            "queue_wait_seconds",
            "Time an upstream request waited in the shared queue",
            queue_wait.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let queue_depth = gauge(
            &mut registry,
            "queue_depth",
            "Requests waiting in the shared queue",
        );
        let rate_limit_pauses = counter(
            &mut registry,
            "rate_limit_pauses",
            "Queue pauses caused by an upstream 429",
        );
        let cache_entries = gauge(&mut registry, "cache_entries", "Entries in the cache");
        let cache_bytes = gauge(
            &mut registry,
            "cache_bytes",
            "Bytes charged to the cache (key plus body)",
        );
        let stale_served = counter(
            &mut registry,
            "stale_served",
            "Responses served stale because upstream failed or the queue was full",
        );
        let rate_limit_fallback = gauge(
            &mut registry,
            "rate_limit_fallback",
            "1 while the shared (Redis) limiter is unreachable and the local fallback is used",
        );
        let key_reload_failures = counter(
            &mut registry,
            "key_reload_failures",
            "Failed re-reads of the API key file (the last good key was kept)",
        );
        Metrics {
            registry,
            requests,
            hits_ok,
            upstream_requests,
            upstream_duration,
            queue_wait,
            queue_depth,
            rate_limit_pauses,
            cache_entries,
            cache_bytes,
            stale_served,
            rate_limit_fallback,
            key_reload_failures,
        }
    }

    pub fn request(&self, route: RouteLabel, status: u16, cache: CacheStatus) {
        if let (RouteLabel::Api(r), 200, CacheStatus::Hit) = (route, status, cache)
            && let Some(c) = self.hits_ok.get(r as usize)
        {
            c.inc();
            return;
        }
        self.requests
            .get_or_create(&RequestLabels {
                route: route.as_str(),
                status,
                cache: cache.as_str(),
            })
            .inc();
    }

    pub fn upstream(&self, status: &str) {
        self.upstream_requests
            .get_or_create(&UpstreamLabels {
                status: status.to_string(),
            })
            .inc();
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}
