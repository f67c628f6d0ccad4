//! Routing against the table: every route's canonical target, the 400s and
//! 404s, methods and `Allow`, and no panic on any path.

use super::*;

fn rt(method: Method, target: &str) -> Result<Routed<'_>, Refusal> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    route_target(&method, path, query)
}

fn get(target: &str) -> Result<Routed<'_>, Refusal> {
    rt(Method::GET, target)
}

fn target(path: &str) -> (&'static str, String) {
    match get(path) {
        Ok(Routed::Api(m)) => (m.spec.name(), m.target.into_owned()),
        other => panic!("{path}: {other:?}"),
    }
}

#[test]
fn campaign_ids_are_canonical() {
    assert_eq!(target("/api/v1.0/campaigns/7").1, "/campaigns/7");
    assert_eq!(target("/api/v1.0/campaigns/007").1, "/campaigns/7");
    assert_eq!(target("/api/v1.0/campaigns/0").1, "/campaigns/0");
    assert_eq!(
        target("/api/v1.0/campaigns/9223372036854775807").1,
        "/campaigns/9223372036854775807"
    );
    assert!(matches!(
        get("/api/v1.0/campaigns/7?x=1"),
        Ok(Routed::Api(Matched {
            target: Cow::Borrowed("/campaigns/7"),
            ..
        }))
    ));
}

#[test]
fn every_read_route_and_its_canonical_target() {
    for (path, name, canonical) in [
        ("/api/v1.0/campaigns", "campaign_list", "/campaigns"),
        (
            "/api/v1.0/campaigns?status=active&pageSize=010",
            "campaign_list",
            "/campaigns?pageSize=10&status=active",
        ),
        ("/api/v1.0/campaigns/07?x=1", "campaign", "/campaigns/7"),
        (
            "/api/v1.0/campaigns/07/contacts?pageIndex=00&status=queue&pageSize=50",
            "contact_list",
            "/campaigns/7/contacts?status=queue",
        ),
        (
            "/api/v1.0/campaigns/7/contacts/0012?y",
            "contact",
            "/campaigns/7/contacts/12",
        ),
        (
            "/api/v1.0/campaigns/7/calls?answeredBy=human",
            "call_list",
            "/campaigns/7/calls?answeredBy=human",
        ),
        ("/api/v1.0/call/C-a_1?z=2", "call", "/call/C-a_1"),
        (
            "/api/v1.0/call/C1/recording",
            "recording",
            "/call/C1/recording",
        ),
        ("/api/v1.0/thread/t1", "thread", "/thread/t1"),
        ("/api/v1.0/message/t1", "messages", "/message/t1"),
        ("/api/v1.0/enduser/u-1", "enduser", "/enduser/u-1"),
    ] {
        assert_eq!(target(path), (name, canonical.to_string()), "{path}");
    }
}

#[test]
fn bad_ids_are_400() {
    for p in [
        "abc",
        "-1",
        "1.5",
        "%31",
        "99999999999999999999",
        "9223372036854775808",
        "+1",
        " 1",
        "%2e%2e",
        "..",
    ] {
        assert_eq!(
            get(&format!("/api/v1.0/campaigns/{p}")),
            Err(Refusal::InvalidCampaignId),
            "{p}"
        );
        assert_eq!(
            get(&format!("/api/v1.0/campaigns/{p}/contacts")),
            Err(Refusal::InvalidCampaignId),
            "{p}"
        );
        assert_eq!(
            get(&format!("/api/v1.0/campaigns/1/contacts/{p}")),
            Err(Refusal::InvalidParameter("contact_id".into())),
            "{p}"
        );
    }
    let long = "a".repeat(65);
    for (path, name) in [
        ("/api/v1.0/call/a.b", "call_id"),
        ("/api/v1.0/call/%41", "call_id"),
        (&*format!("/api/v1.0/call/{long}"), "call_id"),
        ("/api/v1.0/thread/a+b", "thread_id"),
        ("/api/v1.0/message/..", "thread_id"),
        ("/api/v1.0/enduser/a%20b", "enduser_id"),
    ] {
        assert_eq!(
            get(path),
            Err(Refusal::InvalidParameter(name.into())),
            "{path}"
        );
    }
    assert_eq!(
        get("/api/v1.0/campaigns/1/contacts?bogus=1"),
        Err(Refusal::InvalidParameter("bogus".into()))
    );
}

#[test]
fn other_shapes_are_404() {
    for p in [
        "/api/v1.0/campaigns/",
        "/api/v1.0/campaigns/1/",
        "/api/v1.0/campaigns/1/contacts/",
        "/api/v1.0/campaigns/1/../../x",
        "/api/v1.0/campaigns//1",
        "/api/v1.0/campaigns/1/pause/x",
        "/api/v1.0/Campaigns/1",
        "/api/v1.0/call/1/recording/x",
        "/api/v1.0/campaigns/1/unpause",
        "/api/v1.0/campaigns/1/Pause",
        "/api/v1.0",
        "/api/v1.0/",
        "/api/v1.0/a/b/c/d/e/f",
        "/campaigns/1",
        "/",
        "/healthz/",
    ] {
        assert_eq!(get(p), Err(Refusal::NotFound), "{p}");
    }
}

proptest::proptest! {
    #[test]
    fn any_path_routes_without_panicking(path in ".{0,64}", q in ".{0,64}", digits in "[0-9]{1,25}") {
        let _ = route_target(&Method::GET, &path, Some(&q));
        let _ = route_target(&Method::GET, &format!("/api/v1.0/campaigns/{path}"), Some(&q));
        let _ = route_target(&Method::GET, &format!("/api/v1.0/{path}"), None);
        let _ = route_target(&Method::GET, "/api/v1.0/campaigns/1/calls", Some(&q));
        let p = format!("/api/v1.0/campaigns/{digits}");
        let routed = get(&p);
        match digits.parse::<i64>() {
            Ok(v) => proptest::prop_assert_eq!(
                routed.map(|r| match r { Routed::Api(m) => m.target.into_owned(), _ => String::new() }),
                Ok(format!("/campaigns/{v}"))
            ),
            Err(_) => proptest::prop_assert_eq!(routed, Err(Refusal::InvalidCampaignId)),
        }
    }
}

#[test]
fn methods() {
    assert_eq!(
        rt(Method::POST, "/api/v1.0/campaigns/1"),
        Err(Refusal::MethodNotAllowed("GET, HEAD, PATCH".into()))
    );
    assert_eq!(
        rt(Method::DELETE, "/healthz"),
        Err(Refusal::MethodNotAllowed("GET, HEAD".into()))
    );
    assert_eq!(
        rt(Method::HEAD, "/healthz"),
        Ok(Routed::Local(Local::Healthz))
    );
    assert!(matches!(
        rt(Method::HEAD, "/api/v1.0/campaigns/1/calls"),
        Ok(Routed::Api(Matched { head: true, .. }))
    ));
    assert_eq!(get("/metrics"), Ok(Routed::Local(Local::Metrics)));
    for (method, path, allow) in [
        (Method::DELETE, "/api/v1.0/campaigns/1", "GET, HEAD, PATCH"),
        (Method::PUT, "/api/v1.0/campaigns", "GET, HEAD, POST"),
        (Method::GET, "/api/v1.0/campaigns/1/pause", "POST"),
        (Method::POST, "/api/v1.0/campaigns/1/calls", "GET, HEAD"),
        (Method::GET, "/api/v1.0/call", "POST"),
        (Method::POST, "/api/v1.0/enduser/u1", "GET, HEAD, PUT"),
        (
            Method::PATCH,
            "/api/v1.0/campaigns/1/contacts/2",
            "GET, HEAD, DELETE",
        ),
    ] {
        assert_eq!(
            rt(method.clone(), path),
            Err(Refusal::MethodNotAllowed(allow.into())),
            "{method} {path}"
        );
    }
    for (method, path, name, target) in [
        (
            Method::POST,
            "/api/v1.0/campaigns?x=1",
            "campaign_create",
            "/campaigns",
        ),
        (
            Method::PATCH,
            "/api/v1.0/campaigns/07",
            "campaign_update",
            "/campaigns/7",
        ),
        (
            Method::POST,
            "/api/v1.0/campaigns/7/pause",
            "campaign_action",
            "/campaigns/7/pause",
        ),
        (
            Method::POST,
            "/api/v1.0/campaigns/7/contacts",
            "contact_create",
            "/campaigns/7/contacts",
        ),
        (
            Method::DELETE,
            "/api/v1.0/campaigns/7/contacts/09",
            "contact_delete",
            "/campaigns/7/contacts/9",
        ),
        (Method::POST, "/api/v1.0/call", "call_start", "/call"),
        (
            Method::POST,
            "/api/v1.0/message",
            "message_send",
            "/message",
        ),
        (
            Method::POST,
            "/api/v1.0/enduser",
            "enduser_create",
            "/enduser",
        ),
        (
            Method::PUT,
            "/api/v1.0/enduser/u-1",
            "enduser_update",
            "/enduser/u-1",
        ),
    ] {
        match rt(method.clone(), path) {
            Ok(Routed::Api(m)) => {
                assert_eq!(
                    (m.spec.name(), &*m.target),
                    (name, target),
                    "{method} {path}"
                );
                assert!(!m.spec.is_read());
            }
            other => panic!("{method} {path}: {other:?}"),
        }
    }
    assert_eq!(
        rt(Method::POST, "/api/v1.0/campaigns/abc/pause"),
        Err(Refusal::InvalidCampaignId)
    );
}
