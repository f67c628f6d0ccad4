//! Over real HTTP: the key, the limit, faults, the record, and connections.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sim::{Fault, SimConfig, Simulator, campaign_body};

const KEY: &str = "k";

async fn sim(rate_limit: Option<u32>) -> Simulator {
    Simulator::start(SimConfig {
        key: KEY.into(),
        latency: Duration::ZERO,
        rate_limit,
    })
    .await
    .expect("starts")
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

struct Got {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

async fn call(
    c: &Client<HttpConnector, Full<Bytes>>,
    s: &Simulator,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> Result<Got, String> {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", s.addr()));
    if let Some(k) = key {
        req = req.header("authorization", format!("api-key {k}"));
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = c.request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Got {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

#[tokio::test]
async fn the_key_is_checked_and_everything_is_recorded() {
    let s = sim(None).await;
    let c = client();
    let r = call(&c, &s, Method::GET, "/api/v1.0/campaigns/42", Some(KEY), "")
        .await
        .expect("answer");
    assert_eq!(
        (r.status, r.body.as_ref()),
        (200, campaign_body(42).as_bytes())
    );
    assert_eq!(
        r.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let r = call(
        &c,
        &s,
        Method::GET,
        "/api/v1.0/campaigns/42",
        Some("wrong"),
        "",
    )
    .await
    .expect("answer");
    assert_eq!(r.status, 401);
    let r = call(&c, &s, Method::GET, "/api/v1.0/thread/t1", None, "")
        .await
        .expect("answer");
    assert_eq!(r.status, 401);
    let body = r#"{"display_name": "Rec"}"#;
    let r = call(
        &c,
        &s,
        Method::POST,
        "/api/v1.0/enduser?x=1",
        Some(KEY),
        body,
    )
    .await
    .expect("answer");
    assert_eq!(r.status, 201);
    let up = s.requests();
    assert_eq!(up.len(), 4);
    let last = &up[3];
    assert_eq!(
        (last.method.as_str(), last.target.as_str()),
        ("POST", "/api/v1.0/enduser?x=1")
    );
    assert_eq!(
        (last.body.as_ref(), last.response.as_ref(), last.status),
        (body.as_bytes(), r.body.as_ref(), 201)
    );
    assert_eq!(up[1].status, 401);
    assert_eq!(s.count(), 4);
    s.clear();
    assert_eq!(s.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn past_the_limit_is_429_with_retry_after() {
    let s = sim(Some(2)).await;
    let c = client();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = call(&c, &s, Method::GET, "/api/v1.0/campaigns/1", Some(KEY), "")
            .await
            .expect("answer");
        statuses.push(r.status);
        if r.status == 429 {
            assert_eq!(
                r.headers.get("retry-after").map(|v| v.as_bytes()),
                Some(&b"1"[..])
            );
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.set_rate_limit(None);
    for _ in 0..5 {
        assert_eq!(
            call(&c, &s, Method::GET, "/api/v1.0/campaigns/1", Some(KEY), "")
                .await
                .expect("answer")
                .status,
            200
        );
    }
}

#[tokio::test]
async fn a_close_fault_reads_the_body_then_drops_the_connection_and_acts_not() {
    let s = sim(None).await;
    let c = client();
    s.fault_for_path("/api/v1.0/call", Some(Fault::Close));
    let body = r#"{"agent_id": "a", "phone_number_to": "+5215512345678"}"#;
    assert!(
        call(&c, &s, Method::POST, "/api/v1.0/call", Some(KEY), body)
            .await
            .is_err(),
        "no answer"
    );
    let up = s.requests();
    assert_eq!((up[0].body.as_ref(), up[0].status), (body.as_bytes(), 0));
    assert!(s.shared.world().calls.is_empty(), "Altur did not act");
    assert_eq!(
        call(&c, &s, Method::GET, "/api/v1.0/call/x", Some(KEY), "")
            .await
            .expect("answer")
            .status,
        200,
        "other paths are healthy"
    );
    s.fault_for_path("/api/v1.0/call", Some(Fault::Status(503)));
    assert_eq!(
        call(&c, &s, Method::POST, "/api/v1.0/call", Some(KEY), body)
            .await
            .expect("answer")
            .status,
        503
    );
    s.fault_for_path("/api/v1.0/call", None);
    s.script([Fault::NoStore]);
    let r = call(&c, &s, Method::POST, "/api/v1.0/call", Some(KEY), body)
        .await
        .expect("answer");
    assert_eq!(
        (
            r.status,
            r.headers.get("cache-control").map(|v| v.as_bytes())
        ),
        (201, Some(&b"no-store"[..]))
    );
    assert_eq!(s.shared.world().calls.len(), 1, "a normal answer acts");
    s.fault_for(5, Some(Fault::Status(500)));
    assert_eq!(
        call(
            &c,
            &s,
            Method::GET,
            "/api/v1.0/campaigns/5/contacts",
            Some(KEY),
            ""
        )
        .await
        .expect("answer")
        .status,
        200,
        "fault_for is the exact path"
    );
    assert_eq!(
        call(&c, &s, Method::GET, "/api/v1.0/campaigns/5", Some(KEY), "")
            .await
            .expect("answer")
            .status,
        500
    );
}

#[tokio::test]
async fn replays_are_recorded_as_arrivals() {
    let s = sim(None).await;
    let c = client();
    let body = r#"{"display_name": "Once"}"#;
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let req = Request::post(format!("http://{}/api/v1.0/enduser", s.addr()))
            .header("authorization", format!("api-key {KEY}"))
            .header("idempotency-key", "abc")
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        let resp = c.request(req).await.expect("answer");
        bodies.push(resp.into_body().collect().await.expect("body").to_bytes());
    }
    assert_eq!(bodies[0], bodies[1]);
    let replayed: Vec<_> = s.requests().iter().map(|r| r.replayed).collect();
    assert_eq!(replayed, [false, true]);
    assert_eq!(s.shared.world().end_users.len(), 1);
}

async fn raw_get(stream: &mut tokio::net::TcpStream) -> String {
    let req = format!(
        "GET /api/v1.0/campaigns/1 HTTP/1.1\r\nHost: x\r\nAuthorization: api-key {KEY}\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 8192];
    let n = stream.read(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn close_idle_connections_closes_only_the_idle_ones() {
    let s = sim(None).await;
    let mut idle = tokio::net::TcpStream::connect(s.addr())
        .await
        .expect("connect");
    assert!(raw_get(&mut idle).await.starts_with("HTTP/1.1 200"));

    // A second connection with a request in flight (slow answer) stays.
    s.set_latency(Duration::from_millis(400));
    let mut busy = tokio::net::TcpStream::connect(s.addr())
        .await
        .expect("connect");
    let in_flight = tokio::spawn(async move {
        let head = raw_get(&mut busy).await;
        (head, busy)
    });
    // Wait until the simulator has the request (it is then in flight).
    for _ in 0..200 {
        if s.count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(s.close_idle_connections().await, 1, "only the idle one");
    let mut one = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut one))
        .await
        .expect("closed promptly");
    assert_eq!(n.unwrap_or(0), 0, "the pooled connection is found dead");
    let (head, mut busy) = in_flight.await.expect("join");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "the request in flight was answered: {head}"
    );
    s.set_latency(Duration::ZERO);
    assert!(
        raw_get(&mut busy).await.starts_with("HTTP/1.1 200"),
        "and its connection lives on"
    );

    // A pooling client notices and reconnects.
    let c = client();
    call(&c, &s, Method::GET, "/api/v1.0/campaigns/2", Some(KEY), "")
        .await
        .expect("answer");
    assert!(s.close_idle_connections().await >= 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    call(&c, &s, Method::GET, "/api/v1.0/campaigns/3", Some(KEY), "")
        .await
        .expect("answer");
    let conns: Vec<u64> = s.requests().iter().map(|r| r.conn).collect();
    let n = conns.len();
    assert_ne!(
        conns[n - 1],
        conns[n - 2],
        "a new connection after the close: {conns:?}"
    );
}

#[tokio::test]
async fn garbage_gets_an_answer_or_a_closed_connection_never_a_panic() {
    let s = sim(None).await;
    for junk in [&b"\x16\x03\x01 not http\r\n\r\n"[..], b"GET /%ff%00 HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /api/v1.0/message HTTP/1.1\r\nHost: x\r\nAuthorization: api-key k\r\nContent-Length: 3\r\n\r\n\xff\xfe\x00"] {
        let mut t = tokio::net::TcpStream::connect(s.addr()).await.expect("connect");
        t.write_all(junk).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(2), t.read(&mut buf)).await.expect("answered or closed");
    }
    let c = client();
    assert_eq!(
        call(&c, &s, Method::GET, "/api/v1.0/campaigns/1", Some(KEY), "")
            .await
            .expect("still serving")
            .status,
        200
    );
}

#[tokio::test]
async fn an_oversized_body_is_413_and_recorded() {
    let s = sim(None).await;
    let c = client();
    let big = "x".repeat(5 * 1024 * 1024);
    let r = call(&c, &s, Method::POST, "/api/v1.0/enduser", Some(KEY), &big).await;
    // The answer may race the rest of the upload (then the client sees a
    // reset); the record says what the simulator did either way.
    assert!(r.as_ref().map_or(true, |r| r.status == 413));
    assert_eq!(s.requests().first().map(|r| r.status), Some(413));
    assert!(s.shared.world().end_users.is_empty());
}
