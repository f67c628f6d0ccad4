//! A fleet: three gateways on one Redis in front of one simulated upstream.
//! They share the 12/s budget and the second-level cache; Redis dies in the
//! middle of a burst and comes back, and the upstream never sees more than 12
//! requests in any second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use altur_gateway::sim::{SimConfig, Simulator};
use futures_util::future::join_all;
use tokio::time::Instant;

use crate::helpers::{KEY, Resp, TestApp, max_in_window};
use crate::redis_server::RedisServer;

async fn fleet(sim: &Arc<Simulator>, redis: &RedisServer, n: usize) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for _ in 0..n {
        apps.push(
            TestApp::builder()
                .sim(Arc::clone(sim))
                .set("rate_limit.backend", "redis")
                .set("rate_limit.redis_url", &redis.url())
                .set("rate_limit.fallback_requests_per_second", "4")
                // As the single-gateway real-time test: room for CI jitter.
                .set("rate_limit.margin_ms", "100")
                .set("rate_limit.max_wait_ms", "30000")
                .set("cache.redis_url", &redis.url())
                .start()
                .await,
        );
    }
    apps
}

/// `callers` concurrent GETs over `ids` distinct ids from `first_id`, spread
/// over the gateways round-robin.
async fn burst(apps: &[TestApp], first_id: i64, ids: i64, callers: i64) -> Vec<(i64, Resp)> {
    join_all((0..callers).map(|i| {
        let id = first_id + i % ids;
        let app = &apps[usize::try_from(i).expect("small") % apps.len()];
        async move { (id, app.get(&format!("/api/v1.0/campaigns/{id}")).await) }
    }))
    .await
}

fn assert_all_ok(results: &[(i64, Resp)]) {
    for (id, r) in results {
        assert_eq!(r.status, 200, "id {id}: {:?}", r.body);
        assert_eq!(r.json()["campaign"]["id"], *id);
    }
}

/// Upstream fetches per id among arrivals from `from` on.
fn fetches(sim: &Simulator, from: usize) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in &sim.requests()[from..] {
        *m.entry(r.target.clone()).or_default() += 1;
    }
    m
}

async fn in_fallback(app: &TestApp) -> (bool, bool) {
    let metrics = app.get("/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let gauge = text
        .lines()
        .find(|l| l.starts_with("altur_gateway_rate_limit_fallback "))
        .expect("the fallback gauge is exported")
        .ends_with(" 1");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "ready either way");
    let noted = ready.json()["rate_limit"].is_string();
    (gauge, noted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_shares_one_budget_and_one_cache_across_a_redis_outage() {
    let mut redis = RedisServer::start();
    let sim = Arc::new(
        Simulator::start(SimConfig {
            key: KEY.into(),
            latency: Duration::from_millis(5),
            rate_limit: Some(12),
        })
        .await
        .expect("sim"),
    );
    let apps = fleet(&sim, &redis, 3).await;

    // 1. Redis up: 200 callers over 100 ids, each id's two callers on two
    // different gateways. One fetch per id fleet-wide, at the full shared rate.
    let t = Instant::now();
    let results = burst(&apps, 1, 100, 200).await;
    let took = t.elapsed();
    assert_all_ok(&results);
    let per_id = fetches(&sim, 0);
    assert_eq!(per_id.len(), 100);
    assert!(
        per_id.values().all(|n| *n == 1),
        "each id fetched once across the fleet: {per_id:?}"
    );
    // 100 starts at 12 per 1.1 s: the last starts after 8 windows.
    assert!(took >= Duration::from_millis(8800), "{took:?}");
    assert!(
        took < Duration::from_secs(13),
        "the fleet drains at the full rate: {took:?}"
    );
    assert!(
        results
            .iter()
            .any(|(_, r)| r.header("cache-status") == Some("altur-gateway; hit; detail=shared")),
        "replicas served each other's fetches"
    );
    for app in &apps {
        assert_eq!(in_fallback(app).await, (false, false));
    }

    // 2. Redis dies in the middle of a burst: each replica falls back to 4/s.
    let before = sim.count();
    let outage = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        redis.kill();
    };
    let (results, ()) = tokio::join!(burst(&apps, 1001, 40, 80), outage);
    assert_all_ok(&results);
    assert!(fetches(&sim, before).len() == 40);
    for app in &apps {
        assert_eq!(in_fallback(app).await, (true, true), "fallback shown");
    }

    // 3. Redis comes back (empty, same port) in the middle of a burst: the
    // replicas rejoin the shared limiter by themselves.
    let back = async {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        redis.restart();
    };
    let (results, ()) = tokio::join!(burst(&apps, 3001, 30, 60), back);
    assert_all_ok(&results);
    let deadline = Instant::now() + Duration::from_secs(8);
    for app in &apps {
        while in_fallback(app).await != (false, false) {
            assert!(Instant::now() < deadline, "back to the shared limiter");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // 4. Shared again: one fetch per id across the fleet.
    let before = sim.count();
    // Each id's three callers land on three different gateways.
    let results = burst(&apps, 2001, 20, 60).await;
    assert_all_ok(&results);
    let per_id = fetches(&sim, before);
    assert!(
        per_id.len() == 20 && per_id.values().all(|n| *n == 1),
        "{per_id:?}"
    );

    // Across all three phases and both switch-overs.
    let up = sim.requests();
    assert!(
        up.iter().all(|r| r.status == 200),
        "the upstream's strict limit never tripped"
    );
    let arrivals: Vec<_> = up.iter().map(|r| r.at).collect();
    assert!(
        max_in_window(&arrivals, Duration::from_secs(1)) <= 12,
        "{}",
        max_in_window(&arrivals, Duration::from_secs(1))
    );
    for app in apps {
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_from_the_shared_cache_keeps_its_age_and_remaining_ttl() {
    let redis = RedisServer::start();
    let sim = Arc::new(
        Simulator::start(SimConfig {
            key: KEY.into(),
            latency: Duration::ZERO,
            rate_limit: Some(12),
        })
        .await
        .expect("sim"),
    );
    let mut apps = Vec::new();
    for _ in 0..2 {
        apps.push(
            TestApp::builder()
                .sim(Arc::clone(&sim))
                // The v1 rule under test: an expired entry waits for upstream.
                .set("cache.stale_while_revalidate_seconds", "0")
                .set("cache.refresh_ahead", "false")
                .set("cache.redis_url", &redis.url())
                .set("cache.ttl_seconds", "3")
                .start()
                .await,
        );
    }
    let path = "/api/v1.0/campaigns/42";
    let first = apps[0].get(path).await;
    assert_eq!(
        first.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let shared = apps[1].get(path).await;
    assert_eq!(
        shared.header("cache-status"),
        Some("altur-gateway; hit; detail=shared")
    );
    assert_eq!(shared.header("age"), Some("1"), "aged from the first fetch");
    assert_eq!(shared.body, first.body);
    assert_eq!(shared.header("content-type"), first.header("content-type"));
    let local = apps[1].get(path).await;
    assert_eq!(local.header("cache-status"), Some("altur-gateway; hit"));
    assert_eq!(local.header("age"), Some("1"));
    assert_eq!(sim.count(), 1);
    // Three seconds after the first fetch, not after the copy: expired on both.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let again = apps[1].get(path).await;
    assert_eq!(
        again.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    assert_eq!(sim.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_is_a_fallback_and_a_miss_not_an_error() {
    // Nothing listens there.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("redis://{}", l.local_addr().expect("addr"))
    };
    let app = TestApp::builder()
        .set("rate_limit.backend", "redis")
        .set("rate_limit.redis_url", &dead)
        .set("rate_limit.fallback_requests_per_second", "4")
        .set("cache.redis_url", &dead)
        .start()
        .await;
    let t = Instant::now();
    let r = app.get("/api/v1.0/campaigns/5").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "fails fast: {:?}",
        t.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    while in_fallback(&app).await != (true, true) {
        assert!(Instant::now() < deadline, "fallback shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = app.get("/readyz").await;
    assert_eq!(ready.json()["rate_limit"], "fallback: redis unreachable");
    let results = join_all((10..22).map(|id| {
        let app = &app;
        async move { app.get(&format!("/api/v1.0/campaigns/{id}")).await }
    }))
    .await;
    assert!(results.iter().all(|r| r.status == 200));
    let arrivals: Vec<_> = app.upstream().iter().map(|r| r.at).collect();
    assert!(
        max_in_window(&arrivals, Duration::from_secs(1)) <= 4,
        "the fallback limit"
    );
}
