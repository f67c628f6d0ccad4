//! Upstream failures mapped to the SPEC's errors, retries and the 429 pause.

use std::time::Duration;

use altur_gateway::sim::Fault;

use crate::helpers::TestApp;

/// A wrong key is named in `/readyz`, a metric and the log, but never fails
/// readiness: every replica shares the key, so failing it would take the
/// whole fleet out of service, cached answers included.
#[tokio::test(start_paused = true)]
async fn a_wrong_key_is_502_auth_failed_never_cached_and_named_but_still_ready() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/v1.0/campaigns/2").await.status, 200, "cached");
    app.sim.set_key("rotated-elsewhere");
    let r = app.get("/api/v1.0/campaigns/1").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.code(), "upstream_auth_failed");
    assert!(!String::from_utf8_lossy(&r.body).contains(crate::helpers::KEY));
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "still ready: {:?}", ready.json());
    assert!(
        ready.json()["upstream"]
            .as_str()
            .is_some_and(|s| s.contains("rejected the api key (401)")),
        "{:?}",
        ready.json()
    );
    let metrics = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    assert!(
        metrics.contains("altur_gateway_upstream_auth_failing 1"),
        "{metrics}"
    );
    assert_eq!(
        app.get("/api/v1.0/campaigns/2").await.status,
        200,
        "what is cached is still served"
    );
    assert_eq!(
        app.get("/healthz").await.status,
        200,
        "liveness is unaffected"
    );
    assert_eq!(app.upstream().len(), 2, "401 is not retried");

    app.sim.set_key(crate::helpers::KEY);
    assert_eq!(
        app.get("/api/v1.0/campaigns/1").await.status,
        200,
        "not cached"
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert!(ready.json().get("upstream").is_none(), "{:?}", ready.json());
    let metrics = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    assert!(
        metrics.contains("altur_gateway_upstream_auth_failing 0"),
        "{metrics}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_answer_within_the_timeout_is_504_and_not_retried() {
    let app = TestApp::builder()
        .set("upstream.timeout_ms", "500")
        .start()
        .await;
    app.sim.fault_for(3, Some(Fault::Hang));
    let r = app.get("/api/v1.0/campaigns/3").await;
    assert_eq!(r.status, 504);
    assert_eq!(r.code(), "upstream_timeout");
    assert_eq!(app.upstream().len(), 1);
}

#[tokio::test]
async fn connect_failures_are_retried_then_502() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let app = TestApp::builder()
        .set(
            "upstream.base_url",
            &format!("http://127.0.0.1:{port}/api/v1.0"),
        )
        .start()
        .await;
    let r = app.get("/api/v1.0/campaigns/1").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.code(), "upstream_unavailable");
    let metrics = app.get("/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("altur_gateway_upstream_requests_total{status=\"error\"} 3"),
        "1 try + 2 retries:\n{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_is_502() {
    let app = TestApp::spawn().await;
    app.sim.script([Fault::Close]);
    let r = app.get("/api/v1.0/campaigns/1").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.code(), "upstream_unavailable");
}

#[tokio::test(start_paused = true)]
async fn an_upstream_429_pauses_the_whole_queue_then_retries() {
    let app = TestApp::spawn().await;
    app.sim.script([Fault::TooMany(Some("3".into()))]);
    let t0 = tokio::time::Instant::now();
    let (a, b) = tokio::join!(app.get("/api/v1.0/campaigns/1"), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.get("/api/v1.0/campaigns/2").await
    });
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
    let up = app.upstream();
    assert_eq!(up.len(), 3, "429, then both after the pause");
    assert_eq!(up[0].status, 429);
    assert!(
        up[1].at - t0 >= Duration::from_secs(3),
        "{:?}",
        up[1].at - t0
    );
    assert!(
        up[2].at - t0 >= Duration::from_secs(3),
        "the other key waited too"
    );
    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    assert!(
        text.contains("altur_gateway_rate_limit_pauses_total 1"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_and_missing_both_pause() {
    let app = TestApp::spawn().await;
    app.sim.script([Fault::TooMany(None)]);
    let t0 = tokio::time::Instant::now();
    assert_eq!(app.get("/api/v1.0/campaigns/1").await.status, 200);
    let up = app.upstream();
    assert_eq!(up.len(), 2);
    assert!(up[1].at - t0 >= Duration::from_secs(1), "1 s when absent");
}

#[tokio::test(start_paused = true)]
async fn retries_spent_on_503_relay_the_upstream_answer() {
    let app = TestApp::spawn().await;
    app.sim.fault_for(4, Some(Fault::Status(503)));
    let r = app.get("/api/v1.0/campaigns/4").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"], "Simulated failure", "relayed as it came");
    assert_eq!(app.upstream().len(), 3);
}
