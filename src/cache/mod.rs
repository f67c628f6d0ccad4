//! The response cache: moka, bounded by bytes, with per-entry freshness and a
//! stale-if-error window; what a write changed is dropped ([`invalidate`]).
//!
//! Freshness is judged with tokio's clock (so tests can pause it); moka's own
//! expiry only evicts entries once even their stale window is over. An
//! entry's age counts from when its request was sent.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

mod entry;
pub mod invalidate;
pub mod key;
pub mod policy;
pub mod shared;

pub use entry::{Entry, Heat, Sent};
pub use invalidate::Fences;
pub use key::CacheKey;
pub use policy::{NoStore, Policy};

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
    fences: Arc<Fences>,
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
        Some(
            value
                .stale_until()
                .saturating_duration_since(Instant::now()),
        )
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

/// What an entry costs the process beyond its key and body bytes, counted
/// in its weight so that `cache.max_bytes` bounds the memory the cache
/// takes, not only what it stores. Measured (`cargo run --release --example
/// cache-memory`, heap blocks as the allocator sizes them): moka's own
/// bookkeeping (7 blocks: its entry, entry info, key wrapper, deque and
/// timer-wheel nodes, hash-table bucket; 373 B), the `Arc<Entry>` (128 B),
/// the key's `Arc<str>` block (48 B for `/campaigns/{id}`) and the body's
/// shared header, made by its first clone (32 B): 581 B; plus the body's
/// rounding up to the allocator's block size, and moka's frequency sketch
/// (8 B per entry once the cache is half full). See README, Configuration:
/// `cache.max_bytes`.
pub const ENTRY_OVERHEAD_BYTES: usize = 640;

/// Bytes an entry is charged: key (the canonical upstream target), body,
/// and [`ENTRY_OVERHEAD_BYTES`].
fn weight(key: &CacheKey, entry: &Arc<Entry>) -> u32 {
    u32::try_from(key.len() + entry.body.len() + ENTRY_OVERHEAD_BYTES).unwrap_or(u32::MAX)
}

impl Cache {
    pub fn new(max_bytes: u64, fences: Arc<Fences>) -> Cache {
        let inner = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(weight)
            .expire_after(ExpireAfterStale)
            .build();
        Cache { inner, fences }
    }

    /// The entry for `key`, judged at `now`.
    pub fn lookup(&self, key: &str, now: Instant) -> Lookup {
        match self.inner.get(key) {
            Some(e) if !e.valid() => Lookup::Miss,
            Some(e) if now < e.fresh_until() => Lookup::Fresh(e),
            Some(e) if now < e.stale_until() => Lookup::Stale(e),
            _ => Lookup::Miss,
        }
    }

    /// Applies the route's policy to an upstream answer sent at `sent` and
    /// stores it if allowed (and if no invalidation of its group came after
    /// the send). Returns the entry to relay, and why it was not stored
    /// (`None`: stored).
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &self,
        key: &CacheKey,
        policy: &Policy,
        list: bool,
        sent: Sent,
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: Bytes,
        no_store: bool,
    ) -> (Arc<Entry>, Option<NoStore>) {
        let transient = |why, ct, body| (Arc::new(Entry::transient(status, ct, body)), Some(why));
        let (ttl, stale) = match policy.lifetime(status, &body, no_store) {
            Ok(l) => l,
            Err(why) => return transient(why, content_type, body),
        };
        // Own copies: the body and header arrive as slices of the upstream
        // connection's read buffer, and a slice keeps that whole buffer
        // (kilobytes) alive for as long as the entry is cached. (A common
        // content type is not copied at all: see `ContentType`.)
        let owned = Bytes::copy_from_slice(&body);
        let stored = self
            .fences
            .store_unless_fenced(key.path(), sent.epoch, list, |list_fence| {
                let entry = Arc::new(Entry::new(
                    status,
                    content_type.as_ref(),
                    owned,
                    sent.at,
                    ttl,
                    stale,
                    sent.epoch,
                    list_fence,
                ));
                self.inner.insert(key.clone(), Arc::clone(&entry));
                entry
            });
        match stored {
            Some(entry) => (entry, None),
            None => transient(NoStore::Fenced, content_type, body),
        }
    }

    /// Keeps an entry fetched by another replica (from the shared cache, read
    /// at `read`), unless the one held here is at least as recent or an
    /// invalidation came after the read. Returns the entry now held, if any.
    pub fn insert(
        &self,
        key: &CacheKey,
        list: bool,
        read: u64,
        entry: Entry,
    ) -> Option<Arc<Entry>> {
        if let Some(held) = self.inner.get(key.as_str())
            && held.valid()
            && held.stored_at >= entry.stored_at
        {
            return Some(held);
        }
        self.fences
            .store_unless_fenced(key.path(), read, list, |list_fence| {
                let entry = Arc::new(entry.fenced(read, list_fence));
                self.inner.insert(key.clone(), Arc::clone(&entry));
                entry
            })
    }

    /// Drops every entry and fences every read in flight (the invalidation
    /// channel was lost: what it missed is unknown).
    pub fn invalidate_all(&self) {
        self.fences.invalidate_all(|| self.inner.invalidate_all());
    }

    /// Drops the groups a write or webhook changed (see [`invalidate`]).
    pub fn invalidate<S: AsRef<str>>(&self, groups: &[S]) {
        self.fences
            .invalidate(groups, |group| self.inner.invalidate(group));
    }

    /// Number of entries and bytes charged, [`ENTRY_OVERHEAD_BYTES`] each
    /// included (after pending maintenance).
    pub fn usage(&self) -> (u64, u64) {
        self.inner.run_pending_tasks();
        (self.inner.entry_count(), self.inner.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_weighs_its_key_body_and_overhead() {
        let key = CacheKey::new("/campaigns/7");
        let e = Arc::new(Entry::transient(
            StatusCode::OK,
            None,
            Bytes::from_static(b"0123456789"),
        ));
        assert_eq!(weight(&key, &e) as usize, 12 + 10 + ENTRY_OVERHEAD_BYTES);
    }

    #[test]
    fn a_stored_entry_does_not_keep_the_read_buffer_alive() {
        // An upstream body arrives as a slice of the connection's read buffer.
        let json = b"{\"success\": true}";
        let mut buffer = json.to_vec();
        buffer.resize(8192, b' ');
        let buffer = Bytes::from(buffer);
        let body = buffer.slice(..json.len());
        let cache = Cache::new(1 << 20, Arc::new(Fences::new(Duration::from_secs(10))));
        let policy = Policy {
            store: true,
            ttl: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(5),
            stale_if_error: Duration::from_secs(300),
            stale_while_revalidate: Duration::from_secs(30),
            refresh_ahead: true,
        };
        let sent = Sent {
            at: Instant::now(),
            epoch: 1,
        };
        let (entry, why) = cache.store(
            &CacheKey::new("/campaigns/7"),
            &policy,
            false,
            sent,
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
