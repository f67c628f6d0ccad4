//! Answering from the cache at once, and keeping it fresh: a fresh entry is
//! a hit (refreshed ahead of its expiry when callers keep reading it); one
//! within its stale-while-revalidate window is answered and refreshed in the
//! background, behind every caller and off the reserve.

use super::read::Outcome;
use super::respond::entry_response;
use super::{Body, Gateway};
use crate::cache::{CacheKey, Entry, Lookup};
use crate::error::UpstreamError;
use crate::fetch::{LaneCell, Who};
use crate::outcome::CacheStatus;
use crate::outcome::Trigger;
use crate::queue::Lane;
use crate::routes::RouteId;
use crate::telemetry::SPANS;
use http::{Response, StatusCode};
use std::sync::Arc;
use tokio::time::Instant;
use tracing::Instrument;

impl Gateway {
    /// The answer from the cache at once, if it has one to give: a fresh
    /// entry (refreshed ahead of its expiry when callers keep reading it), or
    /// one within its stale-while-revalidate window (refreshed now, in the
    /// background). `None`: the read must wait for upstream.
    pub(super) fn quick(
        self: &Arc<Self>,
        key: &str,
        route: RouteId,
        head: bool,
        now: Instant,
    ) -> Option<(Response<Body>, CacheStatus)> {
        let policy = &self.policies[route as usize];
        match self.cache.lookup(key, now) {
            Lookup::Fresh(e) => {
                let hot = e.heat.read();
                if policy.refresh_ahead
                    && hot
                    && now + policy.ahead() >= e.fresh_until()
                    && e.heat.claim_refresh()
                {
                    self.refresh(key, route, Trigger::Ahead, &e);
                }
                let resp = entry_response(&e, CacheStatus::Hit, Some(e.age_secs(now)), head);
                Some((resp, CacheStatus::Hit))
            }
            Lookup::Stale(e)
                if e.status == StatusCode::OK
                    && now < e.fresh_until() + policy.stale_while_revalidate =>
            {
                if e.heat.claim_refresh() {
                    self.refresh(key, route, Trigger::Revalidate, &e);
                }
                self.metrics.stale("revalidate");
                let status = CacheStatus::Revalidating;
                Some((
                    entry_response(&e, status, Some(e.age_secs(now)), head),
                    status,
                ))
            }
            _ => None,
        }
    }

    /// Refreshes `key` in the background (one flight per key; fleet-wide
    /// with the shared cache's lock). It queues behind every caller and off
    /// the reserve, unless a caller joins it; if it fails, `entry` stays as
    /// it was and the next reader may try again.
    fn refresh(self: &Arc<Self>, key: &str, route: RouteId, trigger: Trigger, entry: &Arc<Entry>) {
        let key = CacheKey::new(key);
        let fences = &self.fences;
        let (ticket, leader, lane) = self.flights.join_unless(
            key.clone(),
            fences.now(),
            |started| fences.fenced(key.path(), started),
            || LaneCell::new(Lane::background()),
        );
        let Some(leader) = leader else {
            // A fetch of this key is under way already.
            entry.heat.refresh_failed();
            return;
        };
        let gateway = Arc::clone(self);
        let entry = Arc::clone(entry);
        // Its own trace: no caller waits on it.
        let span = tracing::info_span!(
            target: SPANS,
            parent: None,
            "refresh",
            otel.name = "background refresh",
            http.route = route.as_str(),
            altur.trigger = trigger.as_str(),
        );
        let refresh = async move {
            let who = Who { route, lane };
            let path = key.clone();
            // The ticket is held throughout: nobody else may be waiting, and a
            // flight nobody waits for would give up its place.
            let replacing = Some(entry.stored_at);
            Arc::clone(&gateway)
                .lead(key, route, who, leader, replacing)
                .await;
            let result = match ticket.wait().await.as_deref() {
                Some(Outcome::Response { stored: true, .. }) => "stored",
                Some(Outcome::Response { .. }) => "not_stored",
                Some(Outcome::Failed {
                    error: UpstreamError::Busy(_),
                    ..
                }) => "refused",
                _ => "failed",
            };
            if result != "stored" {
                entry.heat.refresh_failed();
            }
            gateway.metrics.refreshed(trigger.as_str(), result);
            tracing::debug!(
                path = path.as_str(),
                trigger = trigger.as_str(),
                result,
                "background refresh"
            );
        };
        tokio::spawn(refresh.instrument(span));
    }
}
