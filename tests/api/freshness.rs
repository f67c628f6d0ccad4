//! Spending the budget where it serves most, under tokio's paused clock:
//! stale-while-revalidate answers at once and refreshes once; refreshes
//! wait behind callers and off the reserve; refresh-ahead keeps a steadily
//! read key from ever missing; a queued refresh is lifted by a caller.

use std::time::Duration;

use altur_gateway::sim::Fault;
use tokio::time::Instant;

use crate::helpers::TestApp;

const KEY: &str = "/api/v1.0/campaigns/5";

fn arrivals(app: &TestApp, path: &str) -> Vec<Instant> {
    app.upstream()
        .iter()
        .filter(|r| r.target == path)
        .map(|r| r.at)
        .collect()
}

async fn settle() {
    // Lets background refreshes run, retries and their backoff included.
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_revalidating_entry_is_answered_at_once_and_refreshed_once() {
    let app = TestApp::builder()
        .set("cache.ttl_seconds", "10")
        .set("cache.stale_while_revalidate_seconds", "30")
        .set("cache.refresh_ahead", "false")
        .start()
        .await;
    let first = app.get(KEY).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    // Upstream is slow now: an answer that waited for it would take 2 s.
    app.sim.set_latency(Duration::from_secs(2));
    let t = Instant::now();
    let answers = futures_util::future::join_all((0..5).map(|_| app.get(KEY))).await;
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "answered at once: {:?}",
        t.elapsed()
    );
    for r in &answers {
        assert_eq!(r.status, 200);
        assert_eq!(r.body, first.body);
        assert_eq!(
            r.header("cache-status"),
            Some("altur-gateway; hit; detail=stale-while-revalidate")
        );
        assert_eq!(r.header("age"), Some("12"));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(arrivals(&app, KEY).len(), 2, "one refresh for five readers");
    let after = app.get(KEY).await;
    assert_eq!(after.header("cache-status"), Some("altur-gateway; hit"));
    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    assert!(
        text.contains(
            "altur_gateway_background_refreshes_total{trigger=\"revalidate\",result=\"stored\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("altur_gateway_stale_served_total{kind=\"revalidate\"} 5"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_leaves_the_entry_and_the_next_reader_tries_again() {
    let app = TestApp::builder()
        .set("cache.ttl_seconds", "10")
        .set("cache.refresh_ahead", "false")
        .start()
        .await;
    let first = app.get(KEY).await;
    app.sim.fault_for(5, Some(Fault::Status(503)));
    tokio::time::sleep(Duration::from_secs(11)).await;
    let r = app.get(KEY).await;
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; hit; detail=stale-while-revalidate")
    );
    settle().await;
    assert_eq!(
        arrivals(&app, KEY).len(),
        1 + 3,
        "the refresh, retried twice, failed"
    );
    let again = app.get(KEY).await;
    assert_eq!(again.body, first.body, "the entry is as it was");
    assert_eq!(
        again.header("cache-status"),
        Some("altur-gateway; hit; detail=stale-while-revalidate")
    );
    settle().await;
    assert_eq!(
        arrivals(&app, KEY).len(),
        1 + 3 + 3,
        "the next reader tried again"
    );
    app.sim.fault_for(5, None);
    app.get(KEY).await;
    settle().await;
    assert_eq!(
        app.get(KEY).await.header("cache-status"),
        Some("altur-gateway; hit")
    );
}

#[tokio::test(start_paused = true)]
async fn refreshes_wait_behind_callers_and_never_take_the_reserve() {
    let app = TestApp::builder()
        .set("cache.ttl_seconds", "10")
        .set("cache.refresh_ahead", "false")
        .set("rate_limit.requests_per_second", "2")
        .set("rate_limit.reserve_for_callers", "1")
        .set("rate_limit.margin_ms", "0")
        .set("rate_limit.max_wait_ms", "30000")
        .start()
        .await;
    for id in [11, 12, 13] {
        app.get(&format!("/api/v1.0/campaigns/{id}")).await;
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    let t0 = Instant::now();
    // Three revalidating reads queue three refreshes; then a caller's cold read.
    for id in [11, 12, 13] {
        let r = app.get(&format!("/api/v1.0/campaigns/{id}")).await;
        assert_eq!(
            r.header("cache-status"),
            Some("altur-gateway; hit; detail=stale-while-revalidate")
        );
    }
    let cold = app.get("/api/v1.0/campaigns/99").await;
    assert_eq!(cold.status, 200);
    let cold_at = arrivals(&app, "/api/v1.0/campaigns/99")[0];
    assert!(
        cold_at - t0 < Duration::from_millis(100),
        "the caller did not wait behind refreshes"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut refreshes: Vec<Instant> = [11, 12, 13]
        .iter()
        .flat_map(|id| {
            arrivals(&app, &format!("/api/v1.0/campaigns/{id}"))
                .into_iter()
                .skip(1)
        })
        .collect();
    refreshes.sort();
    assert_eq!(refreshes.len(), 3, "every key refreshed once");
    // At most 2 - 1 = 1 refresh in any window: the last start is the callers'.
    assert!(
        crate::helpers::max_in_window(&refreshes, Duration::from_secs(1)) <= 1,
        "{:?}",
        refreshes.iter().map(|t| *t - t0).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn a_key_read_steadily_never_misses_and_one_read_once_is_fetched_once() {
    let app = TestApp::builder()
        .set("cache.ttl_seconds", "5")
        .set("cache.stale_while_revalidate_seconds", "0")
        .start()
        .await;
    let once = "/api/v1.0/campaigns/77";
    app.get(once).await;
    let mut statuses = Vec::new();
    for _ in 0..150 {
        let r = app.get(KEY).await;
        statuses.push(r.header("cache-status").unwrap_or_default().to_string());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(statuses[0], "altur-gateway; fwd=miss; stored");
    let not_hits: Vec<_> = statuses[1..]
        .iter()
        .filter(|s| *s != "altur-gateway; hit")
        .collect();
    assert!(
        not_hits.is_empty(),
        "30 s of steady reads, no miss: {not_hits:?}"
    );
    let fetches = arrivals(&app, KEY).len();
    assert!(
        (7..=9).contains(&fetches),
        "about one refresh per 4 s of a 5 s TTL: {fetches}"
    );
    assert_eq!(
        arrivals(&app, once).len(),
        1,
        "a key read once is fetched once"
    );
    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    assert!(
        text.contains(
            "altur_gateway_background_refreshes_total{trigger=\"ahead\",result=\"stored\"}"
        ),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_caller_joining_a_queued_refresh_lifts_it_to_its_own_place() {
    // A reserve as large as the budget: refreshes never start on their own.
    let app = TestApp::builder()
        .set("cache.ttl_seconds", "1")
        .set("cache.stale_while_revalidate_seconds", "2")
        .set("cache.stale_if_error_seconds", "0")
        .set("cache.refresh_ahead", "false")
        .set("rate_limit.requests_per_second", "2")
        .set("rate_limit.reserve_for_callers", "2")
        .set("rate_limit.max_wait_ms", "5000")
        .start()
        .await;
    app.get(KEY).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = app.get(KEY).await;
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; hit; detail=stale-while-revalidate")
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(arrivals(&app, KEY).len(), 1, "the refresh is still queued");
    // Past the window: this caller needs a fresh copy, and joins the refresh.
    let t = Instant::now();
    let r = app.get(KEY).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=miss; collapsed")
    );
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "started at the caller's place: {:?}",
        t.elapsed()
    );
    assert_eq!(arrivals(&app, KEY).len(), 2);
}
