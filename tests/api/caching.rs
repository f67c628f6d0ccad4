//! Cache policy: TTLs, what is stored, stale-if-error, one fetch per key.
//! TTL tests run under tokio's paused clock, so they are exact and instant.

use std::time::Duration;

use altur_gateway::sim::{FIRST_MISSING_ID, Fault};
use futures_util::future::join_all;

use crate::helpers::TestApp;

async fn advance(d: Duration) {
    tokio::time::sleep(d).await;
}

#[tokio::test(start_paused = true)]
async fn a_200_is_fresh_for_ttl_seconds_and_age_counts_up() {
    let app = TestApp::builder()
        // The v1 rule under test: without stale-while-revalidate (and with no
        // refresh ahead of expiry) an expired entry waits for upstream.
        .set("cache.stale_while_revalidate_seconds", "0")
        .set("cache.refresh_ahead", "false")
        .set("cache.ttl_seconds", "30")
        .start()
        .await;
    app.get("/api/v1.0/campaigns/1").await;
    advance(Duration::from_secs(29)).await;
    let r = app.get("/api/v1.0/campaigns/1").await;
    assert_eq!(r.header("cache-status"), Some("altur-gateway; hit"));
    assert_eq!(r.header("age"), Some("29"));
    assert_eq!(app.upstream().len(), 1);
    advance(Duration::from_secs(2)).await;
    let r = app.get("/api/v1.0/campaigns/1").await;
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    assert_eq!(app.upstream().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_404_is_stored_for_the_negative_ttl() {
    let app = TestApp::spawn().await;
    let path = format!("/api/v1.0/campaigns/{FIRST_MISSING_ID}");
    let r = app.get(&path).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["error"],
        "Campaign not found",
        "upstream 404 relayed as it came"
    );
    let r = app.get(&path).await;
    assert_eq!(
        (r.status.as_u16(), r.header("cache-status")),
        (404, Some("altur-gateway; hit"))
    );
    assert_eq!(app.upstream().len(), 1);
    advance(Duration::from_secs(6)).await;
    assert_eq!(app.get(&path).await.status, 404);
    assert_eq!(app.upstream().len(), 2, "refetched after 5 s");
}

#[tokio::test(start_paused = true)]
async fn errors_non_json_and_no_store_are_never_stored() {
    let app = TestApp::spawn().await;
    for (id, fault, status) in [
        (1, Fault::Status(500), 500),
        (2, Fault::NonJson, 200),
        (3, Fault::NoStore, 200),
        (4, Fault::Status(400), 400),
    ] {
        app.sim.fault_for(id, Some(fault));
        let path = format!("/api/v1.0/campaigns/{id}");
        let a = app.get(&path).await;
        let b = app.get(&path).await;
        assert_eq!(
            (a.status.as_u16(), b.status.as_u16()),
            (status, status),
            "{id}"
        );
        assert_eq!(
            a.header("cache-status"),
            Some("altur-gateway; fwd=miss"),
            "{id}"
        );
        assert!(a.header("age").is_none());
    }
    assert_eq!(app.upstream().len(), 8, "every request went upstream");
    let r = app.get("/api/v1.0/campaigns/2").await;
    assert_eq!(r.body.as_ref(), b"<html>maintenance</html>");
    assert_eq!(r.header("content-type"), Some("text/html"));
}

#[tokio::test(start_paused = true)]
async fn a_stale_entry_is_served_when_upstream_fails() {
    let app = TestApp::builder()
        // The v1 rule under test: without stale-while-revalidate (and with no
        // refresh ahead of expiry) an expired entry waits for upstream.
        .set("cache.stale_while_revalidate_seconds", "0")
        .set("cache.refresh_ahead", "false")
        .set("cache.ttl_seconds", "10")
        .set("cache.stale_if_error_seconds", "60")
        .start()
        .await;
    let fresh = app.get("/api/v1.0/campaigns/5").await;
    app.sim.fault_for(5, Some(Fault::Status(503)));
    advance(Duration::from_secs(15)).await;
    let r = app.get("/api/v1.0/campaigns/5").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, fresh.body);
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=stale; fwd-status=503")
    );
    assert_eq!(r.header("age"), Some("15"));
    assert_eq!(app.upstream().len(), 1 + 3, "the 503 was retried twice");

    app.sim.fault_for(5, Some(Fault::Status(500)));
    let r = app.get("/api/v1.0/campaigns/5").await;
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=stale; fwd-status=500")
    );
    assert_eq!(app.upstream().len(), 5, "a 500 is not retried");

    advance(Duration::from_secs(60)).await;
    let r = app.get("/api/v1.0/campaigns/5").await;
    assert_eq!(r.status, 500, "past the stale window the error is relayed");
    assert_eq!(r.json()["error"], "Simulated failure");

    app.sim.fault_for(5, None);
    let r = app.get("/api/v1.0/campaigns/5").await;
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
}

#[tokio::test(start_paused = true)]
async fn a_stale_entry_is_served_when_the_queue_is_full() {
    let app = TestApp::builder()
        // The v1 rule under test: without stale-while-revalidate (and with no
        // refresh ahead of expiry) an expired entry waits for upstream.
        .set("cache.stale_while_revalidate_seconds", "0")
        .set("cache.refresh_ahead", "false")
        .set("cache.ttl_seconds", "1")
        .set("rate_limit.requests_per_second", "1")
        .set("rate_limit.max_wait_ms", "100")
        .start()
        .await;
    app.get("/api/v1.0/campaigns/1").await;
    advance(Duration::from_secs(2)).await;
    app.get("/api/v1.0/campaigns/2").await; // spends the budget
    let r = app.get("/api/v1.0/campaigns/1").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=stale; fwd-status=503")
    );
    let r = app.get("/api/v1.0/campaigns/3").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.code(), "upstream_busy");
    assert!(
        matches!(r.header("retry-after"), Some("2" | "3")),
        "1.02 s, rounded up, plus a jitter of 0 or 1 s"
    );
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=miss; detail=busy")
    );
    assert_eq!(app.upstream().len(), 2);
}

#[tokio::test]
async fn fifty_concurrent_callers_of_a_cold_id_make_one_upstream_request() {
    let app = TestApp::builder()
        .sim_latency(Duration::from_millis(200))
        .start()
        .await;
    let responses = join_all((0..50).map(|_| app.get("/api/v1.0/campaigns/77"))).await;
    assert_eq!(app.upstream().len(), 1);
    let body = altur_gateway::sim::campaign_body(77);
    assert!(
        responses
            .iter()
            .all(|r| r.status == 200 && r.body == body.as_bytes())
    );
    let stored = responses
        .iter()
        .filter(|r| r.header("cache-status") == Some("altur-gateway; fwd=miss; stored"))
        .count();
    let collapsed = responses
        .iter()
        .filter(|r| r.header("cache-status") == Some("altur-gateway; fwd=miss; collapsed"))
        .count();
    assert_eq!((stored, collapsed), (1, 49));
}

#[tokio::test]
async fn the_first_caller_leaving_does_not_starve_the_others() {
    let app = TestApp::builder()
        .sim_latency(Duration::from_millis(300))
        .start()
        .await;
    let first = tokio::time::timeout(Duration::from_millis(100), app.get("/api/v1.0/campaigns/8"));
    let second = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        app.get("/api/v1.0/campaigns/8").await
    };
    let (first, second) = tokio::join!(first, second);
    assert!(first.is_err(), "the first caller gave up");
    assert_eq!(second.status, 200);
    assert_eq!(
        second.header("cache-status"),
        Some("altur-gateway; fwd=miss; collapsed")
    );
    assert_eq!(app.upstream().len(), 1);
    assert_eq!(
        app.get("/api/v1.0/campaigns/8")
            .await
            .header("cache-status"),
        Some("altur-gateway; hit")
    );
}
