//! Reads the gateway refuses itself, and never sends: bad path parameters
//! and list queries (400 naming the parameter), other shapes (404), other
//! methods (405 with `Allow`); and Altur's own 404s, relayed as they came.

use super::*;

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
