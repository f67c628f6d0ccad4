//! The Prometheus registry (prometheus-client) and the gateway's metrics.
//!
//! Names and labels are part of the operator contract; the README lists them.
//! Label values come from the route table, the callers file and fixed
//! vocabularies only, so cardinality stays bounded. A cache hit costs one
//! atomic add and one histogram observation: its counter is resolved once
//! per caller and route, its duration histogram once per route.
//! [`process`]: the conventional `process_*` metrics (Linux).

use std::sync::OnceLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

mod labels;
#[cfg(target_os = "linux")]
pub mod process;
mod record;
pub mod starts;

pub use labels::*;

const WAIT_BUCKETS: [f64; 11] = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Downstream latency: hits take tens of microseconds, misses up to the
/// queue wait plus the upstream timeout.
const DURATION_BUCKETS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Metrics under their conventional names, without our prefix (`process_*`).
    unprefixed: Registry,
    pub request_duration: Family<DurationLabels, Histogram, fn() -> Histogram>,
    /// The 200-hit duration histogram of each route (`RouteId as usize`),
    /// resolved on the first hit.
    hit_durations: OnceLock<Box<[Histogram]>>,
    pub requests: Family<RequestLabels, Counter>,
    pub upstream_requests: Family<UpstreamLabels, Counter>,
    pub upstream_starts: Family<StartLabels, Counter>,
    pub refusals: Family<RefusalLabels, Counter>,
    pub upstream_duration: Histogram,
    pub queue_wait: Histogram,
    pub caller_queue_wait: Family<CallerLabels, Histogram, fn() -> Histogram>,
    pub queue_depth: Gauge,
    pub caller_queue_depth: Family<CallerLabels, Gauge>,
    pub rate_limit_pauses: Counter,
    pub cache_entries: Gauge,
    pub cache_bytes: Gauge,
    pub stale_served: Family<KindLabels, Counter>,
    pub background_refreshes: Family<RefreshLabels, Counter>,
    pub invalidations: Family<CauseLabels, Counter>,
    pub webhooks: Family<WebhookLabels, Counter>,
    pub rate_limit_fallback: Gauge,
    pub key_reload_failures: Counter,
    pub callers: Gauge,
    pub callers_reload_failures: Counter,
    /// 1 while Altur rejects the key (401/403); set at scrape time.
    pub upstream_auth_failing: Gauge,
    /// `rate_limit.requests_per_second`, labelled with the backend.
    pub rate_limit_requests_per_second: Family<BackendLabels, Gauge>,
    /// Upstream starts per second, the last two minutes (the status page).
    pub starts: starts::StartsRing,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers a metric (a clone shares its value) and returns it.
fn reg<M>(r: &mut Registry, name: &str, help: &str, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    r.register(name, help, metric.clone());
    metric
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("altur_gateway");
        let gauge = |r: &mut Registry, name: &str, help: &str| reg(r, name, help, Gauge::default());
        let counter =
            |r: &mut Registry, name: &str, help: &str| reg(r, name, help, Counter::default());
        let requests = reg(
            &mut r,
            "requests",
            "Downstream requests by route, status, cache outcome and caller",
            Family::<RequestLabels, Counter>::default(),
        );
        let upstream_requests = reg(
            &mut r,
            "upstream_requests",
            "Upstream requests started, by upstream status (or error, timeout)",
            Family::<UpstreamLabels, Counter>::default(),
        );
        let upstream_starts = reg(
            &mut r,
            "upstream_starts",
            "Upstream requests started, by route and by the caller whose request spent the budget",
            Family::<StartLabels, Counter>::default(),
        );
        let refusals = reg(
            &mut r,
            "refusals",
            "Requests refused, by caller and reason (queue_full, caller_rate_limited, unauthenticated, forbidden)",
            Family::<RefusalLabels, Counter>::default(),
        );
        let upstream_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]);
        r.register(
            "upstream_duration_seconds",
            "Upstream exchange latency (request sent to body read)",
            upstream_duration.clone(),
        );
        let queue_wait = Histogram::new(WAIT_BUCKETS);
        r.register(
            "queue_wait_seconds",
            "Time an upstream request waited in the shared queue",
            queue_wait.clone(),
        );
        let caller_queue_wait = reg(
            &mut r,
            "caller_queue_wait_seconds",
            "Time an upstream request waited in the shared queue, by caller",
            Family::<CallerLabels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
                Histogram::new(WAIT_BUCKETS)
            }),
        );
        let queue_depth = gauge(
            &mut r,
            "queue_depth",
            "Requests waiting in the shared queue",
        );
        let caller_queue_depth = reg(
            &mut r,
            "caller_queue_depth",
            "Requests waiting in the shared queue, by caller",
            Family::<CallerLabels, Gauge>::default(),
        );
        let rate_limit_pauses = counter(
            &mut r,
            "rate_limit_pauses",
            "Queue pauses caused by an upstream 429",
        );
        let cache_entries = gauge(&mut r, "cache_entries", "Entries in the cache");
        let cache_bytes = gauge(
            &mut r,
            "cache_bytes",
            "Bytes charged to the cache: key, body and a fixed per-entry overhead (the unit of cache.max_bytes)",
        );
        let stale_served = reg(
            &mut r,
            "stale_served",
            "Responses served from an expired entry, by kind: revalidate (within stale-while-revalidate, refreshed in the background), error (upstream failed), busy (the queue was full)",
            Family::<KindLabels, Counter>::default(),
        );
        // Every kind exported from the start: an alert's rate() needs the series.
        for kind in ["revalidate", "error", "busy"] {
            let _ = stale_served.get_or_create(&KindLabels { kind });
        }
        let background_refreshes = reg(
            &mut r,
            "background_refreshes",
            "Background refreshes by trigger (revalidate, ahead) and result (stored, not_stored, failed, refused)",
            Family::<RefreshLabels, Counter>::default(),
        );
        let invalidations = reg(
            &mut r,
            "invalidations",
            "Cache invalidations by cause (write, webhook, fleet: another replica's, lost_channel)",
            Family::<CauseLabels, Counter>::default(),
        );
        let webhooks = reg(
            &mut r,
            "webhooks",
            "Altur webhook deliveries by event (on_call_end, other, unknown) and result (ok, invalid_signature, invalid_json, too_large)",
            Family::<WebhookLabels, Counter>::default(),
        );
        let rate_limit_fallback = gauge(
            &mut r,
            "rate_limit_fallback",
            "1 while the shared (Redis) limiter is unreachable and the local fallback is used",
        );
        let key_reload_failures = counter(
            &mut r,
            "key_reload_failures",
            "Failed re-reads of the API key file (the last good key was kept)",
        );
        let callers = gauge(&mut r, "callers", "Callers in the callers file in force");
        let callers_reload_failures = counter(
            &mut r,
            "callers_reload_failures",
            "Failed re-reads of the callers file (the last good one was kept)",
        );
        let request_duration = reg(
            &mut r,
            "request_duration_seconds",
            "Downstream request latency, from the request head to the response, by route and cache outcome",
            Family::<DurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            ),
        );
        let build_info = reg(
            &mut r,
            "build_info",
            "1, labelled with the gateway's version and platform",
            Family::<BuildLabels, Gauge>::default(),
        );
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                arch: std::env::consts::ARCH,
                os: std::env::consts::OS,
            })
            .set(1);
        #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
        let mut unprefixed = Registry::default();
        #[cfg(target_os = "linux")]
        unprefixed.register_collector(Box::new(process::ProcessCollector));
        let upstream_auth_failing = gauge(
            &mut r,
            "upstream_auth_failing",
            "1 while Altur rejects the api key (its last answer was 401 or 403); readiness is not failed",
        );
        let rate_limit_requests_per_second = reg(
            &mut r,
            "rate_limit_requests_per_second",
            "The configured upstream budget (rate_limit.requests_per_second), by backend: local is this replica's own, redis the whole fleet's",
            Family::<BackendLabels, Gauge>::default(),
        );
        Metrics {
            registry: r,
            unprefixed,
            request_duration,
            hit_durations: OnceLock::new(),
            requests,
            upstream_requests,
            upstream_starts,
            refusals,
            upstream_duration,
            queue_wait,
            caller_queue_wait,
            queue_depth,
            caller_queue_depth,
            rate_limit_pauses,
            cache_entries,
            cache_bytes,
            stale_served,
            background_refreshes,
            invalidations,
            webhooks,
            rate_limit_fallback,
            key_reload_failures,
            callers,
            callers_reload_failures,
            upstream_auth_failing,
            rate_limit_requests_per_second,
            starts: starts::StartsRing::new(),
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        let encoded = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &self.unprefixed))
            .and_then(|()| encode_eof(&mut out));
        if let Err(e) = encoded {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}
