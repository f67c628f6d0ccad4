//! The response cache: moka, bounded by bytes, with per-entry freshness and a
//! stale-if-error window; what a write changed is dropped ([`invalidate`]).
//!
//! Freshness is judged with tokio's clock (so tests can pause it); moka's own
//! expiry only evicts entries once even their stale window is over. An
//! entry's age counts from when its request was sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

pub mod invalidate;
pub mod key;
pub mod policy;
pub mod shared;

pub use invalidate::Fences;
pub use key::CacheKey;
pub use policy::{NoStore, Policy};

use invalidate::ListFence;

/// When a request went out: the instant (an entry's age counts from it) and
/// the epoch (which invalidations it precedes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub at: Instant,
    pub epoch: u64,
}

/// How an entry has been read since it was stored, for refresh-ahead: a
/// read counter that stops at two (after that a hit only loads it), and
/// whether a refresh of it is under way.
#[derive(Debug, Default)]
pub struct Heat {
    reads: AtomicU8,
    refreshing: AtomicBool,
}

impl Clone for Heat {
    /// A copy of an entry starts cold.
    fn clone(&self) -> Heat {
        Heat::default()
    }
}

impl Heat {
    /// Counts a read; true once the entry has been read at least twice:
    /// callers keep reading it.
    pub fn read(&self) -> bool {
        let n = self.reads.load(Ordering::Relaxed);
        if n < 2 {
            self.reads.fetch_add(1, Ordering::Relaxed);
        }
        n >= 1
    }

    /// True for the one caller that gets to start this entry's refresh.
    pub fn claim_refresh(&self) -> bool {
        !self.refreshing.load(Ordering::Relaxed) && !self.refreshing.swap(true, Ordering::AcqRel)
    }

    /// A refresh ended without replacing the entry: the next reader may try again.
    pub fn refresh_failed(&self) {
        self.refreshing.store(false, Ordering::Release);
    }
}

/// What upstream answered, as far as the gateway keeps it.
///
/// Laid out for memory (one `Arc<Entry>` per cached answer, 104 bytes):
/// expiry as offsets from `stored_at`, the content type as a shared value
/// (see [`ContentType`]). Every field costs every entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub body: Bytes,
    /// When the request that brought it was sent.
    pub stored_at: Instant,
    /// Fresh until `stored_at` + this, then servable stale for `stale_ns`
    /// more (nanoseconds: up to 584 years, far past any TTL a setting allows).
    fresh_ns: u64,
    stale_ns: u64,
    /// The epoch of that send (see [`invalidate`]).
    pub sent_epoch: u64,
    /// A list page's shared cell: invalidating the list drops the page.
    pub list_fence: Option<ListFence>,
    content_type: Option<ContentType>,
    pub status: StatusCode,
    pub heat: Heat,
}

/// An upstream `Content-Type`, kept without a copy of its own when it is a
/// common one: Altur answers `application/json` (every cached read), and a
/// `HeaderValue` made from a static string is cloned without allocating,
/// where a copied one costs two heap blocks per entry (the copy, then the
/// shared header of its first clone).
#[derive(Debug, Clone)]
enum ContentType {
    Static(&'static HeaderValue),
    Other(Box<HeaderValue>),
}

/// Content types that cost an entry nothing.
static COMMON_CONTENT_TYPES: [HeaderValue; 4] = [
    HeaderValue::from_static("application/json"),
    HeaderValue::from_static("application/json; charset=utf-8"),
    HeaderValue::from_static("application/json;charset=utf-8"),
    HeaderValue::from_static("audio/mpeg"),
];

impl ContentType {
    fn new(v: &HeaderValue) -> ContentType {
        let b = v.as_bytes();
        match COMMON_CONTENT_TYPES.iter().find(|c| c.as_bytes() == b) {
            Some(c) => ContentType::Static(c),
            // Its own copy: a value parsed from a response shares the
            // connection's read buffer, which it would keep alive.
            None => ContentType::Other(Box::new(
                HeaderValue::from_bytes(b).unwrap_or_else(|_| HeaderValue::from_static("")),
            )),
        }
    }

    fn value(&self) -> HeaderValue {
        match self {
            ContentType::Static(v) => HeaderValue::clone(v),
            ContentType::Other(v) => HeaderValue::clone(v),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Entry {
    /// An entry stored at `stored_at`, fresh for `fresh`, then servable
    /// stale for `stale`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        status: StatusCode,
        content_type: Option<&HeaderValue>,
        body: Bytes,
        stored_at: Instant,
        fresh: Duration,
        stale: Duration,
        sent_epoch: u64,
        list_fence: Option<ListFence>,
    ) -> Entry {
        Entry {
            body,
            stored_at,
            fresh_ns: nanos(fresh),
            stale_ns: nanos(stale),
            sent_epoch,
            list_fence,
            content_type: content_type.map(ContentType::new),
            status,
            heat: Heat::default(),
        }
    }

    /// An upstream answer that is relayed but not stored.
    pub fn transient(status: StatusCode, content_type: Option<HeaderValue>, body: Bytes) -> Entry {
        let now = Instant::now();
        Entry::new(
            status,
            content_type.as_ref(),
            body,
            now,
            Duration::ZERO,
            Duration::ZERO,
            0,
            None,
        )
    }

    /// The upstream's `Content-Type`, if it sent one.
    pub fn content_type(&self) -> Option<HeaderValue> {
        self.content_type.as_ref().map(ContentType::value)
    }

    /// Fresh until then.
    pub fn fresh_until(&self) -> Instant {
        self.stored_at + Duration::from_nanos(self.fresh_ns)
    }

    /// Past this the entry may not even be served stale.
    pub fn stale_until(&self) -> Instant {
        self.fresh_until() + Duration::from_nanos(self.stale_ns)
    }

    /// Not dropped by an invalidation since it was fetched.
    pub fn valid(&self) -> bool {
        invalidate::valid(self.sent_epoch, self.list_fence.as_ref())
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
                let entry = Arc::new(Entry {
                    sent_epoch: read,
                    list_fence,
                    ..entry
                });
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
    fn an_entry_keeps_its_content_type_and_expiry_in_little_room() {
        let t = Instant::now();
        let json = HeaderValue::from_static("application/json");
        let e = Entry::new(
            StatusCode::OK,
            Some(&HeaderValue::from_bytes(b"application/json").unwrap()),
            Bytes::from_static(b"{}"),
            t,
            Duration::from_secs(30),
            Duration::from_millis(300_001),
            1,
            None,
        );
        assert_eq!(e.content_type(), Some(json));
        assert!(matches!(e.content_type, Some(ContentType::Static(_))));
        assert_eq!(e.fresh_until(), t + Duration::from_secs(30));
        assert_eq!(
            e.stale_until(),
            t + Duration::from_secs(30) + Duration::from_millis(300_001)
        );
        let html = HeaderValue::from_static("text/html; charset=x");
        let other = Entry::transient(StatusCode::BAD_GATEWAY, Some(html.clone()), Bytes::new());
        assert_eq!(other.content_type(), Some(html));
        assert_eq!(other.fresh_until(), other.stored_at);
        let none = Entry::transient(StatusCode::OK, None, Bytes::new());
        assert_eq!(none.content_type(), None);
        // Every cached answer pays for every field (see the layout note).
        assert!(
            std::mem::size_of::<Entry>() <= 104,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }

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
