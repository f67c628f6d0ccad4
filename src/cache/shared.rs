//! The second-level cache shared by replicas (`cache.redis_url`), and the
//! cross-replica fetch lock.
//!
//! moka stays the first level. An entry stored after an upstream fetch is
//! also written here as a hash (`stored-at`, fresh and stale durations,
//! status, content type, body) under `altur-gateway:v1:cache:/campaigns/{id}`,
//! expiring with its stale window. Stored-at is in Redis's clock (`TIME` in
//! the write script, minus the entry's local age), and a read returns Redis's
//! now with the entry, so the age a replica computes does not depend on any
//! replica's clock; the entry it rebuilds keeps the original stored-at, so
//! `Age` and the remaining TTL stay right.
//!
//! The lock (`altur-gateway:v1:lock:/campaigns/{id}`, `SET NX PX` with a
//! random token, released by compare-and-delete, extended by its holder while
//! it works) makes one replica fetch a key at a time; a crashed holder's lock
//! expires after [`LOCK_TTL`].
//!
//! A write's invalidation (`invalidation.rs`) records, per group, the Redis
//! time it happened; an entry sent before it is neither served nor stored
//! here, and every replica drops the group from its memory on the message
//! the invalidation publishes.
//!
//! What is read back is checked like input ([`reply`]): an entry no replica
//! could have written (a status other than 200/404, a stored-at after Redis's
//! now) is a miss, and one claiming longer freshness than this replica's
//! policy allows for the route is kept only that long; a lock without a TTL,
//! or a longer one than [`LOCK_TTL`], is cut back to it by the first replica
//! that finds it taken; a key of the wrong type is a miss, then replaced.
//!
//! Redis trouble is never an error here: a failed read is a miss, a failed
//! lock means "fetch it yourself", a failed write is dropped. After a failure
//! the cache is skipped (one warning) until a background probe gets an answer
//! from Redis again (100 ms doubling to 1 s), so that a dead Redis does not
//! cost every miss a timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tokio::time::Instant;

use super::{CacheKey, Entry, Policy};
use crate::redis_conn::{self, KEY_PREFIX, RedisFailure};

mod invalidation;
mod reply;

pub use invalidation::Invalidations;

/// A fetch lock lives this long unless its holder extends it.
pub const LOCK_TTL: Duration = Duration::from_secs(3);
/// Probes of an unreachable shared cache back off from this...
const PROBE_MIN: Duration = Duration::from_millis(100);
/// ...to this.
const PROBE_MAX: Duration = Duration::from_secs(1);

/// `{now_us, stored_at_us, fresh_ms, stale_ms, status, content_type, body}`,
/// or nil when absent or sent before its group's last invalidation (KEYS[2]).
const GET: &str = r"
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return false end
local v = redis.call('HMGET', KEYS[1], 's', 'f', 'x', 'c', 't', 'b')
if not v[1] or not v[6] then return false end
local inv = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if (tonumber(v[1]) or 0) <= inv then return false end
local t = redis.call('TIME')
return {tonumber(t[1]) * 1000000 + tonumber(t[2]), v[1], v[2], v[3], v[4], v[5] or '', v[6]}
";

/// Stores unless a newer entry is there (one "stored" after Redis's now is
/// no entry of ours: it is replaced), or the entry's request was sent before
/// its group's last invalidation (KEYS[2]). ARGV: age_us (since the send),
/// fresh_ms, stale_ms, status, content_type, body.
const PUT: &str = r"
local function i(x) return string.format('%d', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local age = tonumber(ARGV[1])
local stored = now - age
local cur = 0
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  cur = tonumber(redis.call('HGET', KEYS[1], 's') or '0') or 0
end
if cur >= stored and cur <= now then return 0 end
local inv = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if stored <= inv then return 0 end
local left = tonumber(ARGV[2]) + tonumber(ARGV[3]) - math.floor(age / 1000)
if left <= 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', i(stored), 'f', ARGV[2], 'x', ARGV[3], 'c', ARGV[4], 't', ARGV[5], 'b', ARGV[6])
redis.call('PEXPIRE', KEYS[1], i(left))
return 1
";

/// Takes the lock (1), or finds it held (0); a held lock with no TTL or a
/// longer one than ours was not set by a replica, and is cut back to ours so
/// that it cannot stall every replica's fetch of the key. ARGV: token, ttl_ms.
const LOCK: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local left = redis.call('PTTL', KEYS[1])
if left == -1 or left > tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// Compare-and-delete: only the holder's token releases the lock.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Compare-and-extend.
const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// A shared-cache read.
#[derive(Debug, Clone)]
pub enum SharedLookup {
    Fresh(Entry),
    /// Past its TTL, within its stale-if-error window.
    Stale(Entry),
    /// Not there, or Redis is unreachable.
    Miss,
}

/// The outcome of trying to take a key's fetch lock.
#[derive(Debug)]
pub enum LockAttempt {
    Acquired(FetchLock),
    /// Another replica fetches this key.
    Held,
    /// Redis is unreachable: fetch without a lock.
    Unavailable,
}

/// A held fetch lock; give it back with [`SharedCache::unlock`].
#[derive(Debug)]
pub struct FetchLock {
    key: String,
    token: String,
}

/// The shared second-level cache.
pub struct SharedCache {
    conn: ConnectionManager,
    invalidations: Arc<Invalidations>,
    /// False from a failure until a probe gets an answer: Redis is skipped.
    up: Arc<AtomicBool>,
    tokens: AtomicU64,
    token_prefix: String,
    get: Script,
    put: Script,
    lock: Script,
    unlock: Script,
    extend: Script,
}

impl std::fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the connection: its URL may hold a password.
        f.debug_struct("SharedCache").finish_non_exhaustive()
    }
}

fn entry_key(key: &CacheKey) -> String {
    format!("{KEY_PREFIX}:cache:{key}")
}

fn lock_key(key: &CacheKey) -> String {
    format!("{KEY_PREFIX}:lock:{key}")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SharedCache {
    /// Connects lazily.
    ///
    /// # Errors
    /// A Redis URL the client cannot use.
    /// Connects lazily. `keep`: the longest a shared entry can live, and so
    /// how long an invalidation must be remembered.
    pub fn new(url: &str, keep: Duration) -> Result<SharedCache, String> {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let me = format!("{:016x}", h.finish());
        Ok(SharedCache {
            conn: redis_conn::connect(url)?,
            invalidations: Arc::new(Invalidations::new(url, me, keep)?),
            up: Arc::new(AtomicBool::new(true)),
            tokens: AtomicU64::new(1),
            token_prefix: format!("{:016x}", h.finish()),
            get: Script::new(GET),
            put: Script::new(PUT),
            lock: Script::new(LOCK),
            unlock: Script::new(UNLOCK),
            extend: Script::new(EXTEND),
        })
    }

    fn failed(&self, what: &'static str, e: &RedisFailure) {
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(error = %e, op = what, "shared cache unreachable: treating it as a miss");
            tokio::spawn(probe(self.conn.clone(), Arc::clone(&self.up)));
        }
    }

    async fn run<T>(
        &self,
        what: &'static str,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        if !self.up.load(Ordering::Acquire) {
            return None;
        }
        match redis_conn::op(fut).await {
            Ok(v) => Some(v),
            Err(e) => {
                self.failed(what, &e);
                None
            }
        }
    }

    /// The entry for `key`, rebuilt with its original stored-at, within what
    /// `policy` (the route's) allows.
    pub async fn get(&self, key: &CacheKey, policy: &Policy) -> SharedLookup {
        let mut conn = self.conn.clone();
        let mut inv = self.get.key(entry_key(key));
        inv.key(invalidation::group_key(key.path()));
        let Some(value) = self
            .run::<redis::Value>("get", inv.invoke_async(&mut conn))
            .await
        else {
            return SharedLookup::Miss;
        };
        let Some(stored) = reply::entry(&value, policy) else {
            return SharedLookup::Miss;
        };
        let now = Instant::now();
        let Some(stored_at) = now.checked_sub(stored.age) else {
            return SharedLookup::Miss;
        };
        // Epoch and list cell are set when it is kept in the first level.
        let entry = Entry::new(
            stored.status,
            stored.content_type.as_ref(),
            stored.body,
            stored_at,
            stored.fresh,
            stored.stale,
            0,
            None,
        );
        if now < entry.fresh_until() {
            SharedLookup::Fresh(entry)
        } else if now < entry.stale_until() {
            SharedLookup::Stale(entry)
        } else {
            SharedLookup::Miss
        }
    }

    /// Writes a stored entry for the other replicas (keeping a newer one).
    pub async fn put(&self, key: &CacheKey, entry: &Entry) {
        let now = Instant::now();
        let age = now.saturating_duration_since(entry.stored_at);
        let fresh = entry
            .fresh_until()
            .saturating_duration_since(entry.stored_at);
        let stale = entry
            .stale_until()
            .saturating_duration_since(entry.fresh_until());
        let ct = entry
            .content_type()
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        let mut conn = self.conn.clone();
        let mut inv = self.put.key(entry_key(key));
        inv.key(invalidation::group_key(key.path()))
            .arg(u64::try_from(age.as_micros()).unwrap_or(u64::MAX))
            .arg(millis(fresh))
            .arg(millis(stale))
            .arg(entry.status.as_u16())
            .arg(ct)
            .arg(entry.body.as_ref());
        let _ = self.run::<i64>("put", inv.invoke_async(&mut conn)).await;
    }

    /// Drops `groups` from the shared cache and tells every replica to drop
    /// them from its memory. False when Redis could not be told.
    pub async fn invalidate(&self, groups: &[String]) -> bool {
        if groups.is_empty() {
            return true;
        }
        let mut conn = self.conn.clone();
        let inv = self.invalidations.invocation(groups);
        self.run::<i64>("invalidate", inv.invoke_async(&mut conn))
            .await
            .is_some()
    }

    /// Hands other replicas' invalidations to `drop` (and, after a lost
    /// subscription, everything to `drop_all`) for as long as the gateway runs.
    pub fn listen(
        &self,
        drop: impl Fn(&[String]) + Send + Sync + 'static,
        drop_all: impl Fn() + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        self.invalidations.listen(drop, drop_all)
    }

    /// Tries to take the fetch lock for `key`.
    pub async fn try_lock(&self, key: &CacheKey) -> LockAttempt {
        let n = self.tokens.fetch_add(1, Ordering::Relaxed);
        let lock = FetchLock {
            key: lock_key(key),
            token: format!("{}-{n}", self.token_prefix),
        };
        let mut conn = self.conn.clone();
        let mut inv = self.lock.key(&lock.key);
        inv.arg(&lock.token).arg(millis(LOCK_TTL));
        let answer = self
            .run::<redis::Value>("lock", inv.invoke_async(&mut conn))
            .await;
        match answer.as_ref().and_then(reply::locked) {
            Some(true) => LockAttempt::Acquired(lock),
            Some(false) => LockAttempt::Held,
            None => LockAttempt::Unavailable,
        }
    }

    /// Extends a held lock by [`LOCK_TTL`]; false if it is no longer ours.
    pub async fn extend(&self, lock: &FetchLock) -> bool {
        let mut conn = self.conn.clone();
        let mut inv = self.extend.key(&lock.key);
        inv.arg(&lock.token).arg(millis(LOCK_TTL));
        self.run::<i64>("extend", inv.invoke_async(&mut conn))
            .await
            .is_some_and(|n| n == 1)
    }

    /// Gives a lock back (only if it is still ours).
    pub async fn unlock(&self, lock: FetchLock) {
        let mut conn = self.conn.clone();
        let mut inv = self.unlock.key(&lock.key);
        inv.arg(&lock.token);
        let _ = self.run::<i64>("unlock", inv.invoke_async(&mut conn)).await;
    }
}

/// Pings until Redis answers, then lets the cache be used again.
async fn probe(mut conn: ConnectionManager, up: Arc<AtomicBool>) {
    let mut delay = PROBE_MIN;
    loop {
        tokio::time::sleep(delay).await;
        let pong: Result<String, _> =
            redis_conn::op(redis::cmd("PING").query_async(&mut conn)).await;
        if pong.is_ok() {
            up.store(true, Ordering::Release);
            tracing::info!("shared cache reachable again");
            return;
        }
        delay = (delay * 2).min(PROBE_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_for(path: &str) -> CacheKey {
        match crate::routes::route_target(&http::Method::GET, path, None) {
            Ok(crate::routes::Routed::Api(m)) => CacheKey::new(&m.target),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn the_redis_key_strings_are_the_ones_deployed_replicas_use() {
        // Pinned: replicas of two versions must find each other's entries and
        // locks during a rolling deploy.
        let seven = key_for("/api/v1.0/campaigns/007");
        assert_eq!(entry_key(&seven), "altur-gateway:v1:cache:/campaigns/7");
        assert_eq!(lock_key(&seven), "altur-gateway:v1:lock:/campaigns/7");
        assert_eq!(
            entry_key(&key_for("/api/v1.0/campaigns/9223372036854775807")),
            "altur-gateway:v1:cache:/campaigns/9223372036854775807"
        );
    }
}
