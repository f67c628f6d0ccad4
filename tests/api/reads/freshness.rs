//! Each read route's freshness: its own TTL and negative TTL, overrides
//! that move one route and not the others, and one entry per list page.
//! Under tokio's paused clock, so expiry is exact.

use super::*;

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
