//! Rough edges operators of nginx and Envoy would trip on: the demo's
//! address, colour codes in piped logs, a bind error that says what to
//! change, and `Retry-After` values that send refused callers back together.

use std::collections::BTreeSet;
use std::time::Duration;

use altur_gateway::sim::Fault;
use http::Method;

use crate::binary::{Child, free_port, gateway, get, output, wait_until_serving};
use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_listens_on_loopback_by_default() {
    let mut child = Child::spawn(gateway().arg("demo"));
    // It either serves on 127.0.0.1:8080 or, if that port is taken on this
    // machine, fails naming it: both show where it tried to listen.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if child.stdout().contains("altur-gateway demo:") || child.exited().is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "neither served nor failed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if child.exited().is_some() {
        let (code, _, err) = child.finish(Duration::from_secs(1));
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("cannot listen on 127.0.0.1:8080"), "{err}");
        return;
    }
    let banner = child.stdout();
    assert!(
        banner.contains("gateway on http://127.0.0.1:8080 (loopback only"),
        "{banner}"
    );
    assert_eq!(get(8080, "/healthz").await.0, 200);
    // Bound to 127.0.0.1, not to every address: 127.0.0.2 is this machine
    // too, and a socket on 0.0.0.0 would answer there.
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.2", 8080))
            .await
            .is_err(),
        "the demo answers on an address other than 127.0.0.1"
    );
    child.sigterm();
    let (code, _, _) = tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(10)))
        .await
        .expect("join");
    assert_eq!(code, 0);
}

#[test]
fn a_taken_address_is_named_with_the_setting_that_moves_it() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = held.local_addr().expect("addr");
    let (code, _, err) = output(
        gateway()
            .env("ALTUR_API_KEY", "k")
            .env("ALTUR_GATEWAY__LISTEN", addr.to_string()),
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(
        err.contains("`listen`") && err.contains("ALTUR_GATEWAY__LISTEN"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_into_a_pipe_have_no_colour_codes() {
    let port = free_port();
    let child = Child::spawn(
        gateway()
            .env("ALTUR_API_KEY", "k")
            .env("RUST_LOG", "debug")
            .env("ALTUR_GATEWAY__LOG__FORMAT", "text")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}")),
    );
    wait_until_serving(port).await;
    assert_eq!(get(port, "/healthz").await.0, 200);
    child.sigterm();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(10)))
            .await
            .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("altur-gateway serving"), "{out}");
    assert!(out.contains("INFO"), "{out}");
    assert!(
        !out.contains('\x1b'),
        "ANSI escape codes in a pipe:\n{out:?}"
    );
}

/// Callers refused together get `Retry-After` spread over their expected
/// wait: its ceiling plus a jitter from the request id, the same for the
/// same request id.
#[tokio::test]
async fn retry_after_on_upstream_busy_is_spread_by_request_id() {
    let app = TestApp::spawn().await;
    // A 429 asking for 30 s pauses the whole queue: every new request's
    // expected wait is ~30 s, past max_wait_ms (10 s), so it is refused.
    app.sim.script([Fault::TooMany(Some("30".into()))]);
    let first = app.get("/api/v1.0/campaigns/1").await;
    assert_eq!(first.status, 503);
    let mut seen = BTreeSet::new();
    let mut by_id = Vec::new();
    for i in 0..20 {
        let id = format!("busy-{i}");
        let r = app
            .request(
                Method::GET,
                &format!("/api/v1.0/campaigns/{}", 100 + i),
                &[("x-request-id", &id)],
            )
            .await;
        assert_eq!(r.status, 503);
        assert_eq!(r.code(), "upstream_busy");
        let secs: u64 = r
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in seconds");
        // ceil(~29.9 s) = 30, plus 0 to ceil(30 / 4) = 8.
        assert!((30..=38).contains(&secs), "{secs}");
        seen.insert(secs);
        by_id.push((id, secs));
    }
    assert!(seen.len() >= 3, "spread, not one value for all: {seen:?}");
    let (id, secs) = &by_id[0];
    let again = app
        .request(
            Method::GET,
            "/api/v1.0/campaigns/99",
            &[("x-request-id", id)],
        )
        .await;
    assert_eq!(again.header("retry-after"), Some(secs.to_string().as_str()));
    assert_eq!(app.upstream().len(), 1, "refusals never reach Altur");
}
