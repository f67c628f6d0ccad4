//! A write is sent twice only when Altur certainly did not act on it: a
//! 503, a hang or a broken exchange is one arrival; a refused connection, a
//! closed pooled one or a 429 is retried; an `Idempotency-Key` makes it a
//! read's retries; identical writes are never merged.

use super::*;

#[tokio::test]
async fn a_503_on_post_call_is_relayed_after_exactly_one_arrival() {
    let app = app().await;
    app.sim
        .fault_for_path("/api/v1.0/call", Some(Fault::Status(503)));
    let r = app
        .write_as(W, Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("cache-status"), Some("altur-gateway; fwd=bypass"));
    assert_eq!(r.body, app.upstream()[0].response, "relayed as it came");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        arrivals(&app, &Method::POST, "/api/v1.0/call"),
        1,
        "never sent twice"
    );
}

#[tokio::test]
async fn a_hang_is_504_after_exactly_one_arrival() {
    let app = TestApp::builder()
        .callers(&writer())
        .set("upstream.timeout_ms", "400")
        .start()
        .await;
    app.sim.fault_for_path("/api/v1.0/call", Some(Fault::Hang));
    let r = app
        .write_as(W, Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    assert_eq!(r.status, 504);
    assert_eq!(r.code(), "upstream_timeout");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(arrivals(&app, &Method::POST, "/api/v1.0/call"), 1);
}

#[tokio::test]
async fn with_an_idempotency_key_a_503_is_retried_like_a_read() {
    let app = app().await;
    app.sim
        .fault_for_path("/api/v1.0/call", Some(Fault::Status(503)));
    let r = app
        .write_as(
            W,
            Method::POST,
            "/api/v1.0/call",
            CALL,
            &[("idempotency-key", "call-1")],
        )
        .await;
    assert_eq!(r.status, 503);
    let up = app.upstream();
    assert_eq!(up.len(), 3, "1 + max_retries (2)");
    assert!(up.iter().all(|r| r.headers["idempotency-key"] == "call-1"));
}

#[tokio::test]
async fn a_429_is_retried_after_the_pause() {
    let app = app().await;
    app.sim.script([Fault::TooMany(Some("1".into()))]);
    let started = Instant::now();
    let r = app
        .write_as(W, Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    assert_eq!(r.status, 201, "Altur did not act on a 429: sent again");
    let up = app.upstream();
    assert_eq!(up.len(), 2);
    assert!(
        up[1].at - up[0].at >= Duration::from_secs(1),
        "after the pause"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_connection_closed_after_the_request_was_read_is_never_retried() {
    let app = app().await;
    app.sim.fault_for_path("/api/v1.0/call", Some(Fault::Close));
    let r = app
        .write_as(W, Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    assert_eq!(r.status, 502);
    assert_eq!(r.code(), "upstream_unavailable");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let up = app.upstream();
    assert_eq!(up.len(), 1, "it may have been acted on: never sent again");
    assert_eq!(&up[0].body[..], CALL.as_bytes(), "the simulator read it");
}

#[tokio::test]
async fn a_pooled_connection_closed_before_the_request_is_written_costs_nothing() {
    let app = app().await;
    // A read leaves a keep-alive connection in the gateway's pool...
    assert_eq!(app.get("/api/v1.0/campaigns/1").await.status, 200);
    // ...which upstream then closes while it sits idle.
    let closed = app.sim.close_idle_connections().await;
    assert!(closed >= 1, "the pooled connection was closed");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = app
        .write_as(W, Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    assert_eq!(
        r.status, 201,
        "found dead before writing: sent on a new connection"
    );
    let up = app.upstream();
    assert_eq!(arrivals(&app, &Method::POST, "/api/v1.0/call"), 1);
    assert_ne!(up[0].conn, up[1].conn, "on a new connection");
}

#[tokio::test]
async fn a_refused_connection_is_retried_since_nothing_was_sent() {
    // Nothing listens on the upstream port until after the first attempt.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let app = TestApp::builder()
        .callers(&writer())
        .set(
            "upstream.base_url",
            &format!("http://127.0.0.1:{port}/api/v1.0"),
        )
        .start()
        .await;
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("rebind");
        Simulator::start_on(
            listener,
            SimConfig {
                key: KEY.into(),
                latency: Duration::ZERO,
                rate_limit: Some(12),
            },
        )
        .expect("sim")
    });
    let r = app
        .write_as(W, Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    let sim = late.await.expect("join");
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(sim.requests().len(), 1, "sent once, on the second connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_identical_concurrent_messages_are_fifty_messages() {
    // The margin absorbs scheduling jitter on a loaded machine (see budget.rs).
    let app = Arc::new(
        TestApp::builder()
            .callers(&writer())
            .set("rate_limit.margin_ms", "100")
            .start()
            .await,
    );
    let body = r#"{"agent_id": "a1", "end_user_id": "eu-42", "content": "hola"}"#;
    let all = join_all((0..50).map(|_| {
        let app = app.clone();
        async move {
            app.write_as(W, Method::POST, "/api/v1.0/message", body, &[])
                .await
        }
    }))
    .await;
    assert!(
        all.iter().all(|r| r.status == 200),
        "{:?}",
        all.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        arrivals(&app, &Method::POST, "/api/v1.0/message"),
        50,
        "never collapsed"
    );
    let at: Vec<_> = app.upstream().iter().map(|r| r.at).collect();
    assert!(crate::helpers::max_in_window(&at, Duration::from_secs(1)) <= 12);
}
