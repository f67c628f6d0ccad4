//! Callers through HTTP: who may ask (401), what they may reach (403), each
//! one's own rate (429), the callers file reloaded, and the budget shared
//! fairly between callers competing for it.

use std::time::Duration;

use futures_util::future::join_all;
use http::Method;

use crate::helpers::{KEY, TestApp, caller};

const BILLING: &str = "tok-billing-4c1f";
const OPS: &str = "tok-ops-77aa";

fn two_callers() -> String {
    caller("billing", BILLING, &["campaigns:read"], 2, None)
        + &caller("ops", OPS, &["read"], 1, None)
}

#[tokio::test]
async fn who_may_ask_and_what_they_reach_and_no_refusal_reaches_upstream() {
    let app = TestApp::builder().callers(&two_callers()).start().await;
    let campaign = "/api/v1.0/campaigns/7";
    let contacts = "/api/v1.0/campaigns/7/contacts";

    // No token, or the old api-key header: the anonymous caller, who may read.
    assert_eq!(app.get(campaign).await.status, 200);
    let old = app
        .request(
            Method::GET,
            campaign,
            &[("authorization", "api-key sk-old")],
        )
        .await;
    assert_eq!(old.status, 200, "an old api-key header is anonymous");
    // A token no caller has.
    let r = app.get_as("tok-nobody", campaign).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "unauthenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    // A route outside the caller's scopes.
    let r = app.get_as(BILLING, contacts).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "forbidden");
    let message = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("contacts:read"), "{message}");
    // In scope.
    assert_eq!(
        app.get_as(BILLING, "/api/v1.0/campaigns/8").await.status,
        200
    );
    assert_eq!(app.get_as(OPS, contacts).await.status, 200);

    let up = app.upstream();
    let targets: Vec<&str> = up.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/api/v1.0/campaigns/7",
            "/api/v1.0/campaigns/8",
            "/api/v1.0/campaigns/7/contacts"
        ],
        "refusals never reach upstream"
    );
    for r in &up {
        assert_eq!(
            r.headers["authorization"],
            format!("api-key {KEY}").as_str()
        );
        for token in [BILLING, OPS, "sk-old"] {
            assert!(
                r.headers.iter().all(|(_, v)| !v
                    .as_bytes()
                    .windows(token.len())
                    .any(|w| w == token.as_bytes())),
                "a caller's token reached upstream"
            );
        }
    }

    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    for (caller, reason) in [("unknown", "unauthenticated"), ("billing", "forbidden")] {
        let series =
            format!("altur_gateway_refusals_total{{caller=\"{caller}\",reason=\"{reason}\"}} 1");
        assert!(text.contains(&series), "{series}\n{text}");
    }
    assert!(text.contains("altur_gateway_requests_total{route=\"campaign\",status=\"200\",cache=\"miss\",caller=\"billing\"} 1"), "{text}");
    assert!(!text.contains(BILLING) && !text.contains(OPS));
}

#[tokio::test]
async fn with_no_anonymous_scopes_every_request_needs_a_token() {
    let app = TestApp::builder()
        .callers(&two_callers())
        .set("callers.anonymous_scopes", "")
        .start()
        .await;
    for headers in [
        vec![],
        vec![("authorization", "api-key sk-old")],
        vec![("authorization", "Bearer ")],
    ] {
        let r = app
            .request(Method::GET, "/api/v1.0/campaigns/7", &headers)
            .await;
        assert_eq!(r.status, 401, "{headers:?}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    assert_eq!(app.get_as(OPS, "/api/v1.0/campaigns/7").await.status, 200);
    // The gateway's own routes need no token.
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/metrics").await.status, 200);
    assert_eq!(app.upstream().len(), 1);
}

#[tokio::test]
async fn a_caller_over_its_rate_is_refused_and_the_others_are_not() {
    let callers =
        caller("slow", "tok-slow", &["read"], 1, Some(2)) + &caller("ops", OPS, &["read"], 1, None);
    let app = TestApp::builder().callers(&callers).start().await;
    let mut slow = Vec::new();
    for _ in 0..5 {
        slow.push(app.get_as("tok-slow", "/api/v1.0/campaigns/7").await);
    }
    let statuses: Vec<u16> = slow.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(&statuses[..2], [200, 200], "a burst of one second's worth");
    assert!(statuses[2..].iter().all(|s| *s == 429), "{statuses:?}");
    let refused = &slow[4];
    assert_eq!(refused.code(), "caller_rate_limited");
    assert!(
        refused
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "{:?}",
        refused.headers
    );
    for _ in 0..5 {
        assert_eq!(
            app.get_as(OPS, "/api/v1.0/campaigns/7").await.status,
            200,
            "ops is untouched"
        );
    }
    assert_eq!(app.upstream().len(), 1, "hits and refusals spend no budget");
    // A second later the slow caller may ask again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        app.get_as("tok-slow", "/api/v1.0/campaigns/7").await.status,
        200
    );
}

#[tokio::test]
async fn the_callers_file_is_reloaded_and_a_broken_one_keeps_the_last_good() {
    let app = TestApp::builder()
        .callers(&caller("ops", OPS, &["read"], 1, None))
        .start()
        .await;
    let path = app.callers_path().to_path_buf();
    assert_eq!(
        app.get_as("tok-new", "/api/v1.0/campaigns/1").await.status,
        401
    );

    // Added by a rename over the file (as secret managers do).
    let next = path.with_extension("next");
    std::fs::write(
        &next,
        caller("ops", OPS, &["read"], 1, None) + &caller("newbie", "tok-new", &["read"], 1, None),
    )
    .expect("write");
    std::fs::rename(&next, &path).expect("swap");
    let added =
        wait_for(|| async { app.get_as("tok-new", "/api/v1.0/campaigns/1").await.status == 200 })
            .await;
    assert!(added, "the new caller is in force within a few seconds");

    // Broken in place: the last good table stays, and readiness says so.
    std::fs::write(&path, "[[caller]]\nname = \"ops\"\n").expect("break");
    let noted = wait_for(|| async {
        app.get("/readyz").await.json()["callers"]
            .as_str()
            .is_some_and(|n| n.contains("last good"))
    })
    .await;
    assert!(noted, "/readyz notes the broken file");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "a broken file does not fail readiness");
    assert_eq!(
        app.get_as("tok-new", "/api/v1.0/campaigns/2").await.status,
        200
    );
    assert_eq!(app.get_as(OPS, "/api/v1.0/campaigns/2").await.status, 200);
    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    assert!(
        text.contains("altur_gateway_callers_reload_failures_total 1"),
        "{text}"
    );
    assert!(text.contains("altur_gateway_callers 2"), "{text}");
}

async fn wait_for<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..60 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Caller A floods the budget with distinct ids; caller B then asks for 8.
/// With fair sharing B's requests start interleaved with A's and all
/// succeed, while A's excess is refused; A never gets B refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_caller_is_refused_itself_and_shares_the_budget_with_others() {
    let callers =
        caller("batch", "tok-a", &["read"], 1, None) + &caller("web", "tok-b", &["read"], 1, None);
    let app = TestApp::builder()
        .callers(&callers)
        .set("rate_limit.max_wait_ms", "3000")
        .set("rate_limit.margin_ms", "100")
        .start()
        .await;
    let app = std::sync::Arc::new(app);
    let flood: Vec<_> = (1..=200)
        .map(|id| {
            let app = app.clone();
            tokio::spawn(async move {
                app.get_as("tok-a", &format!("/api/v1.0/campaigns/{id}"))
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = join_all((1001..=1008).map(|id| {
        let app = app.clone();
        async move {
            app.get_as("tok-b", &format!("/api/v1.0/campaigns/{id}"))
                .await
                .status
                .as_u16()
        }
    }))
    .await;
    let a: Vec<u16> = join_all(flood)
        .await
        .into_iter()
        .map(|r| r.expect("join"))
        .collect();

    assert!(
        b.iter().all(|s| *s == 200),
        "every one of B's requests succeeds: {b:?}"
    );
    let a_ok = a.iter().filter(|s| **s == 200).count();
    let a_refused = a.iter().filter(|s| **s == 503).count();
    assert!(
        a_refused >= 100,
        "A's excess is refused: {a_ok} ok, {a_refused} refused"
    );
    assert_eq!(a_ok + a_refused, a.len());

    let up = app.upstream();
    let is_b = |t: &str| {
        t.strip_prefix("/api/v1.0/campaigns/")
            .and_then(|i| i.parse::<u32>().ok())
            .is_some_and(|i| i > 1000)
    };
    let last_b = up
        .iter()
        .rposition(|r| is_b(&r.target))
        .expect("B reached upstream");
    let last_a = up
        .iter()
        .rposition(|r| !is_b(&r.target))
        .expect("A reached upstream");
    assert!(
        last_b < last_a,
        "B's starts are interleaved with A's backlog, not queued behind it"
    );
    let at: Vec<_> = up.iter().map(|r| r.at).collect();
    assert!(
        crate::helpers::max_in_window(&at, Duration::from_secs(1)) <= 12,
        "the budget holds"
    );
    assert!(
        up.iter().all(|r| r.status == 200),
        "the simulator's strict limit never tripped"
    );
}
