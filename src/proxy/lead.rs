//! A flight's leader: the shared cache first (taking the fleet's fetch lock
//! for the key), else the queue and upstream, then the store; what it got is
//! published to every caller of the flight and shared with the fleet.

use super::Gateway;
use super::read::Outcome;
use crate::cache::shared::{FetchLock, LOCK_TTL, LockAttempt, SharedCache, SharedLookup};
use crate::cache::{CacheKey, Entry, Lookup};
use crate::fetch::{Fetch, LaneCell, Retry, UpstreamRequest, Who};
use crate::flight::Leader;
use crate::routes::RouteId;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

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
    /// The leader task of a flight: consults the shared cache (taking the
    /// fleet's fetch lock for the key), else waits in the queue (giving the
    /// place back if every caller leaves), fetches with retries, stores,
    /// publishes, and shares what it stored.
    /// `replacing`: for a refresh, the stored-at of the entry it replaces;
    /// only something newer will do (a refresh-ahead runs while it is fresh).
    pub(super) async fn lead(
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
        let policy = &self.policies[route as usize];
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
            match shared.get(key, policy).await {
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
                    if let SharedLookup::Fresh(e) = shared.get(key, policy).await
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
