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

mod freshness;
mod paths;
mod queries;
mod refused;

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
