//! Where a cache entry's memory goes: heap bytes per entry, by component,
//! counted exactly by a global allocator that wraps the system's (glibc
//! malloc) and asks it for each block's real size (`malloc_usable_size`,
//! plus glibc's 8-byte chunk header).
//!
//! `cargo run --release --example cache-memory -- [ENTRIES] [BODY_BYTES]`
//!
//! Steps, each measured as the growth of live heap bytes divided by ENTRIES:
//! 1. the keys (`CacheKey`, one `Arc<str>` each);
//! 2. the bodies as they arrive from upstream (the copy the cache stores is
//!    made by `Cache::store`, so this is only the input);
//! 3. `Cache::store` of every entry: the gateway's `Arc<Entry>`, its own
//!    copies of body and content type, and moka's per-entry bookkeeping
//!    (its nodes, hash table, frequency sketch), after pending maintenance;
//! 4. one hit per entry (a body clone for a response, as `entry_response`
//!    does: a `Bytes` made from a `Vec` allocates its shared header then).
//!
//! The inputs of steps 1-2 are then dropped; what stays is the cache's cost.
//! The same fill with moka alone (same builder, unit-sized values) gives
//! moka's own share. Allocator slack beyond block rounding (fragmentation,
//! freed memory kept by malloc) is not counted here: `benches/run --only
//! memory` measures RSS end to end for that.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use altur_gateway::cache::{Cache, CacheKey, Fences, Policy, Sent};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

struct Counting;

static REQUESTED: AtomicIsize = AtomicIsize::new(0);
static FOOTPRINT: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

/// glibc's chunk header, on top of the usable size.
const CHUNK_HEADER: isize = 8;

fn footprint(ptr: *mut u8) -> isize {
    // SAFETY: `ptr` was returned by the system allocator and is live.
    let usable = unsafe { libc::malloc_usable_size(ptr.cast()) };
    isize::try_from(usable).unwrap_or(isize::MAX) + CHUNK_HEADER
}

// SAFETY: every call is forwarded to `System`; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            REQUESTED.fetch_add(layout.size() as isize, Ordering::Relaxed);
            FOOTPRINT.fetch_add(footprint(p), Ordering::Relaxed);
            BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        REQUESTED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        FOOTPRINT.fetch_sub(footprint(ptr), Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let before = footprint(ptr);
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            REQUESTED.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            FOOTPRINT.fetch_add(footprint(p) - before, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Clone, Copy)]
struct Snap {
    requested: isize,
    footprint: isize,
    blocks: isize,
}

fn snap() -> Snap {
    Snap {
        requested: REQUESTED.load(Ordering::Relaxed),
        footprint: FOOTPRINT.load(Ordering::Relaxed),
        blocks: BLOCKS.load(Ordering::Relaxed),
    }
}

fn row(what: &str, a: Snap, b: Snap, n: usize) -> serde_json::Value {
    let per = |x: isize, y: isize| (y - x) as f64 / n as f64;
    let (r, f, k) = (
        per(a.requested, b.requested),
        per(a.footprint, b.footprint),
        per(a.blocks, b.blocks),
    );
    println!("| {what} | {r:.1} | {f:.1} | {k:.2} |");
    serde_json::json!({"what": what, "requested": r, "footprint": f, "blocks": k})
}

fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `bound MAX_BYTES FACTOR`: a cache bounded at MAX_BYTES, filled with
/// FACTOR times that in key + body, one entry at a time (eviction runs):
/// live heap and RSS against the bound.
fn bound(max_bytes: u64, factor: f64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let fences = Arc::new(Fences::new(Duration::from_secs(30)));
    let cache = Cache::new(max_bytes, fences);
    let policy = Policy {
        store: true,
        ttl: Duration::from_secs(3600),
        negative_ttl: Duration::from_secs(5),
        stale_if_error: Duration::from_secs(300),
        stale_while_revalidate: Duration::from_secs(30),
        refresh_ahead: true,
    };
    let (heap0, rss0) = (snap(), rss());
    let mut asked = 0u64;
    let mut id = 0u64;
    let ct = HeaderValue::from_static("application/json");
    while (asked as f64) < max_bytes as f64 * factor {
        id += 1;
        let key = CacheKey::new(&format!("/campaigns/{id}"));
        let body = Bytes::from(altur_gateway::sim::campaign_body(id as i64));
        asked += (key.len() + body.len()) as u64;
        let sent = Sent {
            at: tokio::time::Instant::now(),
            epoch: 1,
        };
        let (e, _) = cache.store(
            &key,
            &policy,
            false,
            sent,
            StatusCode::OK,
            Some(ct.clone()),
            body,
            false,
        );
        drop(e.body.clone());
        if id.is_multiple_of(10_000) {
            let (n, w) = cache.usage();
            let h = snap();
            println!(
                "asked {:>6.1} MiB: entries {n:>6}, weighed {:>6.1} MiB, live heap +{:>6.1} MiB, RSS +{:>6.1} MiB",
                asked as f64 / 1048576.0,
                w as f64 / 1048576.0,
                (h.footprint - heap0.footprint) as f64 / 1048576.0,
                rss().saturating_sub(rss0) as f64 / 1048576.0
            );
        }
    }
    let (n, w) = cache.usage();
    let h = snap();
    println!(
        "end: entries {n}, weighed {:.1} MiB, live heap +{:.1} MiB, RSS +{:.1} MiB (bound {:.1} MiB)",
        w as f64 / 1048576.0,
        (h.footprint - heap0.footprint) as f64 / 1048576.0,
        rss().saturating_sub(rss0) as f64 / 1048576.0,
        max_bytes as f64 / 1048576.0
    );
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("bound") {
        let max: u64 = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(64 << 20);
        let factor: f64 = std::env::args()
            .nth(3)
            .and_then(|a| a.parse().ok())
            .unwrap_or(2.0);
        bound(max, factor);
        return;
    }
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let body_len: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();

    let body_of = |id: usize| -> Bytes {
        let b = altur_gateway::sim::campaign_body(id as i64);
        let mut v = b.into_bytes();
        if body_len > 0 {
            v.resize(body_len, b' ');
        }
        Bytes::from(v)
    };
    println!("entries: {n}");
    println!();
    println!("| step (per entry) | bytes requested | heap footprint (malloc blocks) | blocks |");
    println!("| --- | ---: | ---: | ---: |");
    let mut rows = Vec::new();

    // moka alone: the same builder as the cache (weigher, per-entry expiry),
    // unit values; then without the per-entry expiry (no timer-wheel node).
    for expiry in [true, false] {
        let keys: Vec<CacheKey> = (0..n)
            .map(|i| CacheKey::new(&format!("/campaigns/{}", i + 1)))
            .collect();
        let builder = moka::sync::Cache::builder()
            .max_capacity(u64::MAX / 2)
            .weigher(|_k: &CacheKey, _v: &Arc<()>| 1000);
        let moka: moka::sync::Cache<CacheKey, Arc<()>> = if expiry {
            builder.expire_after(Forever).build()
        } else {
            builder.build()
        };
        let unit = Arc::new(());
        let a = snap();
        for k in &keys {
            moka.insert(k.clone(), Arc::clone(&unit));
        }
        moka.run_pending_tasks();
        let b = snap();
        rows.push(row(
            if expiry {
                "moka alone: its per-entry bookkeeping (nodes, table)"
            } else {
                "moka alone, without per-entry expiry"
            },
            a,
            b,
            n,
        ));
    }

    let before_keys = snap();
    let keys: Vec<CacheKey> = (0..n)
        .map(|i| CacheKey::new(&format!("/campaigns/{}", i + 1)))
        .collect();
    let after_keys = snap();
    rows.push(row(
        "key (`CacheKey`: `Arc<str>`), incl. its 8 B slot in a Vec",
        before_keys,
        after_keys,
        n,
    ));
    let key_bytes: usize = keys.iter().map(CacheKey::len).sum();

    let a = snap();
    let bodies: Vec<Bytes> = (0..n).map(|i| body_of(i + 1)).collect();
    let b = snap();
    rows.push(row("upstream bodies (input, dropped below)", a, b, n));
    let body_bytes: usize = bodies.iter().map(Bytes::len).sum();

    let fences = Arc::new(Fences::new(Duration::from_secs(30)));
    let cache = Cache::new(u64::MAX / 2, fences);
    let policy = Policy {
        store: true,
        ttl: Duration::from_secs(3600),
        negative_ttl: Duration::from_secs(5),
        stale_if_error: Duration::from_secs(300),
        stale_while_revalidate: Duration::from_secs(30),
        refresh_ahead: true,
    };
    let ct = HeaderValue::from_static("application/json");

    let mut held = Vec::with_capacity(n);
    let after_vec = snap();
    for (k, body) in keys.iter().zip(&bodies) {
        let sent = Sent {
            at: tokio::time::Instant::now(),
            epoch: 1,
        };
        // As upstream gives it: a header value parsed from the response.
        let ct = HeaderValue::from_bytes(ct.as_bytes()).ok();
        let (entry, why) = cache.store(
            k,
            &policy,
            false,
            sent,
            StatusCode::OK,
            ct,
            body.clone(),
            false,
        );
        assert!(why.is_none(), "stored");
        held.push(entry);
    }
    let (entries, weighted) = cache.usage();
    let after_store = snap();
    rows.push(row(
        "`Cache::store`: entry, own copies, moka (bodies counted inside)",
        after_vec,
        after_store,
        n,
    ));
    let mut responses: Vec<(Bytes, Option<HeaderValue>)> = Vec::with_capacity(n);
    let a = snap();
    responses.extend(held.iter().map(|e| (e.body.clone(), e.content_type())));
    let b = snap();
    rows.push(row(
        "first hit: body and content-type clones (shared headers)",
        a,
        b,
        n,
    ));
    let first_hit_blocks = (b.footprint - a.footprint) as f64 / n as f64;
    drop(responses);
    drop(held);
    drop(bodies);

    let key_block = (after_keys.footprint - before_keys.footprint) as f64 / n as f64
        - std::mem::size_of::<CacheKey>() as f64;
    // What the cache holds per entry: the store (entry, its own copies,
    // moka), the shared headers made by the first hit, and the key's block
    // (the `Vec` slot of the key list is not the cache's).
    let per_entry_total = (after_store.footprint - after_vec.footprint) as f64 / n as f64
        + first_hit_blocks
        + key_block;
    let kb = (key_bytes + body_bytes) as f64 / n as f64;
    println!();
    println!(
        "entries {entries}, weighed {weighted} B ({:.1} B/entry); key + body {kb:.1} B/entry; \
         Entry {} B, Arc<Entry> block {} B",
        weighted as f64 / entries.max(1) as f64,
        std::mem::size_of::<altur_gateway::cache::Entry>(),
        std::mem::size_of::<altur_gateway::cache::Entry>() + 16,
    );
    println!(
        "heap footprint per entry {per_entry_total:.1} B = key + body {kb:.1} B + overhead {:.1} B",
        per_entry_total - kb
    );
    let json = serde_json::json!({
        "entries": n,
        "key_plus_body_per_entry": kb,
        "footprint_per_entry": per_entry_total,
        "overhead_per_entry": per_entry_total - kb,
        "weighed_per_entry": weighted as f64 / entries.max(1) as f64,
        "entry_struct_bytes": std::mem::size_of::<altur_gateway::cache::Entry>(),
        "rows": rows,
    });
    eprintln!("{json}");
    drop(cache);
    drop(keys);
}

/// Entries never expire (the moka-alone fill).
struct Forever;

impl moka::Expiry<CacheKey, Arc<()>> for Forever {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        _value: &Arc<()>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }
}
