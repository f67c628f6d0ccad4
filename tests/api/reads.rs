//! Every Altur read through the gateway, over HTTP, against the simulator:
//! what Altur receives (the canonical target, the key, the gateway's own
//! headers and nothing else), what the caller gets (the body byte for byte,
//! hits, HEAD), the refusals that never reach Altur, each route's
//! freshness; and two properties: every spelling of a list query is one
//! upstream request (`reads/queries.rs`), and nothing outside the route
//! table reaches upstream (`reads/paths.rs`).
//!
//! Most tests run under tokio's paused clock: freshness is exact, and the
//! shared budget's waits take no real time.

use std::time::Duration;

use altur_gateway::sim::FIRST_MISSING_ID;
use http::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::helpers::{KEY, Resp, TestApp};

mod paths;
mod queries;

async fn advance(d: Duration) {
    tokio::time::sleep(d).await;
}

const JSON: &str = "application/json";

/// One read route as a caller spells it, and what Altur must receive.
struct Read {
    route: &'static str,
    /// Path and query as sent to the gateway.
    sent: &'static str,
    /// Path and query Altur must receive.
    target: &'static str,
    content_type: &'static str,
    /// False for `recording`: relayed, never stored.
    stored: bool,
}

/// Every read route of the SPEC's table, each spelled the long way round
/// (zero-padded ids, explicit defaults, shuffled or junk query strings).
const READS: [Read; 10] = [
    Read {
        route: "campaign_list",
        sent: "/api/v1.0/campaigns?status=active&pageSize=020&integration=phone_call",
        target: "/api/v1.0/campaigns?integration=phone_call&pageSize=20&status=active",
        content_type: JSON,
        stored: true,
    },
    Read {
        route: "campaign",
        sent: "/api/v1.0/campaigns/0042?utm_source=mail",
        target: "/api/v1.0/campaigns/42",
        content_type: JSON,
        stored: true,
    },
    Read {
        route: "contact_list",
        sent: "/api/v1.0/campaigns/007/contacts?pageIndex=00&status=queue&pageSize=50",
        target: "/api/v1.0/campaigns/7/contacts?status=queue",
        content_type: JSON,
        stored: true,
    },
    Read {
        route: "contact",
        sent: "/api/v1.0/campaigns/07/contacts/0007001?fields=all",
        target: "/api/v1.0/campaigns/7/contacts/7001",
        content_type: JSON,
        stored: true,
    },
    Read {
        route: "call_list",
        sent: "/api/v1.0/campaigns/008/calls?status=ended&answeredBy=human&pageIndex=0&pageSize=0010",
        target: "/api/v1.0/campaigns/8/calls?answeredBy=human&pageSize=10&status=ended",
        content_type: JSON,
        stored: true,
    },
    Read {
        route: "call",
        sent: "/api/v1.0/call/00000008-ca11-4000-8000-000000000001?expand=thread",
        target: "/api/v1.0/call/00000008-ca11-4000-8000-000000000001",
        content_type: JSON,
        stored: true,
    },
    Read {
        route: "recording",
        sent: "/api/v1.0/call/C-rec_1/recording?download=1",
        target: "/api/v1.0/call/C-rec_1/recording",
        content_type: "audio/mpeg",
        stored: false,
    },
    Read {
        route: "thread",
        sent: "/api/v1.0/thread/Th_1-a?x=1",
        target: "/api/v1.0/thread/Th_1-a",
        content_type: JSON,
        stored: true,
    },
    Read {
        route: "messages",
        sent: "/api/v1.0/message/Th_1-a?order=desc",
        target: "/api/v1.0/message/Th_1-a",
        content_type: JSON,
        stored: true,
    },
    Read {
        route: "enduser",
        sent: "/api/v1.0/enduser/u-9f_2?cache=no",
        target: "/api/v1.0/enduser/u-9f_2",
        content_type: JSON,
        stored: true,
    },
];

/// What a service still sends out of habit; none of it may reach Altur.
const CALLER_HEADERS: &[(&str, &str)] = &[
    ("authorization", "api-key the-services-old-key"),
    ("cookie", "session=1"),
    ("x-forwarded-for", "10.1.2.3"),
    ("accept-language", "es-MX"),
    ("accept", "*/*"),
    ("user-agent", "billing/1.2"),
    ("x-request-id", "caller-req-1"),
    ("if-none-match", "\"abc\""),
    ("x-custom", "1"),
];

/// The request Altur received is a GET of `target` carrying the key and
/// only the gateway's own headers.
fn assert_upstream_request(app: &TestApp, rec: &altur_gateway::sim::Recorded, target: &str) {
    assert_eq!(rec.method, Method::GET, "{target}");
    assert_eq!(rec.target, target);
    let mut names: Vec<&str> = rec.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["accept", "authorization", "host", "user-agent"],
        "{target}"
    );
    assert_eq!(
        rec.headers["authorization"],
        format!("api-key {KEY}").as_str()
    );
    assert_eq!(rec.headers["accept"], "application/json");
    assert_eq!(
        rec.headers["user-agent"],
        format!("altur-gateway/{}", env!("CARGO_PKG_VERSION")).as_str()
    );
    assert_eq!(rec.headers["host"], app.sim.addr().to_string().as_str());
    assert!(rec.body.is_empty(), "{target}: no body upstream");
}

fn miss_status(stored: bool) -> &'static str {
    if stored {
        "altur-gateway; fwd=miss; stored"
    } else {
        "altur-gateway; fwd=miss"
    }
}

#[tokio::test(start_paused = true)]
async fn every_read_reaches_altur_once_as_its_canonical_target_with_the_key() {
    let app = TestApp::spawn().await;
    for r in &READS {
        let before = app.upstream().len();
        let resp = app.request(Method::GET, r.sent, CALLER_HEADERS).await;
        let up = app.upstream();
        assert_eq!(up.len(), before + 1, "{}: one upstream request", r.route);
        let rec = &up[before];
        assert_upstream_request(&app, rec, r.target);
        assert_eq!(
            (resp.status.as_u16(), rec.status),
            (200, 200),
            "{}",
            r.route
        );
        assert_eq!(resp.body, rec.response, "{}: body byte for byte", r.route);
        assert!(!resp.body.is_empty(), "{}", r.route);
        assert_eq!(
            resp.header("content-type"),
            Some(r.content_type),
            "{}",
            r.route
        );
        assert_eq!(
            resp.header("cache-status"),
            Some(miss_status(r.stored)),
            "{}",
            r.route
        );
        assert_eq!(
            resp.header("age"),
            r.stored.then_some("0"),
            "{}: Age only when stored",
            r.route
        );
        assert_eq!(resp.header("x-request-id"), Some("caller-req-1"));
        assert!(resp.header("set-cookie").is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn a_second_read_is_a_hit_and_head_has_the_headers_without_the_body() {
    let app = TestApp::spawn().await;
    for r in &READS {
        let first = app.get(r.sent).await;
        assert_eq!(first.status, 200, "{}", r.route);
        let after_first = app.upstream().len();
        advance(Duration::from_secs(2)).await;

        // The canonical spelling and the caller's both find the entry.
        for spelling in [r.target, r.sent] {
            let again = app.get(spelling).await;
            assert_eq!(again.status, 200, "{spelling}");
            assert_eq!(again.body, first.body, "{spelling}");
            assert_eq!(again.header("content-type"), Some(r.content_type));
            if r.stored {
                assert_eq!(
                    again.header("cache-status"),
                    Some("altur-gateway; hit"),
                    "{spelling}"
                );
                assert_eq!(again.header("age"), Some("2"), "{spelling}");
            } else {
                assert_eq!(
                    again.header("cache-status"),
                    Some("altur-gateway; fwd=miss"),
                    "{spelling}: never stored"
                );
                assert!(again.header("age").is_none());
            }
        }

        let head = app.request(Method::HEAD, r.sent, &[]).await;
        assert_eq!(head.status, 200, "HEAD {}", r.route);
        assert!(head.body.is_empty(), "HEAD {}", r.route);
        assert_eq!(
            head.header("content-length"),
            Some(first.body.len().to_string().as_str()),
            "HEAD {}",
            r.route
        );
        assert_eq!(head.header("content-type"), Some(r.content_type));
        assert_eq!(
            head.header("cache-status"),
            Some(if r.stored {
                "altur-gateway; hit"
            } else {
                "altur-gateway; fwd=miss"
            }),
            "HEAD {}",
            r.route
        );

        let up = app.upstream();
        if r.stored {
            assert_eq!(
                up.len(),
                after_first,
                "{}: no second upstream request",
                r.route
            );
        } else {
            // Two GETs and a HEAD after the first: three more requests, all GETs.
            assert_eq!(
                up.len(),
                after_first + 3,
                "{}: every read goes upstream",
                r.route
            );
            for rec in &up[after_first..] {
                assert_upstream_request(&app, rec, r.target);
                assert_eq!(rec.response, first.body);
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_head_first_is_fetched_with_a_get_and_serves_the_next_get() {
    let app = TestApp::spawn().await;
    for r in &READS {
        let before = app.upstream().len();
        let head = app.request(Method::HEAD, r.sent, &[]).await;
        let up = app.upstream();
        assert_eq!(up.len(), before + 1, "HEAD {}", r.route);
        assert_upstream_request(&app, &up[before], r.target);
        assert_eq!(head.status, 200, "HEAD {}", r.route);
        assert!(head.body.is_empty(), "HEAD {}", r.route);
        assert_eq!(
            head.header("content-length"),
            Some(up[before].response.len().to_string().as_str()),
            "HEAD {}",
            r.route
        );
        assert_eq!(head.header("content-type"), Some(r.content_type));
        assert_eq!(head.header("cache-status"), Some(miss_status(r.stored)));

        let get = app.get(r.sent).await;
        assert_eq!(get.body, up[before].response, "{}", r.route);
        let (status, calls) = if r.stored {
            ("altur-gateway; hit", before + 1)
        } else {
            ("altur-gateway; fwd=miss", before + 2)
        };
        assert_eq!(get.header("cache-status"), Some(status), "{}", r.route);
        assert_eq!(app.upstream().len(), calls, "{}", r.route);
    }
}

/// A refusal: the gateway's JSON error with this status and code.
fn assert_refused(r: &Resp, status: u16, code: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {:?}", r.body);
    assert_eq!(r.header("content-type"), Some(JSON), "{what}");
    let body = r.json();
    assert_eq!(body["success"], false, "{what}");
    assert_eq!(body["error"]["code"], code, "{what}");
    assert!(r.header("cache-status").is_none(), "{what}");
}

/// Invalid path parameters: the route's shape, with each bad value.
#[tokio::test]
async fn invalid_path_parameters_are_400_and_never_reach_upstream() {
    let app = TestApp::spawn().await;
    let bad_ids = [
        "abc",
        "-1",
        "+1",
        "1.5",
        "1e3",
        "0x10",
        "%31",
        "%2e%2e",
        "..",
        "1%20",
        "99999999999999999999",
        "9223372036854775808",
    ];
    let mut cases: Vec<(String, &str, Option<&str>)> = Vec::new();
    for b in bad_ids {
        for shape in [
            "/api/v1.0/campaigns/{}",
            "/api/v1.0/campaigns/{}/contacts",
            "/api/v1.0/campaigns/{}/contacts/1",
            "/api/v1.0/campaigns/{}/calls?status=ended",
        ] {
            cases.push((shape.replace("{}", b), "invalid_campaign_id", None));
        }
        cases.push((
            format!("/api/v1.0/campaigns/1/contacts/{b}"),
            "invalid_parameter",
            Some("contact_id"),
        ));
    }
    let long = "x".repeat(65);
    for b in [
        "a.b", "%41", "a+b", "a~b", "a:b", "a%20b", ".", "..", "a%2Fb", "a@b", &long,
    ] {
        for (shape, name) in [
            ("/api/v1.0/call/{}", "call_id"),
            ("/api/v1.0/call/{}/recording", "call_id"),
            ("/api/v1.0/thread/{}", "thread_id"),
            ("/api/v1.0/message/{}", "thread_id"),
            ("/api/v1.0/enduser/{}", "enduser_id"),
        ] {
            cases.push((shape.replace("{}", b), "invalid_parameter", Some(name)));
        }
    }
    for (path, code, name) in &cases {
        for method in [Method::GET, Method::HEAD] {
            let r = app.request(method.clone(), path, &[]).await;
            if method == Method::HEAD {
                assert_eq!(r.status, 400, "HEAD {path}");
                assert!(r.body.is_empty());
                continue;
            }
            assert_refused(&r, 400, code, path);
            if let Some(name) = name {
                let message = r.json()["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                assert!(
                    message.contains(&format!("`{name}`")),
                    "{path}: {message} names {name}"
                );
            }
        }
        assert!(app.upstream().is_empty(), "{path} reached upstream");
    }
}

/// Invalid list queries: 400 `invalid_parameter` naming the parameter.
#[tokio::test]
async fn invalid_list_queries_are_400_naming_the_parameter_and_never_reach_upstream() {
    let app = TestApp::spawn().await;
    let contacts = "/api/v1.0/campaigns/7/contacts";
    let calls = "/api/v1.0/campaigns/8/calls";
    let campaigns = "/api/v1.0/campaigns";
    let long_cursor = "a".repeat(513);
    let cases: Vec<(&str, String, &str)> = vec![
        (contacts, "status=bogus".into(), "status"),
        (contacts, "status=QUEUE".into(), "status"),
        (contacts, "status=ended".into(), "status"),
        (contacts, "status=".into(), "status"),
        (contacts, "status".into(), "status"),
        (contacts, "status=queue&status=sent".into(), "status"),
        (contacts, "pageSize=0".into(), "pageSize"),
        (contacts, "pageSize=101".into(), "pageSize"),
        (contacts, "pageSize=-1".into(), "pageSize"),
        (contacts, "pageSize=1.5".into(), "pageSize"),
        (contacts, "pageSize=%zz".into(), "pageSize"),
        (contacts, "pageIndex=25001".into(), "pageIndex"),
        (
            contacts,
            "pageIndex=99999999999999999999".into(),
            "pageIndex",
        ),
        (contacts, "pageIndex=x".into(), "pageIndex"),
        (contacts, "pageindex=1".into(), "pageindex"),
        (contacts, "page=1".into(), "page"),
        (contacts, "status=queue&bogus=1".into(), "bogus"),
        (contacts, "cursor=abc".into(), "cursor"),
        (
            contacts,
            "startDate=2026-01-01&endDate=2026-01-02".into(),
            "startDate",
        ),
        (calls, "answeredBy=robot".into(), "answeredBy"),
        (calls, "status=queue".into(), "status"),
        (calls, "startDate=2026-01-01".into(), "endDate"),
        (calls, "endDate=2026-01-01".into(), "startDate"),
        (
            calls,
            "startDate=2026-02-30&endDate=2026-03-01".into(),
            "startDate",
        ),
        (
            calls,
            "startDate=2026-01-01&endDate=01/02/2026".into(),
            "endDate",
        ),
        (
            calls,
            "startDate=2026-01-01T10:00:00&endDate=2026-01-02".into(),
            "startDate",
        ),
        (calls, "pageIndex=25001".into(), "pageIndex"),
        (calls, "_=1712345678".into(), "_"),
        (campaigns, "agentId=not-a-uuid".into(), "agentId"),
        (
            campaigns,
            "agentId=3f2504e004f911d3a1290800200c9a66".into(),
            "agentId",
        ),
        (campaigns, "integration=sms".into(), "integration"),
        (campaigns, "status=running".into(), "status"),
        (campaigns, "pageSize=0".into(), "pageSize"),
        (campaigns, "pageSize=1000".into(), "pageSize"),
        (campaigns, "cursor=a%20b".into(), "cursor"),
        (campaigns, format!("cursor={long_cursor}"), "cursor"),
        (campaigns, "pageIndex=1".into(), "pageIndex"),
        (campaigns, "utm_source=x".into(), "utm_source"),
    ];
    for (path, query, name) in &cases {
        let target = format!("{path}?{query}");
        let r = app.get(&target).await;
        assert_refused(&r, 400, "invalid_parameter", &target);
        let message = r.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains(&format!("`{name}`")),
            "{target}: {message:?} names `{name}`"
        );
        assert!(app.upstream().is_empty(), "{target} reached upstream");
    }
}

/// Paths of no route's shape: 404 `not_found` from the gateway itself.
#[tokio::test]
async fn other_shapes_are_404_and_never_reach_upstream() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1.0/campaigns/",
        "/api/v1.0/campaigns//contacts",
        "/api/v1.0/campaigns/7/contacts/",
        "/api/v1.0/campaigns/7/calls/",
        "/api/v1.0/campaigns/7/calls/1",
        "/api/v1.0/campaigns/7/contacts/7001/x",
        "/api/v1.0/campaigns/7/../7",
        "/api/v1.0/campaigns/7/./contacts",
        "/api/v1.0/campaigns/7/%2e%2e/7",
        "/api/v1.0/campaigns%2F7",
        "/api/v1.0/campaigns/7/Contacts",
        "/api/v1.0/Campaigns/7",
        "/api/v1.0/call/",
        "/api/v1.0/call/c1/",
        "/api/v1.0/call/c1/recording/",
        "/api/v1.0/call/c1/recordings",
        "/api/v1.0/call/c1/recording/x",
        "/api/v1.0/calls/c1",
        "/api/v1.0/thread",
        "/api/v1.0/thread/",
        "/api/v1.0/threads/t1",
        "/api/v1.0/thread/t1/messages",
        "/api/v1.0/message/",
        "/api/v1.0/messages/t1",
        "/api/v1.0/enduser/",
        "/api/v1.0/endusers/u1",
        "/api/v1.0/enduser/u1/x",
        "/api/v1.0",
        "/api/v1.0/",
        "/api/v1.1/campaigns/7",
        "/API/v1.0/campaigns/7",
        "/api/v1.0%2Fcampaigns/7",
        "/api//v1.0/campaigns/7",
        "/campaigns/7",
        "/call/c1",
        "/",
    ] {
        for method in [Method::GET, Method::HEAD] {
            let r = app.request(method.clone(), path, &[]).await;
            if method == Method::HEAD {
                assert_eq!(r.status, 404, "HEAD {path}");
            } else {
                assert_refused(&r, 404, "not_found", path);
            }
        }
        assert!(app.upstream().is_empty(), "{path} reached upstream");
    }
}

/// Altur's own 404s are relayed as they came, and stored (but for a
/// recording) for the negative TTL.
#[tokio::test(start_paused = true)]
async fn altur_s_404s_are_relayed_as_they_came() {
    let app = TestApp::spawn().await;
    let missing = FIRST_MISSING_ID;
    for (path, stored) in [
        (format!("/api/v1.0/campaigns/{missing}"), true),
        (format!("/api/v1.0/campaigns/{missing}/contacts"), true),
        (format!("/api/v1.0/campaigns/{missing}/calls"), true),
        ("/api/v1.0/campaigns/7/contacts/999999".to_string(), true),
        ("/api/v1.0/call/missing-1".to_string(), true),
        ("/api/v1.0/call/missing-1/recording".to_string(), false),
        ("/api/v1.0/thread/missing-1".to_string(), true),
        ("/api/v1.0/message/missing-1".to_string(), true),
        ("/api/v1.0/enduser/missing-1".to_string(), true),
    ] {
        let before = app.upstream().len();
        let first = app.get(&path).await;
        let up = app.upstream();
        assert_eq!(up.len(), before + 1, "{path}");
        assert_eq!(
            (first.status.as_u16(), up[before].status),
            (404, 404),
            "{path}"
        );
        assert_eq!(
            first.body, up[before].response,
            "{path}: relayed as it came"
        );
        assert!(
            first.json()["error"]
                .as_str()
                .is_some_and(|e| e.ends_with("not found")),
            "{path}: Altur's shape, not the gateway's"
        );
        assert_eq!(first.header("cache-status"), Some(miss_status(stored)));
        let second = app.get(&path).await;
        assert_eq!(second.status, 404);
        assert_eq!(second.body, first.body);
        if stored {
            assert_eq!(
                second.header("cache-status"),
                Some("altur-gateway; hit"),
                "{path}"
            );
            assert_eq!(app.upstream().len(), before + 1, "{path}");
        } else {
            assert_eq!(app.upstream().len(), before + 2, "{path}: never stored");
        }
    }
}

/// The write methods the SPEC gives a read route's path, which `Allow` may
/// name besides GET and HEAD (once the write routes exist).
const READ_PATHS: [(&str, &[&str]); 10] = [
    ("/api/v1.0/campaigns", &["POST"]),
    ("/api/v1.0/campaigns/7", &["PATCH"]),
    ("/api/v1.0/campaigns/7/contacts", &["POST"]),
    ("/api/v1.0/campaigns/7/contacts/7001", &["DELETE"]),
    ("/api/v1.0/campaigns/7/calls", &[]),
    ("/api/v1.0/call/c1", &[]),
    ("/api/v1.0/call/c1/recording", &[]),
    ("/api/v1.0/thread/t1", &[]),
    ("/api/v1.0/message/t1", &[]),
    ("/api/v1.0/enduser/u1", &["PUT"]),
];

#[tokio::test]
async fn other_methods_on_a_read_path_are_405_with_allow_and_never_reach_upstream() {
    let app = TestApp::spawn().await;
    let methods = [
        "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PURGE", "PROPFIND",
    ];
    for (path, writes) in READ_PATHS {
        for m in methods.iter().filter(|m| !writes.contains(m)) {
            let method = Method::from_bytes(m.as_bytes()).expect("a method");
            let what = format!("{m} {path}");
            let r = app.request(method, path, &[]).await;
            assert_refused(&r, 405, "method_not_allowed", &what);
            let allow = r.header("allow").unwrap_or_default();
            let listed: Vec<&str> = allow.split(", ").collect();
            assert!(
                listed.starts_with(&["GET", "HEAD"]),
                "{what}: Allow {allow:?}"
            );
            assert!(
                listed[2..].iter().all(|w| writes.contains(w)),
                "{what}: Allow {allow:?} names only the SPEC's methods"
            );
        }
        assert!(app.upstream().is_empty(), "{path} reached upstream");
    }
}

/// A quarter second either side of each boundary.
const MARGIN: Duration = Duration::from_millis(250);

/// `path` answered `status`, then a hit until just before `ttl`, then
/// fetched again just after it.
async fn expires_after(app: &TestApp, path: &str, status: u16, ttl: Duration) {
    let before = app.upstream().len();
    let r = app.get(path).await;
    assert_eq!(r.status, status, "{path}");
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; fwd=miss; stored"),
        "{path}"
    );
    advance(ttl - MARGIN).await;
    let r = app.get(path).await;
    assert_eq!(
        r.header("cache-status"),
        Some("altur-gateway; hit"),
        "{path}: fresh at {:?}",
        ttl - MARGIN
    );
    let age = (ttl - MARGIN).as_secs().to_string();
    assert_eq!(r.header("age"), Some(age.as_str()), "{path}");
    assert_eq!(app.upstream().len(), before + 1, "{path}");
    advance(2 * MARGIN).await;
    let r = app.get(path).await;
    assert_eq!(r.status, status, "{path}");
    assert_ne!(
        r.header("cache-status"),
        Some("altur-gateway; hit"),
        "{path}: expired at {:?}",
        ttl + MARGIN
    );
    // A refresh may run in the background (stale-while-revalidate): let it.
    advance(Duration::from_millis(50)).await;
    assert_eq!(
        app.upstream().len(),
        before + 2,
        "{path}: fetched again after {ttl:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn each_route_keeps_its_own_freshness() {
    let app = TestApp::spawn().await;
    let s = Duration::from_secs;
    for (path, ttl) in [
        ("/api/v1.0/thread/t-ttl", s(5)),
        ("/api/v1.0/message/t-ttl", s(5)),
        ("/api/v1.0/campaigns/7/calls", s(10)),
        ("/api/v1.0/campaigns/7/contacts", s(10)),
        ("/api/v1.0/campaigns?status=active", s(10)),
        ("/api/v1.0/call/c-ttl", s(10)),
        ("/api/v1.0/campaigns/7", s(30)),
        ("/api/v1.0/campaigns/7/contacts/7001", s(30)),
        ("/api/v1.0/enduser/u-ttl", s(60)),
    ] {
        expires_after(&app, path, 200, ttl).await;
    }
}

#[tokio::test(start_paused = true)]
async fn every_route_keeps_a_404_for_five_seconds() {
    let app = TestApp::spawn().await;
    let missing = FIRST_MISSING_ID;
    for path in [
        format!("/api/v1.0/campaigns/{missing}"),
        format!("/api/v1.0/campaigns/{missing}/contacts"),
        format!("/api/v1.0/campaigns/{missing}/calls"),
        "/api/v1.0/campaigns/7/contacts/999999".to_string(),
        "/api/v1.0/call/missing-2".to_string(),
        "/api/v1.0/thread/missing-2".to_string(),
        "/api/v1.0/message/missing-2".to_string(),
        "/api/v1.0/enduser/missing-2".to_string(),
    ] {
        expires_after(&app, &path, 404, Duration::from_secs(5)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_route_s_ttl_can_be_overridden_without_moving_the_others() {
    let app = TestApp::builder()
        .set("cache.routes.call_list.ttl_seconds", "2")
        .start()
        .await;
    expires_after(
        &app,
        "/api/v1.0/campaigns/7/calls",
        200,
        Duration::from_secs(2),
    )
    .await;
    // The other lists keep their 10 s.
    expires_after(
        &app,
        "/api/v1.0/campaigns/7/contacts",
        200,
        Duration::from_secs(10),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_global_ttl_moves_only_the_routes_without_their_own() {
    let app = TestApp::builder()
        .set("cache.ttl_seconds", "3")
        .start()
        .await;
    expires_after(&app, "/api/v1.0/campaigns/7", 200, Duration::from_secs(3)).await;
    expires_after(
        &app,
        "/api/v1.0/campaigns/7/contacts/7001",
        200,
        Duration::from_secs(3),
    )
    .await;
    expires_after(&app, "/api/v1.0/enduser/u1", 200, Duration::from_secs(60)).await;
    expires_after(&app, "/api/v1.0/call/c1", 200, Duration::from_secs(10)).await;
}

#[tokio::test(start_paused = true)]
async fn each_page_of_a_list_is_its_own_entry() {
    let app = TestApp::spawn().await;
    for list in ["contacts", "calls"] {
        let before = app.upstream().len();
        let page0 = format!("/api/v1.0/campaigns/8/{list}?pageSize=20");
        let page1 = format!("/api/v1.0/campaigns/8/{list}?pageSize=20&pageIndex=1");
        let a = app.get(&page0).await;
        let b = app.get(&page1).await;
        assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
        assert_ne!(a.body, b.body, "{list}: two pages");
        let up = app.upstream();
        assert_eq!(up.len(), before + 2, "{list}: two upstream requests");
        assert_eq!(
            up[before].target,
            format!("/api/v1.0/campaigns/8/{list}?pageSize=20")
        );
        assert_eq!(
            up[before + 1].target,
            format!("/api/v1.0/campaigns/8/{list}?pageIndex=1&pageSize=20")
        );
        assert_eq!(a.body, up[before].response);
        assert_eq!(b.body, up[before + 1].response);
        // Each is a hit from now on, under any spelling.
        let a2 = app
            .get(&format!(
                "/api/v1.0/campaigns/08/{list}?pageIndex=0&pageSize=20"
            ))
            .await;
        let b2 = app
            .get(&format!(
                "/api/v1.0/campaigns/8/{list}?pageIndex=01&pageSize=020"
            ))
            .await;
        assert_eq!((a2.body, b2.body), (a.body, b.body));
        assert_eq!(a2.headers["cache-status"], "altur-gateway; hit");
        assert_eq!(b2.headers["cache-status"], "altur-gateway; hit");
        assert_eq!(app.upstream().len(), before + 2, "{list}");
    }
}

/// A current-thread runtime on tokio's paused clock, for tests that drive
/// the gateway from a proptest runner.
pub(crate) fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

/// Runs `cases` cases of `strategy` through `test`, panicking with the
/// (shrunk) failing input.
pub(crate) fn run_cases<S: Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}
