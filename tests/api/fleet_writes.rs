//! Writes in a fleet: a PATCH on one replica drops the campaign from the
//! shared cache and from every other replica's memory; measured, how long
//! until the others stop serving the old entry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use altur_gateway::sim::{SimConfig, Simulator};
use http::Method;

use crate::helpers::{KEY, TestApp, caller};
use crate::redis_server::RedisServer;

const W: &str = "tok-fleet-writer";

async fn replica(sim: &Arc<Simulator>, redis: &RedisServer) -> TestApp {
    TestApp::builder()
        .sim(Arc::clone(sim))
        .callers(&caller("writer", W, &["read", "write"], 1, None))
        .set("rate_limit.backend", "redis")
        .set("rate_limit.redis_url", &redis.url())
        .set("rate_limit.margin_ms", "100")
        .set("cache.redis_url", &redis.url())
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_on_one_replica_is_seen_by_the_others_within_the_bound() {
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
    for _ in 0..3 {
        apps.push(replica(&sim, &redis).await);
    }
    // Give each replica's invalidation listener time to subscribe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (a, others) = apps.split_first().expect("three");
    let campaign = "/api/v1.0/campaigns/21";
    let list = "/api/v1.0/campaigns?status=active";
    for app in &apps {
        for path in [campaign, list] {
            assert_eq!(app.get(path).await.status, 200);
            let hit = app.get(path).await;
            assert_eq!(
                hit.header("cache-status"),
                Some("altur-gateway; hit"),
                "{path} warm"
            );
        }
    }
    let before = sim.requests().len();

    let patched = a
        .write_as(W, Method::PATCH, campaign, r#"{"name": "Fleet-wide"}"#, &[])
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let written = Instant::now();
    let mine = a.get(campaign).await;
    assert_eq!(
        mine.json()["campaign"]["name"],
        "Fleet-wide",
        "the writer's replica at once"
    );

    // Every other replica polled at once, every 2 ms.
    let seen: Vec<Duration> = futures_util::future::join_all(others.iter().map(|app| async move {
        loop {
            let r = app.get(campaign).await;
            if r.json()["campaign"]["name"] == "Fleet-wide" {
                return written.elapsed();
            }
            assert!(
                written.elapsed() < Duration::from_secs(2),
                "a replica still served the old name after 2 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }))
    .await;
    for app in others {
        let page = app.get(list).await;
        assert_ne!(
            page.header("cache-status"),
            Some("altur-gateway; hit"),
            "the list page was dropped too"
        );
    }
    eprintln!("other replicas served the new name after {seen:?}");
    for app in others {
        let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
        assert!(
            text.contains("altur_gateway_invalidations_total{cause=\"fleet\"} 1"),
            "the other replicas counted the fleet's invalidation: {text}"
        );
    }
    assert!(
        seen.iter().all(|d| *d < Duration::from_millis(100)),
        "within about 100 ms: {seen:?}"
    );
    // One fetch of the new campaign served the whole fleet (the shared cache
    // and its lock), not one per replica.
    let refetched = sim.requests()[before..]
        .iter()
        .filter(|r| r.method == Method::GET && r.target == campaign)
        .count();
    assert_eq!(
        refetched,
        1,
        "{:?}",
        sim.requests()[before..]
            .iter()
            .map(|r| &r.target)
            .collect::<Vec<_>>()
    );
}
