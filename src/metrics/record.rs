//! Recording: what the pipeline calls as a request goes, each a label
//! lookup and an add or an observation. A 200 hit's counter and histogram
//! are resolved once (per caller and route, per route) and kept.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

use super::*;
use crate::outcome::{CacheStatus, RouteLabel};
use crate::routes::RouteId;

impl Metrics {
    /// The 200-hit counters of `caller`, one per route (`RouteId as usize`),
    /// for the caller to keep: its hits then cost one atomic add.
    pub fn hit_counters(&self, caller: &Arc<str>) -> Box<[Counter]> {
        RouteId::ALL
            .iter()
            .map(|r| {
                if !r.spec().is_read() {
                    // Never a hit: a placeholder, not exported.
                    return Counter::default();
                }
                self.requests
                    .get_or_create(&RequestLabels {
                        route: r.as_str(),
                        status: 200,
                        cache: CacheStatus::Hit.as_str(),
                        caller: Arc::clone(caller),
                    })
                    .clone()
            })
            .collect()
    }

    pub fn request(&self, route: RouteLabel, caller: &Arc<str>, status: u16, cache: CacheStatus) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.as_str(),
                status,
                cache: cache.as_str(),
                caller: Arc::clone(caller),
            })
            .inc();
    }

    /// Observes one downstream request's latency. A 200 hit, the hot path,
    /// uses its route's histogram resolved once.
    pub fn request_took(&self, route: RouteLabel, status: u16, cache: CacheStatus, took: Duration) {
        let secs = took.as_secs_f64();
        if let (RouteLabel::Api(r), 200, CacheStatus::Hit) = (route, status, cache) {
            let hits = self.hit_durations.get_or_init(|| {
                RouteId::ALL
                    .iter()
                    .map(|r| {
                        if !r.spec().is_read() {
                            // Never a hit: a placeholder, not exported.
                            return duration_histogram();
                        }
                        self.request_duration
                            .get_or_create(&DurationLabels {
                                route: r.as_str(),
                                cache: CacheStatus::Hit.as_str(),
                            })
                            .clone()
                    })
                    .collect()
            });
            if let Some(h) = hits.get(r as usize) {
                h.observe(secs);
            }
            return;
        }
        self.request_duration
            .get_or_create(&DurationLabels {
                route: route.as_str(),
                cache: cache.as_str(),
            })
            .observe(secs);
    }

    pub fn upstream(&self, status: &'static str) {
        self.upstream_requests
            .get_or_create(&UpstreamLabels { status })
            .inc();
    }

    pub fn upstream_start(&self, route: RouteId, caller: &Arc<str>) {
        self.upstream_starts
            .get_or_create(&StartLabels {
                route: route.as_str(),
                caller: Arc::clone(caller),
            })
            .inc();
    }

    pub fn refused(&self, caller: &Arc<str>, why: Refused) {
        self.refusals
            .get_or_create(&RefusalLabels {
                caller: Arc::clone(caller),
                reason: why.as_str(),
            })
            .inc();
    }

    pub fn stale(&self, kind: &'static str) {
        self.stale_served.get_or_create(&KindLabels { kind }).inc();
    }

    pub fn refreshed(&self, trigger: &'static str, result: &'static str) {
        self.background_refreshes
            .get_or_create(&RefreshLabels { trigger, result })
            .inc();
    }

    pub fn webhook(&self, event: &'static str, result: &'static str) {
        self.webhooks
            .get_or_create(&WebhookLabels { event, result })
            .inc();
    }

    pub fn invalidated(&self, cause: &'static str) {
        self.invalidations
            .get_or_create(&CauseLabels { cause })
            .inc();
    }

    pub fn queue_waited(&self, caller: &Arc<str>, secs: f64) {
        self.queue_wait.observe(secs);
        self.caller_queue_wait
            .get_or_create(&CallerLabels {
                caller: Arc::clone(caller),
            })
            .observe(secs);
    }

    /// Sets the per-caller queue depth gauges (at scrape time); callers no
    /// longer waiting read 0.
    pub fn set_caller_depths(&self, depths: &[(Arc<str>, usize)]) {
        // Zero every caller seen so far, then set the ones waiting now.
        self.caller_queue_depth.clear();
        for (caller, n) in depths {
            self.caller_queue_depth
                .get_or_create(&CallerLabels {
                    caller: Arc::clone(caller),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }
}
