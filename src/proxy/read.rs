//! The read pipeline: fresh entry -> single flight -> shared cache (and the
//! fleet's fetch lock) -> queue -> upstream -> store -> respond, or stale.

use std::sync::Arc;
use std::time::Duration;

use http::{Response, StatusCode};
use tokio::time::Instant;
use tracing::Instrument;

use super::access::tag;
use super::respond::{entry_response, error_with_status};
use super::{Body, Gateway};
use crate::auth::callers::Caller;
use crate::cache::shared::{FetchLock, LOCK_TTL, LockAttempt, SharedCache, SharedLookup};
use crate::cache::{CacheKey, Entry, Lookup};
use crate::error::{GatewayError, UpstreamError};
use crate::fetch::{Fetch, LaneCell, Retry, UpstreamRequest, Who};
use crate::flight::Leader;
use crate::metrics::Refused;
use crate::outcome::CacheStatus;
use crate::outcome::Trigger;
use crate::queue::Lane;
use crate::routes::RouteId;
use crate::telemetry::SPANS;

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

/// What the shared cache said about a key, for the flight's leader.
enum Claim {
    /// Another replica stored it: no fetch.
    Hit(Arc<Entry>),
    /// Fetch it, holding the fleet's lock when Redis could give one.
    Fetch(Option<FetchLock>),
    /// Every caller left while waiting on another replica's fetch.
    Abandoned,
}

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
                    && now + policy.ahead() >= e.fresh_until
                    && e.heat.claim_refresh()
                {
                    self.refresh(key, route, Trigger::Ahead, &e);
                }
                let resp = entry_response(&e, CacheStatus::Hit, Some(e.age_secs(now)), head);
                Some((resp, CacheStatus::Hit))
            }
            Lookup::Stale(e)
                if e.status == StatusCode::OK
                    && now < e.fresh_until + policy.stale_while_revalidate =>
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

    /// The leader task of a flight: consults the shared cache (taking the
    /// fleet's fetch lock for the key), else waits in the queue (giving the
    /// place back if every caller leaves), fetches with retries, stores,
    /// publishes, and shares what it stored.
    /// `replacing`: for a refresh, the stored-at of the entry it replaces;
    /// only something newer will do (a refresh-ahead runs while it is fresh).
    async fn lead(
        self: Arc<Self>,
        key: CacheKey,
        route: RouteId,
        who: Who,
        leader: Leader<CacheKey, Arc<Outcome>, LaneCell>,
        replacing: Option<Instant>,
    ) {
        // A flight for this key may have finished between our lookup and join.
        if let Lookup::Fresh(entry) = self.cache.lookup(key.as_str(), Instant::now())
            && replacing.is_none_or(|old| entry.stored_at > old)
        {
            leader.finish(Arc::new(Outcome::Response {
                entry,
                stored: true,
                shared: false,
                waited: Duration::ZERO,
            }));
            return;
        }
        let Some(shared) = &self.shared else {
            if let Some(outcome) = self.fetch_and_store(&key, route, &who, &leader).await {
                leader.finish(Arc::new(outcome));
            }
            return;
        };
        let lock = match self.claim(shared, &key, route, &leader, replacing).await {
            Claim::Hit(entry) => {
                leader.finish(Arc::new(Outcome::Response {
                    entry,
                    stored: true,
                    shared: true,
                    waited: Duration::ZERO,
                }));
                return;
            }
            Claim::Abandoned => return,
            Claim::Fetch(lock) => lock,
        };
        let outcome = match &lock {
            Some(lock) => {
                // Keep the lock while queueing and fetching; the holder may
                // wait up to max_wait in the queue, far past LOCK_TTL.
                let keep = async {
                    loop {
                        tokio::time::sleep(LOCK_TTL / 3).await;
                        shared.extend(lock).await;
                    }
                };
                tokio::select! {
                    o = self.fetch_and_store(&key, route, &who, &leader) => o,
                    () = keep => None,
                }
            }
            None => self.fetch_and_store(&key, route, &who, &leader).await,
        };
        let to_share = match &outcome {
            Some(Outcome::Response {
                entry,
                stored: true,
                ..
            }) => Some(Arc::clone(entry)),
            _ => None,
        };
        if let Some(outcome) = outcome {
            leader.finish(Arc::new(outcome));
        }
        // Written before the lock goes, so a replica waiting on it finds the entry.
        if let Some(entry) = to_share {
            shared.put(&key, &entry).await;
        }
        if let Some(lock) = lock {
            shared.unlock(lock).await;
        }
    }

    /// Looks in the shared cache; on a miss takes the fleet's fetch lock for
    /// `key`, or, while another replica holds it, polls for what it stores.
    async fn claim(
        &self,
        shared: &SharedCache,
        key: &CacheKey,
        route: RouteId,
        leader: &Leader<CacheKey, Arc<Outcome>, LaneCell>,
        replacing: Option<Instant>,
    ) -> Claim {
        let newer = |e: &Entry| replacing.is_none_or(|old| e.stored_at > old);
        let s = &self.settings;
        let list = route.spec().list().is_some();
        // The holder extends its lock while it works; this bounds a wait on a
        // holder that is alive but stuck.
        let deadline = Instant::now()
            + s.rate_limit.max_wait
            + s.upstream.timeout * (s.upstream.max_retries + 1)
            + LOCK_TTL;
        let mut backoff = Duration::from_millis(5);
        let mut kept_stale = false;
        loop {
            let read = self.fences.now();
            match shared.get(key).await {
                SharedLookup::Fresh(e) if newer(&e) => {
                    if let Some(held) = self.cache.insert(key, list, read, e) {
                        return Claim::Hit(held);
                    }
                }
                // Kept for stale-if-error, in case our own fetch fails.
                SharedLookup::Stale(e) if !kept_stale => {
                    kept_stale = true;
                    self.cache.insert(key, list, read, e);
                }
                _ => {}
            }
            match shared.try_lock(key).await {
                LockAttempt::Acquired(lock) => {
                    // The previous holder may have stored and unlocked just
                    // after our look.
                    let read = self.fences.now();
                    if let SharedLookup::Fresh(e) = shared.get(key).await
                        && newer(&e)
                        && let Some(held) = self.cache.insert(key, list, read, e)
                    {
                        shared.unlock(lock).await;
                        return Claim::Hit(held);
                    }
                    return Claim::Fetch(Some(lock));
                }
                LockAttempt::Unavailable => return Claim::Fetch(None),
                LockAttempt::Held => {}
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    path = key.as_str(),
                    "fetch lock held too long: fetching anyway"
                );
                return Claim::Fetch(None);
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = leader.abandoned() => return Claim::Abandoned,
            }
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }

    /// Fetches through the queue and applies the cache policy to the answer.
    /// `None` when every caller left before the request could start.
    async fn fetch_and_store(
        &self,
        key: &CacheKey,
        route: RouteId,
        who: &Who,
        leader: &Leader<CacheKey, Arc<Outcome>, LaneCell>,
    ) -> Option<Outcome> {
        let req = UpstreamRequest::get(key.as_str());
        let fetched = self
            .fetcher
            .fetch(&req, Retry::Idempotent, who, leader.abandoned())
            .await?;
        let (f, waited, sent) = match fetched {
            Fetch::Answer {
                fetched,
                waited,
                sent,
            } => (fetched, waited, sent),
            Fetch::Failed { error, waited } => return Some(Outcome::Failed { error, waited }),
        };
        let status = f.status;
        let list = route.spec().list().is_some();
        let policy = &self.policies[route as usize];
        let (entry, not_stored) = self.cache.store(
            key,
            policy,
            list,
            sent,
            f.status,
            f.content_type,
            f.body,
            f.no_store,
        );
        if let Some(why) = not_stored {
            tracing::debug!(
                path = key.as_str(),
                status = status.as_u16(),
                reason = why.as_str(),
                "not stored"
            );
        }
        Some(Outcome::Response {
            entry,
            stored: not_stored.is_none(),
            shared: false,
            waited,
        })
    }
}
