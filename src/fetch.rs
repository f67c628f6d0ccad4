//! One upstream request as the budget allows it: through the queue, with the
//! retry policy, the 429 pause and the status classification. What becomes of
//! the answer (stored, relayed, replaced by a stale entry) is the caller's
//! business, not this module's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::UpstreamError;
use crate::health::Readiness;
use crate::metrics::Metrics;
use crate::outcome;
use crate::queue::{Lane, Queue};
use crate::routes::RouteId;
use crate::upstream::{FetchError, Fetched, Upstream, UpstreamRequest};

/// Base of the exponential backoff between retries of a 5xx or connect error.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// What a fetch produced.
#[derive(Debug)]
pub enum Fetch {
    /// An upstream answer to relay (a 5xx whose retries were spent included).
    Answer { fetched: Fetched, waited: Duration },
    /// No usable answer.
    Failed {
        error: UpstreamError,
        waited: Duration,
    },
}

/// Whose request a fetch is: the route (for metrics) and the lane it queues
/// in (the caller that started it).
#[derive(Debug, Clone)]
pub struct Who {
    pub route: RouteId,
    pub lane: Lane,
}

/// Sends upstream requests through the shared queue.
pub struct Fetcher {
    pub queue: Queue,
    upstream: Upstream,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    max_retries: u32,
}

impl Fetcher {
    pub fn new(
        queue: Queue,
        upstream: Upstream,
        metrics: Arc<Metrics>,
        readiness: Arc<Readiness>,
        max_retries: u32,
    ) -> Fetcher {
        Fetcher {
            queue,
            upstream,
            metrics,
            readiness,
            max_retries,
        }
    }

    /// GETs `target` (a canonical target below the base URL), waiting in the
    /// queue for each attempt. Connect errors, 429s and 502-504 are retried up
    /// to `upstream.max_retries` times, each through the queue; a 429 pauses
    /// the whole queue first. `None` when `abandoned` resolved first (every
    /// caller left): the place in the queue is given back.
    pub async fn fetch(
        &self,
        target: &str,
        who: &Who,
        abandoned: impl Future<Output = ()>,
    ) -> Option<Fetch> {
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
            let grant = tokio::select! {
                g = self.queue.acquire_in(&who.lane) => g,
                () = &mut abandoned => return None,
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
                .queue_waited(&who.lane.name, grant.waited.as_secs_f64());
            let sent = Instant::now();
            let result = self
                .upstream
                .send(&UpstreamRequest::get(target), || grant.sent())
                .await;
            drop(grant);
            self.metrics.upstream_start(who.route, &who.lane.name);
            self.metrics
                .upstream_duration
                .observe(sent.elapsed().as_secs_f64());
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
                        502..=504 => {
                            tracing::warn!(path = target, status, attempt, "upstream error");
                            last = Some(Fetch::Answer { fetched: f, waited });
                            retry_delay = Some(RETRY_BACKOFF * 2u32.saturating_pow(attempt));
                        }
                        _ => {
                            last = Some(Fetch::Answer { fetched: f, waited });
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
