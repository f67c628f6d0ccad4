//! Reads beyond campaigns: calls, recordings, threads, messages, end users,
//! and what is 404 or 405.

use serde_json::Value;

use super::{get, ok, send};
use crate::sim::state::World;

#[test]
fn calls_page_and_filter_and_each_one_reads_alike() {
    let mut w = World::default();
    let p0 = ok(&mut w, "/api/v1.0/campaigns/42/calls?pageSize=10");
    assert_eq!(p0["total_count"], 80 + 42 % 40);
    let p = &p0["pagination"];
    assert_eq!(
        (
            p["page_index"].as_u64(),
            p["page_size"].as_u64(),
            p["next_page"].as_u64()
        ),
        (Some(0), Some(10), Some(1))
    );
    for k in ["has_next", "has_previous", "previous_page"] {
        assert!(p.get(k).is_some(), "{k}");
    }
    assert!(
        ok(&mut w, "/api/v1.0/campaigns/42/calls?pageIndex=1")
            .get("total_count")
            .is_none()
    );
    let machine = ok(
        &mut w,
        "/api/v1.0/campaigns/42/calls?status=ended&answeredBy=machine&pageSize=100",
    );
    let items = machine["calls"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|c| c["status"] == "ended" && c["answered_by"] == "machine")
    );
    let day = ok(
        &mut w,
        "/api/v1.0/campaigns/42/calls?startDate=2026-02-02&endDate=2026-02-02&pageSize=100",
    );
    let n = day["total_count"].as_u64().unwrap_or(0);
    assert!((1..20).contains(&n), "one day of calls: {n}");
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns/7/calls")["total_count"],
        0,
        "WhatsApp places no calls"
    );

    let listed = &items[0];
    let id = listed["id"].as_str().expect("id");
    let call = ok(&mut w, &format!("/api/v1.0/call/{id}"));
    for k in [
        "status",
        "answered_by",
        "created_at",
        "ended_at",
        "duration",
    ] {
        assert_eq!(call[k], listed[k], "{k}");
    }
    for k in ["id", "thread", "type", "started_at", "billable_duration"] {
        assert!(call.get(k).is_some(), "{k}");
    }
    let thread = &call["thread"];
    for k in [
        "id",
        "agent",
        "end_user",
        "integration",
        "updated_at",
        "active",
        "blocked",
        "tags",
        "assigned_to",
    ] {
        assert!(thread.get(k).is_some(), "{k}");
    }
    let any = ok(&mut w, "/api/v1.0/call/anything-else_1");
    assert_eq!(any["id"], "anything-else_1");
    assert_eq!(
        any,
        ok(&mut w, "/api/v1.0/call/anything-else_1"),
        "deterministic"
    );
    assert_eq!(get(&mut w, "/api/v1.0/call/missing-1").status, 404);
}

#[test]
fn recordings_threads_messages_and_end_users() {
    let mut w = World::default();
    let o = crate::sim::endpoints::dispatch(
        &mut w,
        &http::Method::GET,
        "/api/v1.0/call/c1/recording",
        None,
        None,
        b"",
    );
    assert_eq!(
        (o.reply.status.as_u16(), o.reply.content_type),
        (200, "audio/mpeg")
    );
    assert!(
        o.reply.body.starts_with(b"ID3") && serde_json::from_slice::<Value>(&o.reply.body).is_err()
    );
    assert_eq!(get(&mut w, "/api/v1.0/call/missing/recording").status, 404);

    let t = ok(&mut w, "/api/v1.0/thread/t-1");
    assert_eq!(t["id"], "t-1");
    let end_user = t["end_user"]["id"].as_str().expect("end user").to_string();
    let eu = ok(&mut w, &format!("/api/v1.0/enduser/{end_user}"));
    assert_eq!(
        eu["display_name"], t["end_user"]["display_name"],
        "a thread's end user reads alike"
    );
    for k in ["id", "display_name", "integration_type", "info"] {
        assert!(eu.get(k).is_some(), "{k}");
    }
    let histories: Vec<usize> = (0..12)
        .map(|i| {
            ok(&mut w, &format!("/api/v1.0/message/t-{i}"))
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    assert!(
        histories.contains(&0) && histories.iter().any(|n| *n >= 2),
        "{histories:?}"
    );
    let m = ok(&mut w, "/api/v1.0/message/t-3");
    for k in [
        "thread_id",
        "type",
        "content",
        "media",
        "sent_by",
        "sent_by_user",
        "sent_at",
        "read",
    ] {
        assert!(
            m.as_array()
                .is_none_or(|a| a.iter().all(|x| x.get(k).is_some())),
            "{k}"
        );
    }
    for missing in ["thread/missing", "message/missing-x", "enduser/missing"] {
        assert_eq!(
            get(&mut w, &format!("/api/v1.0/{missing}")).status,
            404,
            "{missing}"
        );
    }
}

#[test]
fn unknown_paths_are_404_and_other_methods_405() {
    let mut w = World::default();
    for path in [
        "/",
        "/api/v1.0",
        "/api/v1.0/",
        "/api/v1.0/campaigns/",
        "/api/v1.0/campaigns/1/contacts/",
        "/api/v1.0/contacts/1",
        "/api/v1.0x/campaigns/1",
        "/api/v1.0/call/a/b/c",
    ] {
        assert_eq!(get(&mut w, path).status, 404, "{path}");
    }
    for (method, path) in [
        ("DELETE", "/api/v1.0/campaigns/1"),
        ("PUT", "/api/v1.0/campaigns"),
        ("GET", "/api/v1.0/call"),
        ("POST", "/api/v1.0/enduser/e1"),
        ("OPTIONS", "/api/v1.0/campaigns/1/contacts"),
    ] {
        let a = send(&mut w, method, path, "");
        assert_eq!(a.status, 405, "{method} {path}");
    }
    let o = crate::sim::endpoints::dispatch(
        &mut w,
        &http::Method::DELETE,
        "/api/v1.0/campaigns/1",
        None,
        None,
        b"",
    );
    let allow: Vec<_> = o
        .reply
        .headers
        .iter()
        .filter(|(n, _)| n == http::header::ALLOW)
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(allow, ["GET, HEAD, PATCH"]);
    assert_eq!(
        get(&mut w, "/api/v1.0/campaigns/1/pause").status,
        405,
        "actions are POST"
    );
}
