//! One cached answer ([`Entry`]), laid out for memory, with what
//! refresh-ahead needs to know of how it is read ([`Heat`]) and when its
//! request was sent ([`Sent`]).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

use super::invalidate::{self, ListFence};

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

    /// The entry as kept: with the epoch of its request and, for a list
    /// page, its list's fence (see [`invalidate`]).
    pub(super) fn fenced(self, sent_epoch: u64, list_fence: Option<ListFence>) -> Entry {
        Entry {
            sent_epoch,
            list_fence,
            ..self
        }
    }

    /// Whole seconds since the entry was stored, for `Age`.
    pub fn age_secs(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.stored_at).as_secs()
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
}
