//! What an outside attack sent or planted, over the wire: requests HTTP/1.1
//! forbids, an upstream answering nonsense, and (with a real redis-server)
//! entries, pauses and locks crafted in the gateway's Redis keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::TestApp;

/// Sends raw bytes and reads until the server closes (bounded).
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the gateway closed the connection");
    String::from_utf8_lossy(&out).into_owned()
}

fn status_line(resp: &str) -> &str {
    resp.lines().next().unwrap_or_default()
}

fn json_body(resp: &str) -> serde_json::Value {
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {resp}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http11_request_without_exactly_one_host_is_400_and_never_reaches_upstream() {
    let app = TestApp::spawn().await;
    for request in [
        &b"GET /api/v1.0/campaigns/1 HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
        b"GET /api/v1.0/campaigns/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
        b"GET http://gw/api/v1.0/campaigns/1 HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
    ] {
        let resp = raw(app.addr, request).await;
        assert_eq!(status_line(&resp), "HTTP/1.1 400 Bad Request", "{resp}");
        let v = json_body(&resp);
        assert_eq!(v["error"]["code"], "invalid_parameter", "{resp}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("Host")),
            "{resp}"
        );
    }
    assert_eq!(app.sim.count(), 0, "no refused request reached upstream");
    // HTTP/1.0 has no Host rule; HTTP/1.1 with one Host is served as ever.
    let resp = raw(app.addr, b"GET /api/v1.0/campaigns/1 HTTP/1.0\r\n\r\n").await;
    assert!(status_line(&resp).ends_with("200 OK"), "{resp}");
    let resp = raw(
        app.addr,
        b"GET /api/v1.0/campaigns/1 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&resp), "HTTP/1.1 200 OK", "{resp}");
    assert_eq!(app.sim.count(), 1);
}

/// An "Altur" that answers every request with `status` (a tiny raw server,
/// since no HTTP library would send these), counting the requests.
async fn nonsense_upstream(status: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    tokio::spawn(async move {
        // Bounded: a test makes a handful of requests.
        for _ in 0..32 {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{{\"planted\":123}}"
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/api/v1.0"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_status_outside_200_to_599_is_502_upstream_unavailable() {
    for status in ["999", "600", "101"] {
        let (base, seen) = nonsense_upstream(status).await;
        let app = TestApp::builder()
            .set("upstream.base_url", &base)
            .start()
            .await;
        for _ in 0..2 {
            let r = app.get("/api/v1.0/campaigns/7").await;
            assert_eq!(r.status, 502, "{status}: {:?}", r.body);
            assert_eq!(r.code(), "upstream_unavailable", "{status}");
            assert!(!String::from_utf8_lossy(&r.body).contains("planted"));
        }
        assert_eq!(
            seen.load(Ordering::SeqCst),
            2,
            "{status}: asked once per read, nothing stored, no retry of a protocol failure"
        );
        app.stop().await;
    }
}

/// The finding: `ttl_seconds = u64::MAX` was accepted, then every miss
/// panicked (an instant past what `Instant` holds) after spending budget.
/// Now nothing past a year loads, and a gateway at every maximum serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_every_duration_at_its_maximum_serves_misses_and_hits() {
    const YEAR_S: &str = "31622400";
    const YEAR_MS: &str = "31622400000";
    let app = TestApp::builder()
        .set("cache.ttl_seconds", YEAR_S)
        .set("cache.negative_ttl_seconds", YEAR_S)
        .set("cache.stale_if_error_seconds", YEAR_S)
        .set("cache.routes.enduser.ttl_seconds", YEAR_S)
        .set("upstream.timeout_ms", YEAR_MS)
        .set("rate_limit.max_wait_ms", YEAR_MS)
        .set("server.header_timeout_ms", YEAR_MS)
        .set("server.idle_timeout_ms", YEAR_MS)
        .start()
        .await;
    for path in ["/api/v1.0/campaigns/3", "/api/v1.0/enduser/u-1"] {
        let miss = app.get(path).await;
        assert_eq!(miss.status, 200, "{path}");
        assert_eq!(
            miss.header("cache-status"),
            Some("altur-gateway; fwd=miss; stored")
        );
        let hit = app.get(path).await;
        assert_eq!(hit.header("cache-status"), Some("altur-gateway; hit"));
    }
    assert_eq!(app.sim.count(), 2);
}
