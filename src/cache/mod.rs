//! The response cache: moka, bounded by bytes, with per-entry freshness and a
//! stale-if-error window.
//!
//! Freshness is judged with tokio's clock (so tests can pause it); moka's own
//! expiry only evicts entries once even their stale window is over.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

pub mod key;
pub mod policy;
pub mod shared;

pub use key::CacheKey;
pub use policy::{NoStore, Policy};

/// What upstream answered, as far as the gateway keeps it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
    pub stored_at: Instant,
    pub fresh_until: Instant,
    /// Past this the entry may not even be served stale.
    pub stale_until: Instant,
}

impl Entry {
    /// An upstream answer that is relayed but not stored.
    pub fn transient(status: StatusCode, content_type: Option<HeaderValue>, body: Bytes) -> Entry {
        let now = Instant::now();
        Entry {
            status,
            content_type,
            body,
            stored_at: now,
            fresh_until: now,
            stale_until: now,
        }
    }

    /// Whole seconds since the entry was stored, for `Age`.
    pub fn age_secs(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.stored_at).as_secs()
    }
}

/// A cache lookup.
#[derive(Debug, Clone)]
pub enum Lookup {
    Fresh(Arc<Entry>),
    /// Expired, but within the stale-if-error window.
    Stale(Arc<Entry>),
    Miss,
}

#[derive(Clone)]
pub struct Cache {
    inner: moka::sync::Cache<CacheKey, Arc<Entry>>,
}

struct ExpireAfterStale;

impl moka::Expiry<CacheKey, Arc<Entry>> for ExpireAfterStale {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Arc<Entry>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        // From now, not from stored-at: an entry from the shared cache arrives
        // already aged. (tokio's clock, like the entries, so paused tests agree.)
        Some(value.stale_until.saturating_duration_since(Instant::now()))
    }

    fn expire_after_update(
        &self,
        key: &CacheKey,
        value: &Arc<Entry>,
        updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, value, updated_at)
    }
}

/// Bytes an entry is charged: key (the canonical upstream target) plus body.
fn weight(key: &CacheKey, entry: &Arc<Entry>) -> u32 {
    u32::try_from(key.len() + entry.body.len()).unwrap_or(u32::MAX)
}

impl Cache {
    pub fn new(max_bytes: u64) -> Cache {
        let inner = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(weight)
            .expire_after(ExpireAfterStale)
            .build();
        Cache { inner }
    }

    /// The entry for `key`, judged at `now`.
    pub fn lookup(&self, key: &str, now: Instant) -> Lookup {
        match self.inner.get(key) {
            Some(e) if now < e.fresh_until => Lookup::Fresh(e),
            Some(e) if now < e.stale_until => Lookup::Stale(e),
            _ => Lookup::Miss,
        }
    }

    /// Applies the route's policy to an upstream answer and stores it if
    /// allowed. Returns the entry to relay, and why it was not stored
    /// (`None`: stored).
    pub fn store(
        &self,
        key: &CacheKey,
        policy: &Policy,
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: Bytes,
        no_store: bool,
    ) -> (Arc<Entry>, Option<NoStore>) {
        let now = Instant::now();
        let (ttl, stale) = match policy.lifetime(status, &body, no_store) {
            Ok(l) => l,
            Err(why) => {
                return (
                    Arc::new(Entry::transient(status, content_type, body)),
                    Some(why),
                );
            }
        };
        // Own copies: the body and header arrive as slices of the upstream
        // connection's read buffer, and a slice keeps that whole buffer
        // (kilobytes) alive for as long as the entry is cached.
        let content_type = content_type.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
        let entry = Arc::new(Entry {
            status,
            content_type,
            body: Bytes::copy_from_slice(&body),
            stored_at: now,
            fresh_until: now + ttl,
            stale_until: now + ttl + stale,
        });
        self.inner.insert(key.clone(), Arc::clone(&entry));
        (entry, None)
    }

    /// Keeps an entry fetched by another replica (from the shared cache),
    /// unless the one held here is at least as recent. Returns the entry now held.
    pub fn insert(&self, key: &CacheKey, entry: Arc<Entry>) -> Arc<Entry> {
        match self.inner.get(key.as_str()) {
            Some(held) if held.stored_at >= entry.stored_at => held,
            _ => {
                self.inner.insert(key.clone(), Arc::clone(&entry));
                entry
            }
        }
    }

    /// Number of entries and bytes charged (after pending maintenance).
    pub fn usage(&self) -> (u64, u64) {
        self.inner.run_pending_tasks();
        (self.inner.entry_count(), self.inner.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_entry_does_not_keep_the_read_buffer_alive() {
        // An upstream body arrives as a slice of the connection's read buffer.
        let json = b"{\"success\": true}";
        let mut buffer = json.to_vec();
        buffer.resize(8192, b' ');
        let buffer = Bytes::from(buffer);
        let body = buffer.slice(..json.len());
        let cache = Cache::new(1 << 20);
        let policy = Policy {
            store: true,
            ttl: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(5),
            stale_if_error: Duration::from_secs(300),
        };
        let (entry, why) = cache.store(
            &CacheKey::new("/campaigns/7"),
            &policy,
            StatusCode::OK,
            Some(HeaderValue::from_static("application/json")),
            body,
            false,
        );
        assert_eq!(why, None);
        assert_eq!(&entry.body[..], json);
        let start = buffer.as_ptr() as usize;
        let at = entry.body.as_ptr() as usize;
        assert!(
            !(start..start + buffer.len()).contains(&at),
            "the stored body still points into the read buffer"
        );
    }
}
