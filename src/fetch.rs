//! One upstream request as the budget allows it: through the queue, with the
//! retry policy, the 429 pause and the status classification. What becomes of
//! the answer (stored, relayed, replaced by a stale entry) is the caller's
//! business, not this module's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

use crate::cache::{Fences, Sent};
use crate::error::UpstreamError;
use crate::health::Readiness;
use crate::metrics::Metrics;
use crate::outcome;
use crate::queue::{Lane, Queue};
use crate::routes::RouteId;
use crate::telemetry::SPANS;
pub use crate::upstream::UpstreamRequest;
use crate::upstream::{FetchError, Fetched, Upstream};

/// Base of the exponential backoff between retries of a 5xx or connect error.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// What a fetch produced.
#[derive(Debug)]
pub enum Fetch {
    /// An upstream answer to relay (a 5xx whose retries were spent included),
    /// and when the request that got it was sent.
    Answer {
        fetched: Fetched,
        waited: Duration,
        sent: Sent,
    },
    /// No usable answer.
    Failed {
        error: UpstreamError,
        waited: Duration,
    },
}

/// When a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A read, or a write with `Idempotency-Key` (Altur answers a replay with
    /// the original response): connect failures, 429 and 502-504.
    Idempotent,
    /// A write without `Idempotency-Key`: only when upstream certainly did
    /// not act on it, i.e. nothing was sent, or it answered 429. After a
    /// timeout, a 5xx or a connection broken once the request was written,
    /// never: a second `POST /call` is a second phone call.
    OnlyIfNotActedOn,
}

/// Whose request a fetch is: the route (for metrics) and the lane it queues
/// in (the caller that started it, or the background for a refresh).
#[derive(Debug, Clone)]
pub struct Who {
    pub route: RouteId,
    pub lane: Arc<LaneCell>,
}

impl Who {
    pub fn new(route: RouteId, lane: Lane) -> Who {
        Who {
            route,
            lane: Arc::new(LaneCell::new(lane)),
        }
    }
}

/// The lane a fetch queues in, which a caller joining a background refresh
/// lifts to its own: the refresh then waits where that caller would.
#[derive(Debug)]
pub struct LaneCell {
    lane: std::sync::Mutex<Lane>,
    lifted: tokio::sync::Notify,
}

impl LaneCell {
    pub fn new(lane: Lane) -> LaneCell {
        LaneCell {
            lane: std::sync::Mutex::new(lane),
            lifted: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lane> {
        // A plain assignment: a poisoned lock still holds a valid lane.
        self.lane.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current(&self) -> Lane {
        self.lock().clone()
    }

    /// Moves a background fetch to `lane`; a caller's fetch stays where it is.
    /// True when it moved.
    pub fn lift(&self, lane: Lane) -> bool {
        let mut current = self.lock();
        if !current.is_background() || lane.is_background() {
            return false;
        }
        *current = lane;
        drop(current);
        // A stored permit: a lift between a look and a wait is not lost.
        self.lifted.notify_one();
        true
    }
}

/// Sends upstream requests through the shared queue.
pub struct Fetcher {
    pub queue: Queue,
    fences: Arc<Fences>,
    upstream: Upstream,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    max_retries: u32,
}

impl Fetcher {
    pub fn new(
        queue: Queue,
        fences: Arc<Fences>,
        upstream: Upstream,
        metrics: Arc<Metrics>,
        readiness: Arc<Readiness>,
        max_retries: u32,
    ) -> Fetcher {
        Fetcher {
            queue,
            fences,
            upstream,
            metrics,
            readiness,
            max_retries,
        }
    }

    /// Sends `req`, waiting in the queue for each attempt. A request that was
    /// not sent, and a 429, are tried again; 502-504 too when `retry` is
    /// [`Retry::Idempotent`]; each retry through the queue, up to
    /// `upstream.max_retries`, and a 429 pauses the whole queue first.
    /// `None` when `abandoned` resolved before the request went out (every
    /// caller left): the place in the queue is given back. Once sent, the
    /// exchange runs to its end whatever `abandoned` does.
    pub async fn fetch(
        &self,
        req: &UpstreamRequest,
        retry: Retry,
        who: &Who,
        abandoned: impl Future<Output = ()>,
    ) -> Option<Fetch> {
        let target: &str = &req.target;
        tokio::pin!(abandoned);
        let mut waited = Duration::ZERO;
        let mut last: Option<Fetch> = None;
        let mut retry_delay = None;
        for attempt in 0..=self.max_retries {
            if let Some(delay) = retry_delay.take() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut abandoned => return None,
                }
            }
            let (grant, lane) = loop {
                let lane = who.lane.current();
                tokio::select! {
                    g = self.queue.acquire_in(&lane) => break (g, lane),
                    // Lifted while queued as a refresh: queue again, in the
                    // caller's lane, at its place (the old place is given back).
                    () = who.lane.lifted.notified(), if lane.is_background() => {}
                    () = &mut abandoned => return None,
                }
            };
            let mut grant = match grant {
                Ok(g) => g,
                Err(full) => {
                    // Keep an upstream answer we already have over a refusal.
                    if !matches!(last, Some(Fetch::Answer { .. })) {
                        last = Some(Fetch::Failed {
                            error: UpstreamError::Busy(full.expected),
                            waited,
                        });
                    }
                    break;
                }
            };
            waited += grant.waited;
            self.metrics
                .queue_waited(&lane.name, grant.waited.as_secs_f64());
            let started = Instant::now();
            let mut sent = Sent {
                at: started,
                epoch: self.fences.now(),
            };
            // A child of the request's span (or the refresh's); disabled,
            // and free, unless spans are exported.
            let span = tracing::info_span!(
                target: SPANS,
                "upstream",
                otel.name = "upstream",
                otel.kind = "client",
                otel.status_code = Empty,
                http.request.method = req.method.as_str(),
                url.path = target,
                http.route = who.route.as_str(),
                http.response.status_code = Empty,
                error.type = Empty,
                altur.attempt = attempt,
                altur.queue_wait_ms = grant.waited.as_millis() as u64,
            );
            let result = self
                .upstream
                .send(req, || {
                    grant.sent();
                    sent = Sent {
                        at: Instant::now(),
                        epoch: self.fences.now(),
                    };
                })
                .instrument(span.clone())
                .await;
            trace_outcome(&span, &result);
            drop(grant);
            self.metrics.upstream_start(who.route, &lane.name);
            self.metrics.starts.record(started);
            self.metrics
                .upstream_duration
                .observe(started.elapsed().as_secs_f64());
            let retries_left = attempt < self.max_retries;
            match result {
                Ok(f) => {
                    let status = f.status.as_u16();
                    self.metrics.upstream(outcome::upstream_status(status));
                    self.readiness.upstream_answered(status);
                    match status {
                        429 => {
                            let pause = f.retry_after.unwrap_or(Duration::from_secs(1));
                            self.queue.pause(Instant::now() + pause).await;
                            self.metrics.rate_limit_pauses.inc();
                            tracing::warn!(
                                path = target,
                                pause_ms = pause.as_millis() as u64,
                                attempt,
                                "upstream 429: pausing the queue"
                            );
                            last = Some(Fetch::Failed {
                                error: UpstreamError::Busy(pause),
                                waited,
                            });
                        }
                        401 | 403 => {
                            tracing::error!(path = target, status, "upstream rejected the api key");
                            last = Some(Fetch::Failed {
                                error: UpstreamError::AuthFailed(status),
                                waited,
                            });
                            break;
                        }
                        502..=504 if retry == Retry::Idempotent => {
                            tracing::warn!(path = target, status, attempt, "upstream error");
                            last = Some(Fetch::Answer {
                                fetched: f,
                                waited,
                                sent,
                            });
                            retry_delay = Some(RETRY_BACKOFF * 2u32.saturating_pow(attempt));
                        }
                        _ => {
                            last = Some(Fetch::Answer {
                                fetched: f,
                                waited,
                                sent,
                            });
                            break;
                        }
                    }
                }
                Err(FetchError::Timeout) => {
                    self.metrics.upstream(outcome::UPSTREAM_TIMEOUT);
                    tracing::warn!(path = target, "upstream timeout");
                    last = Some(Fetch::Failed {
                        error: UpstreamError::Timeout,
                        waited,
                    });
                    break;
                }
                Err(FetchError::Connect(reason)) => {
                    self.metrics.upstream(outcome::UPSTREAM_ERROR);
                    tracing::warn!(path = target, error = %reason, attempt, "upstream connect failed");
                    last = Some(Fetch::Failed {
                        error: UpstreamError::Unavailable(reason),
                        waited,
                    });
                    retry_delay = Some(RETRY_BACKOFF * 2u32.saturating_pow(attempt));
                }
                Err(FetchError::Protocol(reason)) => {
                    self.metrics.upstream(outcome::UPSTREAM_ERROR);
                    tracing::warn!(path = target, error = %reason, "upstream exchange failed");
                    last = Some(Fetch::Failed {
                        error: UpstreamError::Unavailable(reason),
                        waited,
                    });
                    break;
                }
            }
            if !retries_left {
                break;
            }
        }
        Some(last.unwrap_or(Fetch::Failed {
            error: UpstreamError::Unavailable("no attempt made".into()),
            waited,
        }))
    }
}

/// The upstream exchange's outcome, on its span.
fn trace_outcome(span: &tracing::Span, result: &Result<crate::upstream::Fetched, FetchError>) {
    if span.is_disabled() {
        return;
    }
    match result {
        Ok(f) => {
            span.record("http.response.status_code", f.status.as_u16());
            if f.status.is_server_error() || f.status.as_u16() == 429 {
                span.record("otel.status_code", "error");
            }
        }
        Err(e) => {
            let kind = match e {
                FetchError::Timeout => "timeout",
                FetchError::Connect(_) => "connect",
                FetchError::Protocol(_) => "protocol",
            };
            span.record("error.type", kind);
            span.record("otel.status_code", "error");
        }
    }
}
