//! Writes through the gateway: the key never leaves, a write is never sent
//! twice unless Altur certainly did not act on it, and reads see it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use altur_gateway::sim::{Fault, SimConfig, Simulator};
use futures_util::future::join_all;
use http::Method;

use crate::helpers::{KEY, TestApp, caller};

mod once;

const W: &str = "tok-writer-31ab";

fn writer() -> String {
    caller("writer", W, &["read", "write"], 1, None)
}

async fn app() -> TestApp {
    TestApp::builder().callers(&writer()).start().await
}

const CALL: &str =
    r#"{"agent_id": "8f3e1c2a-0000-4000-8000-000000000001", "phone_number_to": "+525512345678"}"#;

fn arrivals(app: &TestApp, method: &Method, path: &str) -> usize {
    app.upstream()
        .iter()
        .filter(|r| r.method == *method && r.target == path)
        .count()
}

#[tokio::test]
async fn a_write_goes_through_with_the_body_unchanged_and_only_its_own_headers() {
    let app = app().await;
    let body = "{ \"agent_id\" : \"8f3e1c2a-0000-4000-8000-000000000001\",\n  \"phone_number_to\": \"+525512345678\" }";
    let r = app
        .write_as(
            W,
            Method::POST,
            "/api/v1.0/call?x=1",
            body,
            &[
                ("idempotency-key", "call-7f2"),
                ("cookie", "s=1"),
                ("x-custom", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("cache-status"), Some("altur-gateway; fwd=bypass"));
    assert!(
        r.json()["id"].is_string(),
        "the simulator's call: {:?}",
        r.body
    );
    let up = app.upstream();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].method, Method::POST);
    assert_eq!(up[0].target, "/api/v1.0/call", "no query upstream");
    assert_eq!(&up[0].body[..], body.as_bytes(), "byte for byte");
    assert_eq!(r.body, up[0].response, "relayed byte for byte");
    let mut names: Vec<_> = up[0]
        .headers
        .keys()
        .map(|k| k.as_str().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "accept",
            "authorization",
            "content-length",
            "content-type",
            "host",
            "idempotency-key",
            "user-agent"
        ]
    );
    assert_eq!(
        up[0].headers["authorization"],
        format!("api-key {KEY}").as_str()
    );
    assert_eq!(up[0].headers["idempotency-key"], "call-7f2");
    // A second identical write is a second write: never answered from a cache.
    let again = app
        .write_as(W, Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(arrivals(&app, &Method::POST, "/api/v1.0/call"), 2);
}

#[tokio::test]
async fn writes_need_a_write_scope() {
    let app = TestApp::builder()
        .callers(&caller(
            "reader",
            "tok-r",
            &["read", "calls:write"],
            1,
            None,
        ))
        .start()
        .await;
    let anon = app
        .send(
            Method::PATCH,
            "/api/v1.0/campaigns/7",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(anon.status, 403, "no callers file grants anonymous writes");
    assert!(
        anon.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("campaigns:write"))
    );
    let r = app
        .write_as("tok-r", Method::PATCH, "/api/v1.0/campaigns/7", "{}", &[])
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .write_as("tok-r", Method::POST, "/api/v1.0/call", CALL, &[])
        .await;
    assert_eq!(r.status, 201, "calls:write reaches call_start");
    assert_eq!(app.upstream().len(), 1);
}

#[tokio::test]
async fn bad_bodies_are_refused_before_anything_reaches_upstream() {
    let app = TestApp::builder()
        .callers(&writer())
        .set("upstream.max_request_body_bytes", "1024")
        .start()
        .await;
    let bearer = format!("Bearer {W}");
    let auth = ("authorization", bearer.as_str());
    let json = ("content-type", "application/json");
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(2000));
    let long_key = "k".repeat(256);
    for (headers, body, status, code) in [
        (
            vec![auth, ("content-type", "text/plain")],
            CALL,
            415,
            "unsupported_media_type",
        ),
        (vec![auth], CALL, 415, "unsupported_media_type"),
        (vec![auth, json], big.as_str(), 413, "payload_too_large"),
        (vec![auth, json], "{not json", 400, "invalid_json"),
        (vec![auth, json], "", 400, "invalid_json"),
        (
            vec![auth, json, ("idempotency-key", long_key.as_str())],
            CALL,
            400,
            "invalid_parameter",
        ),
        (
            vec![auth, json, ("idempotency-key", "a b")],
            CALL,
            400,
            "invalid_parameter",
        ),
    ] {
        let r = app
            .send(Method::POST, "/api/v1.0/call", &headers, body)
            .await;
        assert_eq!(r.status, status, "{headers:?} {body:.40}");
        assert_eq!(r.code(), code);
    }
    // A body cut at the limit while it streams in (no Content-Length).
    let stream = futures_util::stream::iter((0..8).map(|_| {
        Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(bytes::Bytes::from(vec![
            b' ';
            256
        ])))
    }));
    let req = http::Request::post(app.url("/api/v1.0/call"))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(http_body_util::StreamBody::new(stream))
        .expect("request");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = client.request(req).await.expect("answer");
    assert_eq!(resp.status(), 413, "cut while reading");
    assert!(app.upstream().is_empty(), "nothing reached upstream");

    // Actions and deletes may come without a body (and then without a type).
    let r = app
        .request(Method::POST, "/api/v1.0/campaigns/7/pause", &[auth])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .request(
            Method::DELETE,
            "/api/v1.0/campaigns/7/contacts/7001",
            &[auth],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let up = app.upstream();
    assert_eq!(up.len(), 2);
    assert!(
        up.iter()
            .all(|r| r.body.is_empty() && !r.headers.contains_key("content-type"))
    );
}

#[tokio::test]
async fn a_patch_drops_the_campaign_and_the_next_read_has_the_new_name() {
    let app = app().await;
    let first = app.get_as(W, "/api/v1.0/campaigns/7").await;
    assert_eq!(
        first.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    let hit = app.get_as(W, "/api/v1.0/campaigns/7").await;
    assert_eq!(hit.header("cache-status"), Some("altur-gateway; hit"));
    assert_eq!(
        app.get("/api/v1.0/campaigns?status=active").await.status,
        200
    );
    let r = app
        .write_as(
            W,
            Method::PATCH,
            "/api/v1.0/campaigns/007",
            r#"{"name": "Renamed"}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let after = app.get_as(W, "/api/v1.0/campaigns/7").await;
    assert_eq!(
        after.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    assert_eq!(after.json()["campaign"]["name"], "Renamed");
    let list = app.get("/api/v1.0/campaigns?status=active").await;
    assert_eq!(
        list.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored"),
        "every campaign_list entry dropped"
    );
}

#[tokio::test]
async fn a_new_contact_drops_that_campaigns_pages_and_not_anothers() {
    let app = app().await;
    let pages = [
        "/api/v1.0/campaigns/7/contacts",
        "/api/v1.0/campaigns/7/contacts?pageIndex=1",
        "/api/v1.0/campaigns/8/contacts",
    ];
    for p in pages {
        assert_eq!(app.get(p).await.status, 200);
        assert_eq!(
            app.get(p).await.header("cache-status"),
            Some("altur-gateway; hit"),
            "{p}"
        );
    }
    assert_eq!(app.get("/api/v1.0/campaigns/7").await.status, 200);
    let r = app
        .write_as(
            W,
            Method::POST,
            "/api/v1.0/campaigns/7/contacts",
            r#"{"contacts": [{"contact": "+525500000001", "name": "Ana"}]}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let miss = Some("altur-gateway; fwd=miss; stored");
    assert_eq!(app.get(pages[0]).await.header("cache-status"), miss);
    assert_eq!(app.get(pages[1]).await.header("cache-status"), miss);
    assert_eq!(
        app.get("/api/v1.0/campaigns/7")
            .await
            .header("cache-status"),
        miss
    );
    assert_eq!(
        app.get(pages[2]).await.header("cache-status"),
        Some("altur-gateway; hit"),
        "campaign 8 untouched"
    );
}

#[tokio::test]
async fn a_read_in_flight_across_a_write_is_not_stored_and_not_joined() {
    let app = Arc::new(app().await);
    // The next request (the GET) is answered 800 ms late; the PATCH lands meanwhile.
    app.sim.script([Fault::Delay(Duration::from_millis(800))]);
    let slow = {
        let app = app.clone();
        tokio::spawn(async move { app.get("/api/v1.0/campaigns/12").await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = app
        .write_as(
            W,
            Method::PATCH,
            "/api/v1.0/campaigns/12",
            r#"{"name": "After"}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The writer's next read does not join the flight sent before its write.
    let next = app.get("/api/v1.0/campaigns/12").await;
    assert_eq!(
        next.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored")
    );
    assert_eq!(next.json()["campaign"]["name"], "After");
    let old = slow.await.expect("join");
    assert_eq!(old.status, 200);
    assert_eq!(
        old.header("cache-status"),
        Some("altur-gateway; fwd=miss"),
        "sent before the write: relayed to its caller, never stored"
    );
    let again = app.get("/api/v1.0/campaigns/12").await;
    assert_eq!(again.header("cache-status"), Some("altur-gateway; hit"));
    assert_eq!(again.json()["campaign"]["name"], "After");
    assert_eq!(arrivals(&app, &Method::GET, "/api/v1.0/campaigns/12"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_share_one_window_and_never_exceed_it() {
    let app = Arc::new(
        TestApp::builder()
            .callers(&writer())
            .set("rate_limit.max_wait_ms", "20000")
            .set("rate_limit.margin_ms", "100")
            .start()
            .await,
    );
    let body = r#"{"display_name": "Ana", "info": {}}"#;
    let calls = (0..60).map(|i| {
        let app = app.clone();
        async move {
            if i % 2 == 0 {
                app.get(&format!("/api/v1.0/campaigns/{}", 500 + i))
                    .await
                    .status
                    .as_u16()
            } else {
                app.write_as(W, Method::POST, "/api/v1.0/enduser", body, &[])
                    .await
                    .status
                    .as_u16()
            }
        }
    });
    let statuses = join_all(calls).await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 201),
        "{statuses:?}"
    );
    let up = app.upstream();
    assert_eq!(up.len(), 60, "30 reads and 30 writes, each once");
    assert!(
        up.iter().all(|r| r.status < 300),
        "the simulator's strict window never tripped"
    );
    let at: Vec<_> = up.iter().map(|r| r.at).collect();
    assert!(crate::helpers::max_in_window(&at, Duration::from_secs(1)) <= 12);
}
