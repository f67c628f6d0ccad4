//! The shared budget through HTTP: never more than the limit in any sliding
//! second, one fetch per key, full-rate drain, refusals at once.

use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::helpers::{TestApp, max_in_window};

/// Real time, generous margins: 60 distinct ids from 120 concurrent callers at 12/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_drains_at_twelve_per_second_and_never_more() {
    // The margin absorbs scheduling jitter between the gateway's send and the
    // simulator's timestamp; on a loaded 2-core CI machine that can pass 20 ms.
    let app = TestApp::builder()
        .set("rate_limit.max_wait_ms", "20000")
        .set("rate_limit.margin_ms", "100")
        .start()
        .await;
    let started = Instant::now();
    let calls = (0..120).map(|i| {
        let id = 1000 + i % 60;
        let app = &app;
        async move { (id, app.get(&format!("/api/v1.0/campaigns/{id}")).await) }
    });
    let results = join_all(calls).await;
    let took = started.elapsed();

    for (id, r) in &results {
        assert_eq!(r.status, 200, "id {id}");
        assert_eq!(
            r.json()["campaign"]["id"],
            *id,
            "each caller gets its own campaign"
        );
    }
    let up = app.upstream();
    if up.len() != 60 {
        let t0 = up[0].at;
        for r in &up {
            eprintln!("{:?} {} {}", r.at - t0, r.target, r.status);
        }
    }
    assert_eq!(up.len(), 60, "each id fetched once");
    assert!(
        up.iter().all(|r| r.status == 200),
        "the simulator's strict limit never tripped"
    );
    let mut targets: Vec<_> = up.iter().map(|r| r.target.clone()).collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 60);
    let arrivals: Vec<_> = up.iter().map(|r| r.at).collect();
    assert!(max_in_window(&arrivals, Duration::from_secs(1)) <= 12);
    // 60 starts at 12 per 1.1 s: the last starts at 4.4 s.
    let t0 = up[0].at;
    let spread: Vec<_> = up.iter().map(|r| (r.at - t0).as_millis()).collect();
    assert!(took >= Duration::from_millis(4400), "{took:?} {spread:?}");
    assert!(
        took < Duration::from_secs(7),
        "drains at the full rate: {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_that_cannot_start_within_max_wait_is_refused_at_once() {
    let app = TestApp::builder()
        .set("rate_limit.requests_per_second", "2")
        .set("rate_limit.max_wait_ms", "1500")
        .start()
        .await;
    let t0 = Instant::now();
    // Six distinct ids: 2 start now, 2 at 1.02 s; the 5th and 6th would start at 2.04 s.
    let results = join_all((1..=6).map(|id| {
        let app = &app;
        async move {
            tokio::time::sleep(Duration::from_millis(id * 10)).await;
            let r = app.get(&format!("/api/v1.0/campaigns/{id}")).await;
            (r, Instant::now() - t0)
        }
    }))
    .await;
    for (r, at) in &results[..4] {
        assert_eq!(r.status, 200);
        assert!(*at <= Duration::from_millis(1100), "{at:?}");
    }
    for (r, at) in &results[4..] {
        assert_eq!(r.status, 503);
        assert_eq!(r.code(), "upstream_busy");
        // 1.02 s rounded up, plus the request id's jitter of 0 or 1 s.
        assert!(matches!(r.header("retry-after"), Some("2" | "3")));
        assert!(
            *at < Duration::from_millis(100),
            "refused at once, not after waiting: {at:?}"
        );
    }
    assert_eq!(app.upstream().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_leaves_the_queue_gives_its_place_back() {
    let app = TestApp::builder()
        .set("rate_limit.requests_per_second", "1")
        .set("rate_limit.margin_ms", "0")
        .start()
        .await;
    let t0 = Instant::now();
    assert_eq!(app.get("/api/v1.0/campaigns/1").await.status, 200);
    let leaver = tokio::time::timeout(Duration::from_millis(300), app.get("/api/v1.0/campaigns/2"));
    let stayer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.get("/api/v1.0/campaigns/3").await
    };
    let (left, stayed) = tokio::join!(leaver, stayer);
    assert!(left.is_err());
    assert_eq!(stayed.status, 200);
    let up = app.upstream();
    let targets: Vec<_> = up.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        ["/api/v1.0/campaigns/1", "/api/v1.0/campaigns/3"],
        "2 never went"
    );
    assert_eq!(
        up[1].at - t0,
        Duration::from_secs(1),
        "3 took the freed slot at once"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_spend_the_budget_too() {
    let app = TestApp::builder()
        .set("rate_limit.requests_per_second", "2")
        .start()
        .await;
    app.sim
        .fault_for(1, Some(altur_gateway::sim::Fault::Status(502)));
    app.get("/api/v1.0/campaigns/1").await;
    let up = app.upstream();
    assert_eq!(up.len(), 3);
    let arrivals: Vec<_> = up.iter().map(|r| r.at).collect();
    assert!(max_in_window(&arrivals, Duration::from_secs(1)) <= 2);
    assert!(up[2].at - up[0].at >= Duration::from_millis(1020));
}
