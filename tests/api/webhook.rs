//! Altur's webhook through HTTP: a signed `on_call_end` drops what the call
//! changed; a wrong or missing signature does nothing; it never reaches
//! upstream and needs no caller token.

use std::time::Duration;

use http::Method;

use crate::helpers::TestApp;

// Vectors computed outside the code under test, with Python's hmac module:
//   key = base64.b64decode(SECRET)
//   base64.b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest())
// SECRET = base64.b64encode(b"altur-webhook-test-secret-0123456789"); the
// compact body is json.dumps(json.loads(PRETTY), separators=(',', ':')).
const SECRET: &str = "YWx0dXItd2ViaG9vay10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5";
const PRETTY: &str = "{\n  \"event_type\": \"on_call_end\",\n  \"id\": \"call_7f3a\",\n  \"status\": \"ended\",\n  \"end_user\": {\"id\": \"eu-42\", \"display_name\": \"Ana\"},\n  \"campaign_id\": 7\n}";
const RAW_SIG: &str = "UiGAXxH7ptW/JlkaQaY7t2JViX7XZjijtB+BSPvt4GY=";
const COMPACT_SIG: &str = "OrxbBemRipKjqcgououEvZUPquauItiWcwdIvfD/sOE=";

const CHANGED: [&str; 5] = [
    "/api/v1.0/call/call_7f3a",
    "/api/v1.0/enduser/eu-42",
    "/api/v1.0/campaigns/7",
    "/api/v1.0/campaigns/7/calls",
    "/api/v1.0/campaigns/7/contacts",
];
const UNTOUCHED: [&str; 2] = ["/api/v1.0/campaigns/8", "/api/v1.0/call/call_other"];

async fn warm(app: &TestApp) {
    for p in CHANGED.iter().chain(UNTOUCHED.iter()) {
        assert_eq!(app.get(p).await.status, 200, "{p}");
        assert_eq!(
            app.get(p).await.header("cache-status"),
            Some("altur-gateway; hit"),
            "{p}"
        );
    }
}

async fn deliver(app: &TestApp, body: &str, signature: Option<&str>) -> crate::helpers::Resp {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(s) = signature {
        headers.push(("x-altur-signature", s));
    }
    app.send(Method::POST, "/webhooks/altur", &headers, body)
        .await
}

fn status_of(r: &crate::helpers::Resp) -> Option<&str> {
    r.header("cache-status")
}

#[tokio::test]
async fn a_signed_call_end_drops_what_the_call_changed_and_nothing_else() {
    let app = TestApp::builder()
        .webhook_secret(SECRET)
        .set("callers.anonymous_scopes", "")
        .start()
        .await;
    let token_free = app.get("/api/v1.0/campaigns/7").await;
    assert_eq!(token_free.status, 401, "callers need tokens here...");
    let app = TestApp::builder().webhook_secret(SECRET).start().await;
    warm(&app).await;
    let before = app.upstream().len();

    let r = deliver(&app, PRETTY, Some(RAW_SIG)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["success"], true);
    assert_eq!(
        app.upstream().len(),
        before,
        "a delivery never reaches upstream"
    );
    for p in CHANGED {
        assert_eq!(
            status_of(&app.get(p).await),
            Some("altur-gateway; fwd=miss; stored"),
            "{p} dropped"
        );
    }
    for p in UNTOUCHED {
        assert_eq!(
            status_of(&app.get(p).await),
            Some("altur-gateway; hit"),
            "{p} kept"
        );
    }
    // A repeated delivery (Altur retries) does no harm.
    assert_eq!(deliver(&app, PRETTY, Some(RAW_SIG)).await.status, 200);
    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    assert!(
        text.contains("altur_gateway_webhooks_total{event=\"on_call_end\",result=\"ok\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("altur_gateway_invalidations_total{cause=\"webhook\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn the_compact_form_verifies_and_needs_no_caller_token() {
    let app = TestApp::builder()
        .webhook_secret(SECRET)
        .set("callers.anonymous_scopes", "")
        .start()
        .await;
    let r = deliver(&app, PRETTY, Some(COMPACT_SIG)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The simulator's own sender signs what it sends.
    let payload = altur_gateway::sim::webhook::on_call_end("call_9", "eu-9", Some(9));
    let status = altur_gateway::sim::webhook::send(&app.url("/webhooks/altur"), SECRET, &payload)
        .await
        .expect("sent");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_wrong_or_missing_signature_or_a_bad_body_does_nothing() {
    let app = TestApp::builder().webhook_secret(SECRET).start().await;
    warm(&app).await;
    for (body, sig, status, code) in [
        (PRETTY, None, 401, "invalid_signature"),
        (
            PRETTY,
            Some("UiGAXxH7ptW/JlkaQaY7t2JViX7XZjijtB+BSPvt4GZ="),
            401,
            "invalid_signature",
        ),
        (PRETTY, Some("not base64"), 401, "invalid_signature"),
        (
            "{\"event_type\": \"on_call_end\", \"id\": \"call_7f3a\"}",
            Some(RAW_SIG),
            401,
            "invalid_signature",
        ),
        ("not json", Some(RAW_SIG), 400, "invalid_json"),
    ] {
        let r = deliver(&app, body, sig).await;
        assert_eq!(r.status, status, "{sig:?} {body:.30}");
        assert_eq!(r.code(), code);
    }
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(1024 * 1024));
    assert_eq!(deliver(&app, &big, Some(RAW_SIG)).await.status, 413);
    for p in CHANGED {
        assert_eq!(
            status_of(&app.get(p).await),
            Some("altur-gateway; hit"),
            "{p} kept"
        );
    }
}

#[tokio::test]
async fn without_a_secret_the_webhook_is_404_and_a_rotated_secret_is_used_at_once() {
    let app = TestApp::spawn().await;
    let r = deliver(&app, PRETTY, Some(RAW_SIG)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "not_found");

    let app = TestApp::builder().webhook_secret(SECRET).start().await;
    assert_eq!(
        app.request(Method::GET, "/webhooks/altur", &[])
            .await
            .status,
        405
    );
    // Rotated: the old signature no longer verifies, the new one does.
    std::fs::write(app.webhook_path(), "bmV3LXNlY3JldA==").expect("rotate");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(deliver(&app, PRETTY, Some(RAW_SIG)).await.status, 401);
    let sig =
        altur_gateway::sim::webhook::sign("bmV3LXNlY3JldA==", PRETTY.as_bytes()).expect("sign");
    assert_eq!(deliver(&app, PRETTY, Some(&sig)).await.status, 200);
}
