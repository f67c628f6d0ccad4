//! Keys crafted in the gateway's Redis by whoever reaches it, against a real
//! `redis-server`: a shared-cache entry that would pin itself in every
//! replica, one from the future or with a status no replica stores, a lock
//! without a TTL, a fleet pause of ten days, starts scored for ever.

use std::sync::Arc;
use std::time::Duration;

use altur_gateway::sim::{SimConfig, Simulator};
use tokio::time::Instant;

use crate::helpers::{KEY, TestApp};
use crate::redis_server::RedisServer;

const TEN_YEARS_MS: u64 = 10 * 365 * 24 * 3600 * 1000;

fn redis(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .expect("redis connection")
}

/// Redis's clock in µs, as the scripts read it.
fn redis_now_us(c: &mut redis::Connection) -> i64 {
    let (s, us): (i64, i64) = redis::cmd("TIME").query(c).expect("TIME");
    s * 1_000_000 + us
}

/// Writes an entry as the shared cache lays it out (see `cache/shared.rs`):
/// s stored-at (µs, Redis clock), f fresh ms, x stale ms, c status, t content type, b body.
fn plant_entry(
    c: &mut redis::Connection,
    target: &str,
    stored_us: i64,
    fresh_ms: u64,
    status: u16,
) {
    let key = format!("altur-gateway:v1:cache:{target}");
    let _: () = redis::cmd("DEL").arg(&key).query(c).expect("DEL");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("s")
        .arg(stored_us)
        .arg("f")
        .arg(fresh_ms)
        .arg("x")
        .arg(TEN_YEARS_MS)
        .arg("c")
        .arg(status)
        .arg("t")
        .arg("application/json")
        .arg("b")
        .arg("{\"planted\":true}")
        .query(c)
        .expect("HSET");
}

async fn sim() -> Arc<Simulator> {
    Arc::new(
        Simulator::start(SimConfig {
            key: KEY.into(),
            latency: Duration::ZERO,
            rate_limit: Some(12),
        })
        .await
        .expect("sim"),
    )
}

fn planted(r: &crate::helpers::Resp) -> bool {
    String::from_utf8_lossy(&r.body).contains("planted")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crafted_entry_is_kept_no_longer_than_the_routes_ttl_and_stale_window() {
    let server = RedisServer::start();
    let mut c = redis(&server);
    let app = TestApp::builder()
        .sim(sim().await)
        .set("cache.redis_url", &server.url())
        .set("cache.ttl_seconds", "1")
        .set("cache.stale_if_error_seconds", "1")
        // The policy's stale window is the longer of stale-if-error and
        // stale-while-revalidate: 1 s here, for a short test.
        .set("cache.stale_while_revalidate_seconds", "0")
        .set("cache.refresh_ahead", "false")
        .start()
        .await;
    let now = redis_now_us(&mut c);
    plant_entry(&mut c, "/campaigns/77", now, TEN_YEARS_MS, 200);

    // Redis is trusted to hold entries: a fresh one is served...
    let r = app.get("/api/v1.0/campaigns/77").await;
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; hit; detail=shared")
    );
    assert!(planted(&r));
    // ...but only as long as this replica's own policy: 1 s fresh, 1 s stale.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = app.get("/api/v1.0/campaigns/77").await;
    assert_eq!(r.status, 200);
    assert!(
        !planted(&r),
        "the planted entry outlived TTL + stale window"
    );
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    assert_eq!(app.sim.count(), 1);
    // And the fetch replaced it in Redis for every replica.
    replaced(&mut c, "/campaigns/77").await;
}

/// Waits (bounded) until the entry in Redis is the gateway's own: written
/// just after the response, so not necessarily by the time it arrives.
async fn replaced(c: &mut redis::Connection, target: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (status, body): (Option<String>, Option<Vec<u8>>) = redis::cmd("HMGET")
            .arg(format!("altur-gateway:v1:cache:{target}"))
            .arg("c")
            .arg("b")
            .query(c)
            .unwrap_or((None, None));
        let body = String::from_utf8_lossy(body.as_deref().unwrap_or_default()).into_owned();
        if status.as_deref() == Some("200") && !body.contains("planted") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{target} not replaced: {status:?} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_no_replica_could_have_written_are_misses_and_get_replaced() {
    let server = RedisServer::start();
    let mut c = redis(&server);
    let app = TestApp::builder()
        .sim(sim().await)
        .set("cache.redis_url", &server.url())
        .start()
        .await;
    let now = redis_now_us(&mut c);
    let year_us = 365 * 24 * 3600 * 1_000_000;
    plant_entry(&mut c, "/campaigns/81", now + 10 * year_us, 5000, 200);
    plant_entry(&mut c, "/campaigns/82", now, 5000, 101);
    plant_entry(&mut c, "/campaigns/83", now, 5000, 999);
    let _: () = redis::cmd("SET")
        .arg("altur-gateway:v1:cache:/campaigns/84")
        .arg("not a hash")
        .query(&mut c)
        .expect("SET");
    for id in 81..=84 {
        let r = app.get(&format!("/api/v1.0/campaigns/{id}")).await;
        assert_eq!(r.status, 200, "{id}");
        assert!(!planted(&r), "{id}");
        assert_eq!(
            r.header("cache-status"),
            Some("altur-gateway; fwd=miss; stored"),
            "{id}"
        );
        // Replaced by the real entry (the "future" one used to block every write).
        replaced(&mut c, &format!("/campaigns/{id}")).await;
    }
    assert_eq!(app.sim.count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_without_a_ttl_is_cut_back_and_stalls_no_fetch() {
    let server = RedisServer::start();
    let mut c = redis(&server);
    let app = TestApp::builder()
        .sim(sim().await)
        .set("cache.redis_url", &server.url())
        .start()
        .await;
    let lock = "altur-gateway:v1:lock:/campaigns/78";
    let _: () = redis::cmd("SET")
        .arg(lock)
        .arg("planted")
        .query(&mut c)
        .expect("SET");
    let t = Instant::now();
    let r = app.get("/api/v1.0/campaigns/78").await;
    assert_eq!(r.status, 200);
    // The claim deadline would be max_wait + 3 x timeout + 3 s = 43 s.
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(app.sim.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_fleet_pause_is_cut_to_the_longest_retry_after() {
    let server = RedisServer::start();
    let mut c = redis(&server);
    let pause = "altur-gateway:v1:rl:{altur}:pause";
    let ten_days_us = 10 * 24 * 3600 * 1_000_000_i64;
    let now = redis_now_us(&mut c);
    let _: () = redis::cmd("SET")
        .arg(pause)
        .arg(now + ten_days_us)
        .query(&mut c)
        .expect("SET");
    let app = TestApp::builder()
        .sim(sim().await)
        .set("rate_limit.backend", "redis")
        .set("rate_limit.redis_url", &server.url())
        .set("rate_limit.max_wait_ms", "1000")
        .start()
        .await;
    let r = app.get("/api/v1.0/campaigns/5").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.code(), "upstream_busy");
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    // The cap (300 s), plus the spread over callers (up to a quarter more,
    // README: Errors) that keeps them from all coming back in one second.
    assert!(
        retry <= 300 + 75,
        "Retry-After {retry}: the pause reached callers uncapped"
    );
    // A start attempt cuts the pause back in Redis for the whole fleet.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let until: i64 = redis::cmd("GET").arg(pause).query(&mut c).expect("GET");
        if until <= redis_now_us(&mut c) + 301_000_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the planted pause stays in Redis"
        );
        let _ = app.get("/api/v1.0/campaigns/6").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.sim.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_scored_for_ever_do_not_fill_the_window() {
    let server = RedisServer::start();
    let mut c = redis(&server);
    let starts = "altur-gateway:v1:rl:{altur}:starts";
    for i in 0..12 {
        let _: () = redis::cmd("ZADD")
            .arg(starts)
            .arg(i64::MAX / 2)
            .arg(format!("planted:{i}"))
            .query(&mut c)
            .expect("ZADD");
    }
    let app = TestApp::builder()
        .sim(sim().await)
        .set("rate_limit.backend", "redis")
        .set("rate_limit.redis_url", &server.url())
        .set("rate_limit.max_wait_ms", "3000")
        .start()
        .await;
    let t = Instant::now();
    let r = app.get("/api/v1.0/campaigns/9").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let left: i64 = redis::cmd("ZCOUNT")
        .arg(starts)
        .arg(i64::MAX / 4)
        .arg("+inf")
        .query(&mut c)
        .expect("ZCOUNT");
    assert_eq!(left, 0, "dropped by the first start");
}
