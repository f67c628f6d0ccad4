//! Routes, validation, headers: what reaches upstream and what never does.

use http::Method;

use crate::helpers::{KEY, TestApp};

#[tokio::test]
async fn relays_the_campaign_byte_for_byte_then_serves_it_from_cache() {
    let app = TestApp::spawn().await;
    let first = app.get("/api/v1.0/campaigns/42").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, altur_gateway::sim::campaign_body(42).as_bytes());
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(
        first.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    assert!(first.header("x-request-id").is_some_and(|v| !v.is_empty()));

    let second = app.get("/api/v1.0/campaigns/42").await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("cache-status"), Some("altur-gateway; hit"));
    assert_eq!(second.header("age"), Some("0"));
    assert_ne!(second.header("x-request-id"), first.header("x-request-id"));
    assert_eq!(app.upstream().len(), 1);
}

#[tokio::test]
async fn upstream_gets_only_the_gateways_own_headers() {
    let app = TestApp::spawn().await;
    let resp = app
        .request(
            Method::GET,
            "/api/v1.0/campaigns/7?utm=1",
            &[
                ("authorization", "api-key callers-own-key"),
                ("cookie", "session=1"),
                ("x-forwarded-for", "10.1.2.3"),
                ("x-custom", "1"),
                ("x-request-id", "caller-id-123"),
            ],
        )
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-request-id"), Some("caller-id-123"));
    let up = app.upstream();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].method, Method::GET);
    assert_eq!(
        up[0].target, "/api/v1.0/campaigns/7",
        "no query string upstream"
    );
    let names: Vec<_> = up[0]
        .headers
        .keys()
        .map(|k| k.as_str().to_string())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["accept", "authorization", "host", "user-agent"]);
    assert_eq!(
        up[0].headers["authorization"],
        format!("api-key {KEY}").as_str()
    );
    assert_eq!(up[0].headers["accept"], "application/json");
    assert!(
        up[0].headers["user-agent"]
            .to_str()
            .is_ok_and(|v| v.starts_with("altur-gateway/"))
    );
}

#[tokio::test]
async fn ids_are_canonical_and_queries_cannot_bust_the_cache() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1.0/campaigns/007",
        "/api/v1.0/campaigns/7",
        "/api/v1.0/campaigns/7?bust=1",
        "/api/v1.0/campaigns/0007?bust=2",
    ] {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
    let up = app.upstream();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].target, "/api/v1.0/campaigns/7");
}

#[tokio::test]
async fn refused_requests_never_reach_upstream() {
    let app = TestApp::spawn().await;
    for (path, status, code) in [
        ("/api/v1.0/campaigns/abc", 400, "invalid_campaign_id"),
        ("/api/v1.0/campaigns/-1", 400, "invalid_campaign_id"),
        ("/api/v1.0/campaigns/1.5", 400, "invalid_campaign_id"),
        ("/api/v1.0/campaigns/%31", 400, "invalid_campaign_id"),
        (
            "/api/v1.0/campaigns/99999999999999999999",
            400,
            "invalid_campaign_id",
        ),
        ("/api/v1.0/campaigns/", 404, "not_found"),
        ("/api/v1.0/campaigns/1/../../x", 404, "not_found"),
        ("/api/v1.0/campaigns/1/callz", 404, "not_found"),
        ("/api/v1.0/campaignz", 404, "not_found"),
        ("/api/v1.0/campaigns/1/contacts/x", 400, "invalid_parameter"),
        (
            "/api/v1.0/campaigns/1/calls?bogus=1",
            400,
            "invalid_parameter",
        ),
        ("/api/v1.0/call/a.b", 400, "invalid_parameter"),
        ("/api/v1.0/contacts/1", 404, "not_found"),
        ("/", 404, "not_found"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        assert_eq!(r.json()["success"], false, "{path}");
        assert_eq!(r.code(), code, "{path}");
    }
    for (method, path, allow) in [
        (Method::POST, "/api/v1.0/campaigns/1", "GET, HEAD, PATCH"),
        (Method::DELETE, "/api/v1.0/campaigns/1", "GET, HEAD, PATCH"),
        (Method::GET, "/api/v1.0/campaigns/1/pause", "POST"),
        (Method::PUT, "/healthz", "GET, HEAD"),
        (Method::POST, "/metrics", "GET, HEAD"),
    ] {
        let r = app.request(method.clone(), path, &[]).await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.code(), "method_not_allowed");
        assert_eq!(r.header("allow"), Some(allow));
    }
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
    assert!(
        app.upstream().is_empty(),
        "nothing refused reached upstream"
    );
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let app = TestApp::spawn().await;
    let get = app.get("/api/v1.0/campaigns/8").await;
    let head = app
        .request(Method::HEAD, "/api/v1.0/campaigns/8", &[])
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    assert_eq!(head.header("cache-status"), Some("altur-gateway; hit"));
    assert_eq!(app.upstream().len(), 1);
    // The gateway's own routes too (the SPEC: "GET and HEAD /healthz").
    for path in ["/healthz", "/readyz", "/metrics"] {
        let get = app.get(path).await;
        let head = app.request(Method::HEAD, path, &[]).await;
        assert_eq!(
            (get.status.as_u16(), head.status.as_u16()),
            (200, 200),
            "{path}"
        );
        assert!(head.body.is_empty(), "{path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
    }
    assert_eq!(app.upstream().len(), 1);
}

#[tokio::test]
async fn oversized_targets_and_headers_get_json_errors() {
    let app = TestApp::spawn().await;
    let long = format!("/api/v1.0/campaigns/1?q={}", "a".repeat(9000));
    let r = app.get(&long).await;
    assert_eq!(r.status, 414);
    assert_eq!(r.code(), "uri_too_long");
    let big = "b".repeat(40 * 1024);
    let r = app
        .request(
            Method::GET,
            "/api/v1.0/campaigns/1",
            &[("x-big", big.as_str())],
        )
        .await;
    assert_eq!(r.status, 431);
    assert_eq!(r.code(), "headers_too_large");
    assert!(app.upstream().is_empty());
}

#[tokio::test]
async fn a_request_body_is_not_forwarded() {
    let app = TestApp::spawn().await;
    let req = http::Request::builder()
        .method(Method::GET)
        .uri(app.url("/api/v1.0/campaigns/5"))
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"{\"evil\":1}",
        )))
        .expect("request");
    let r = crate::helpers::send(app.client(), req).await;
    assert_eq!(r.status, 200);
    let up = app.upstream();
    assert_eq!(up.len(), 1);
    assert!(up[0].headers.get("content-length").is_none());
}

#[tokio::test]
async fn serves_h2c() {
    let app = TestApp::spawn().await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let req = http::Request::builder()
        .uri(app.url("/api/v1.0/campaigns/9"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let r = crate::helpers::send(&client, req).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, altur_gateway::sim::campaign_body(9).as_bytes());
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_stops_accepting() {
    let app = TestApp::builder()
        .sim_latency(std::time::Duration::from_millis(400))
        .start()
        .await;
    let addr = app.addr;
    let slow = tokio::spawn(async move {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>();
        let url = format!("http://{addr}/api/v1.0/campaigns/5");
        let resp = client
            .get(url.parse().expect("uri"))
            .await
            .expect("answered");
        resp.status().as_u16()
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    app.stop().await;
    assert_eq!(slow.await.expect("join"), 200, "drained, not dropped");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn silent_and_garbage_clients_cannot_hold_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    // Garbage: a 400 from the HTTP layer, connection closed, nothing upstream.
    let mut garbage = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    garbage
        .write_all(b"\x16\x03\x01 not http at all\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        garbage.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "closed promptly");
    assert!(
        buf.is_empty() || buf.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );

    // Silent: connects and sends nothing; dropped after the 10 s head timeout.
    let mut silent = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    // A half-sent request head is dropped the same way.
    let mut slow = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    slow.write_all(b"GET /api/v1.0/campaigns/1 HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // Meanwhile others are served.
    assert_eq!(app.get("/api/v1.0/campaigns/1").await.status, 200);
    let started = tokio::time::Instant::now();
    let mut one = [0u8; 1];
    let n = tokio::time::timeout(std::time::Duration::from_secs(15), silent.read(&mut one))
        .await
        .expect("closed by the server")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let waited = started.elapsed();
    assert!(waited >= std::time::Duration::from_secs(8), "{waited:?}");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut rest),
    )
    .await
    .expect("closed by the server");
    assert_eq!(app.upstream().len(), 1);
}
