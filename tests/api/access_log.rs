//! The access line: its fields, probes at debug, and a caller that hangs up
//! while its request waits, logged and counted as 499 as nginx does.

use std::time::Duration;

use altur_gateway::sim::{SimConfig, Simulator};
use http::Method;
use tokio::io::AsyncWriteExt;

use crate::binary::{Child, free_port, gateway, get, get_with, wait_until_serving};
use crate::helpers::{TestApp, caller};

/// Sends `head` (and `body`) on a fresh connection, then hangs up after
/// `after` without reading the answer.
async fn hang_up(addr: &str, head: &str, body: &str, after: Duration) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write head");
    s.write_all(body.as_bytes()).await.expect("write body");
    tokio::time::sleep(after).await;
    drop(s);
}

/// Polls `/metrics` (bounded) until it has `series`; returns the text.
async fn metrics_with(port: u16, series: &str) -> String {
    for _ in 0..100 {
        let (_, text) = get(port, "/metrics").await;
        if text.contains(series) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {series} in /metrics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_lines_name_client_agent_bytes_upstream_status_and_a_hang_up_is_499() {
    let sim = Simulator::start(SimConfig {
        key: "access-key".into(),
        latency: Duration::from_millis(400),
        rate_limit: None,
    })
    .await
    .expect("sim");
    let port = free_port();
    let child = Child::spawn(
        gateway()
            .env("ALTUR_API_KEY", "access-key")
            .env("RUST_LOG", "info,altur_gateway::access=debug")
            .env("ALTUR_GATEWAY__LOG__FORMAT", "json")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("ALTUR_GATEWAY__UPSTREAM__BASE_URL", sim.base_url()),
    );
    wait_until_serving(port).await;

    let (status, body) = get_with(
        port,
        "/api/v1.0/campaigns/3",
        &[
            ("user-agent", "ops-test/1.0"),
            ("x-request-id", "req-miss-1"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(get(port, probe).await.0, 200);
    }
    // Hangs up while its request is in flight upstream (400 ms).
    hang_up(
        &format!("127.0.0.1:{port}"),
        "GET /api/v1.0/campaigns/4 HTTP/1.1\r\nhost: gw\r\nuser-agent: quitter/2\r\nx-request-id: req-gone-1\r\n\r\n",
        "",
        Duration::from_millis(150),
    )
    .await;
    let series = "altur_gateway_requests_total{route=\"campaign\",status=\"499\",cache=\"miss\",caller=\"anonymous\"} 1";
    metrics_with(port, series).await;
    sim.set_key("another-key");
    let (status, _) = get_with(
        port,
        "/api/v1.0/campaigns/5",
        &[("x-request-id", "req-auth-1")],
    )
    .await;
    assert_eq!(status, 502);

    child.sigterm();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(10)))
            .await
            .expect("join");
    assert_eq!(code, 0, "{err}");
    let lines = crate::binary::json_lines(&out);
    let line = |id: &str| {
        lines
            .iter()
            .find(|l| l["message"] == "request" && l["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id}:\n{out}"))
            .clone()
    };
    let miss = line("req-miss-1");
    assert_eq!(miss["level"], "INFO");
    assert_eq!(miss["target"], "altur_gateway::access");
    assert_eq!(miss["method"], "GET");
    assert_eq!(miss["path"], "/api/v1.0/campaigns/3");
    assert_eq!(miss["route"], "campaign");
    assert_eq!(miss["caller"], "anonymous");
    assert_eq!(miss["status"], 200);
    assert_eq!(miss["cache"], "miss");
    assert_eq!(miss["upstream_status"], 200);
    assert_eq!(miss["bytes_sent"], body.len() as u64);
    assert_eq!(miss["client"], "127.0.0.1");
    assert!(
        miss["client_port"].as_u64().is_some_and(|p| p > 0),
        "{miss}"
    );
    assert_eq!(miss["user_agent"], "ops-test/1.0");
    assert!(miss["upstream_wait_ms"].is_u64() && miss["latency_us"].as_u64() >= Some(400_000));

    let gone = line("req-gone-1");
    assert_eq!(gone["level"], "INFO");
    assert_eq!(gone["status"], 499, "{gone}");
    assert_eq!(gone["cache"], "miss");
    assert_eq!(gone["user_agent"], "quitter/2");
    assert_eq!(gone["bytes_sent"], 0);
    assert!(gone.get("upstream_status").is_none(), "{gone}");

    let auth = line("req-auth-1");
    assert_eq!(auth["status"], 502);
    assert_eq!(
        auth["upstream_status"], 401,
        "what upstream said, not what we did"
    );

    for probe in ["/healthz", "/readyz", "/metrics"] {
        let l = lines
            .iter()
            .find(|l| l["message"] == "request" && l["path"] == probe)
            .unwrap_or_else(|| panic!("no line for {probe}"));
        assert_eq!(l["level"], "DEBUG", "probes log at debug: {l}");
    }
}

#[tokio::test]
async fn a_write_whose_caller_hangs_up_while_queued_is_499_and_never_sent() {
    const W: &str = "tok-writer-499";
    const CALL: &str = r#"{"agent_id": "8f3e1c2a-0000-4000-8000-000000000001", "phone_number_to": "+525512345678"}"#;
    let app = TestApp::builder()
        .set("rate_limit.requests_per_second", "1")
        .callers(&caller("writer", W, &["read", "write"], 1, None))
        .start()
        .await;
    let first = app
        .write_as(W, Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    assert_eq!(first.status, 201);
    // The budget is spent for a second: this one waits in the queue.
    let head = format!(
        "POST /api/v1.0/call HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {W}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        CALL.len()
    );
    hang_up(
        &app.addr.to_string(),
        &head,
        CALL,
        Duration::from_millis(200),
    )
    .await;
    let series = "altur_gateway_requests_total{route=\"call_start\",status=\"499\",cache=\"bypass\",caller=\"writer\"} 1";
    let mut counted = false;
    for _ in 0..100 {
        let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
        if text.contains(series) {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(counted, "the hang-up is counted");
    // Past the second it would have waited: it gave its place back.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let sent = app
        .upstream()
        .iter()
        .filter(|r| r.method == Method::POST && r.target == "/api/v1.0/call")
        .count();
    assert_eq!(sent, 1, "the write that was left never reached Altur");
}
