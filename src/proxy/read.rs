//! The read pipeline as a caller sees it: a read that missed the fresh
//! cache joins or leads its key's flight and is answered with what it
//! brought, or with a stale entry if upstream failed or the queue refused.
//! [`super::refresh`] answers from the cache at once and keeps it fresh;
//! [`super::lead`] is the flight's own work.

use super::access::tag;
use super::respond::{entry_response, error_with_status};
use super::{Body, Gateway};
use crate::auth::callers::Caller;
use crate::cache::{CacheKey, Entry, Lookup};
use crate::error::{GatewayError, UpstreamError};
use crate::fetch::{LaneCell, Who};
use crate::metrics::Refused;
use crate::outcome::CacheStatus;
use crate::routes::RouteId;
use http::{Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// What one upstream fetch produced, shared by every caller of the flight.
#[derive(Debug)]
pub(super) enum Outcome {
    /// An upstream answer, relayed as it came.
    Response {
        entry: Arc<Entry>,
        stored: bool,
        /// Taken from the shared cache, not from upstream.
        shared: bool,
        waited: Duration,
    },
    /// No usable answer.
    Failed {
        error: UpstreamError,
        waited: Duration,
    },
}

impl Outcome {
    /// The status of the upstream answer this outcome was made from (for
    /// the access line): none for the shared cache or no answer at all.
    pub(super) fn upstream_status(&self) -> Option<u16> {
        match self {
            Outcome::Response { shared: true, .. } => None,
            Outcome::Response { entry, .. } => Some(entry.status.as_u16()),
            Outcome::Failed {
                error: UpstreamError::AuthFailed(s),
                ..
            } => Some(*s),
            Outcome::Failed { .. } => None,
        }
    }
}

impl Gateway {
    /// The response for a cache entry fresh at `now`, if there is one.
    pub(super) fn fresh(&self, key: &str, head: bool, now: Instant) -> Option<Response<Body>> {
        match self.cache.lookup(key, now) {
            Lookup::Fresh(entry) => Some(entry_response(
                &entry,
                CacheStatus::Hit,
                Some(entry.age_secs(now)),
                head,
            )),
            _ => None,
        }
    }

    /// A read that missed the fresh cache: joins or leads the key's flight,
    /// and answers with what it brought, or with a stale entry if it failed.
    pub(super) async fn read(
        self: &Arc<Self>,
        key: CacheKey,
        route: RouteId,
        head: bool,
        caller: &Caller,
    ) -> (Response<Body>, CacheStatus, Option<Duration>) {
        // Another request may have stored it since `handle` looked.
        if let Some(resp) = self.fresh(key.as_str(), head, Instant::now()) {
            return (resp, CacheStatus::Hit, None);
        }

        // A flight sent before a write changed this key's group would answer
        // with what the write changed: start a new one instead.
        let fences = &self.fences;
        let (ticket, leader, lane) = self.flights.join_unless(
            key.clone(),
            fences.now(),
            |started| fences.fenced(key.path(), started),
            || LaneCell::new(caller.lane()),
        );
        match leader {
            Some(leader) => {
                let gateway = Arc::clone(self);
                let key = key.clone();
                // The fetch holds one queue place, in the lane of the caller that started it.
                let who = Who { route, lane };
                // In the request's span: its upstream exchange is a child of it.
                let lead = async move { gateway.lead(key, route, who, leader, None).await };
                tokio::spawn(lead.in_current_span());
            }
            // A refresh still queued behind callers now has a caller waiting
            // on it: it moves to that caller's place, in its lane.
            None => {
                lane.lift(caller.lane());
            }
        }
        let collapsed = !ticket.leader;
        let outcome = ticket.wait().await.unwrap_or_else(|| {
            Arc::new(Outcome::Failed {
                error: UpstreamError::Unavailable("fetch ended without a result".into()),
                waited: Duration::ZERO,
            })
        });

        let upstream_status = outcome.upstream_status();
        let (failed_status, waited) = match &*outcome {
            Outcome::Response { entry, waited, .. } if entry.status.is_server_error() => {
                (Some(entry.status.as_u16()), *waited)
            }
            Outcome::Response { waited, .. } => (None, *waited),
            Outcome::Failed { error, waited } => (
                Some(GatewayError::from(error.clone()).status().as_u16()),
                *waited,
            ),
        };
        if let Some(fwd_status) = failed_status
            && let Some(stale) = self.stale_entry(key.as_str())
        {
            if let Outcome::Failed {
                error: UpstreamError::Busy(_),
                ..
            } = &*outcome
            {
                self.metrics.refused(&caller.name, Refused::QueueFull);
                self.metrics.stale("busy");
            } else {
                self.metrics.stale("error");
            }
            let status = CacheStatus::Stale { fwd_status };
            let age = stale.age_secs(Instant::now());
            return (
                tag(
                    entry_response(&stale, status, Some(age), head),
                    upstream_status,
                ),
                status,
                Some(waited),
            );
        }

        match &*outcome {
            Outcome::Response {
                entry,
                stored,
                shared,
                ..
            } => {
                let status = if collapsed {
                    CacheStatus::Collapsed
                } else if *shared {
                    CacheStatus::SharedHit
                } else {
                    CacheStatus::Miss { stored: *stored }
                };
                let age = stored.then(|| entry.age_secs(Instant::now()));
                (
                    tag(entry_response(entry, status, age, head), upstream_status),
                    status,
                    Some(waited),
                )
            }
            Outcome::Failed { error, .. } => {
                if let UpstreamError::Busy(_) = error {
                    self.metrics.refused(&caller.name, Refused::QueueFull);
                }
                let status = match error {
                    UpstreamError::Busy(_) => CacheStatus::Refused,
                    _ if collapsed => CacheStatus::Collapsed,
                    _ => CacheStatus::Miss { stored: false },
                };
                let resp = error_with_status(&error.clone().into(), status);
                (tag(resp, upstream_status), status, Some(waited))
            }
        }
    }

    /// A 200 entry still within its stale-if-error window (or fresh again,
    /// if another flight just stored one).
    fn stale_entry(&self, key: &str) -> Option<Arc<Entry>> {
        match self.cache.lookup(key, Instant::now()) {
            Lookup::Fresh(e) | Lookup::Stale(e) if e.status == StatusCode::OK => Some(e),
            _ => None,
        }
    }
}
