//! Campaign reads: the detail, the cursor-paged list and its filters, and
//! a campaign's page-based contacts.

use std::collections::HashSet;

use super::{get, ok};
use crate::sim::state::World;
use crate::sim::{FIRST_MISSING_ID, campaign_body};

#[test]
fn an_untouched_campaign_is_exactly_campaign_body() {
    let mut w = World::default();
    for id in [0, 7, 42, 999_999_999] {
        let o = crate::sim::endpoints::dispatch(
            &mut w,
            &http::Method::GET,
            &format!("/api/v1.0/campaigns/{id}"),
            None,
            None,
            b"",
        );
        assert_eq!(o.reply.body, campaign_body(id).as_bytes(), "{id}");
        assert_eq!(o.reply.content_type, "application/json");
    }
    for missing in [
        format!("/api/v1.0/campaigns/{FIRST_MISSING_ID}"),
        "/api/v1.0/campaigns/abc".into(),
        "/api/v1.0/campaigns/-1".into(),
        "/api/v1.0/campaigns/99999999999999999999".into(),
    ] {
        let a = get(&mut w, &missing);
        assert_eq!(a.status, 404, "{missing}");
        assert_eq!(a.json["error"], "Campaign not found");
    }
}

#[test]
fn the_campaign_list_pages_by_cursor_both_ways() {
    let mut w = World::default();
    let first = ok(&mut w, "/api/v1.0/campaigns");
    assert_eq!(first["total_count"], 60);
    assert_eq!(first["campaigns"].as_array().map(Vec::len), Some(20));
    let p = &first["pagination"];
    assert_eq!(
        (p["has_next"].as_bool(), p["has_previous"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(p["previous_cursor"].is_null());
    let c = &first["campaigns"][0];
    for field in [
        "id",
        "name",
        "description",
        "status",
        "created_at",
        "agent",
        "scheduling",
        "timezone",
        "retries",
        "archived",
        "template",
        "first_message",
        "concurrency_limit",
        "cycle_enabled",
        "cycle_max_iterations",
        "cycle_cooldown_minutes",
        "cycle_filter_statuses",
        "cycle_filter_tags",
        "cycle_current_iteration",
        "cycle_last_iteration_at",
    ] {
        assert!(c.get(field).is_some(), "{field} in {c}");
    }
    assert_eq!(c["agent"]["id"], "agent_0001");

    let mut seen = HashSet::new();
    let mut page = first.clone();
    let mut pages = 1;
    loop {
        for c in page["campaigns"].as_array().into_iter().flatten() {
            assert!(seen.insert(c["id"].as_i64()), "no repeats");
        }
        let Some(cursor) = page["pagination"]["next_cursor"].as_str() else {
            break;
        };
        page = ok(&mut w, &format!("/api/v1.0/campaigns?cursor={cursor}"));
        pages += 1;
    }
    assert_eq!((seen.len(), pages), (60, 3));
    assert_eq!(page["pagination"]["has_next"], false);
    let back = page["pagination"]["previous_cursor"]
        .as_str()
        .expect("previous")
        .to_string();
    let middle = ok(
        &mut w,
        &format!("/api/v1.0/campaigns?cursor={}", back.replace('=', "%3D")),
    );
    assert_eq!(
        middle["campaigns"][0]["id"], 21,
        "percent-encoded cursors decode"
    );
    assert_eq!(middle["campaigns"][19]["id"], 40);

    let small = ok(&mut w, "/api/v1.0/campaigns?pageSize=7");
    assert_eq!(small["campaigns"].as_array().map(Vec::len), Some(7));
}

#[test]
fn the_campaign_list_filters() {
    let mut w = World::default();
    let count =
        |w: &mut World, q: &str| ok(w, &format!("/api/v1.0/campaigns?{q}"))["total_count"].clone();
    assert_eq!(count(&mut w, "status=finished"), 6, "ids ending in 9");
    let finished = ok(&mut w, "/api/v1.0/campaigns?status=finished");
    assert!(
        finished["campaigns"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|c| c["status"] == "finished")
    );
    assert_eq!(count(&mut w, "integration=whatsapp"), 30);
    let wa = ok(
        &mut w,
        "/api/v1.0/campaigns?integration=whatsapp&pageSize=100",
    );
    assert!(
        wa["campaigns"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|c| c["id"].as_i64().is_some_and(|i| i % 2 == 1))
    );
    assert_eq!(count(&mut w, "startDate=2026-01-15&endDate=2026-01-15"), 60);
    assert_eq!(
        count(&mut w, "startDate=2026-02-01&endDate=2026-12-31T00:00:00Z"),
        0
    );
    assert_eq!(count(&mut w, "agentId=agent_0003"), 1);
    assert_eq!(
        count(&mut w, "unknown=1"),
        60,
        "unknown parameters are ignored"
    );
    for bad in [
        "status=done",
        "integration=sms",
        "startDate=2026-01-01",
        "pageSize=0",
        "pageSize=101",
        "cursor=%%%",
        "cursor=Zm9vOjE=",
    ] {
        let a = get(&mut w, &format!("/api/v1.0/campaigns?{bad}"));
        assert_eq!(
            (a.status, a.json["error"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{bad}"
        );
    }
}

#[test]
fn contacts_page_by_index_with_total_count_on_page_zero_only() {
    let mut w = World::default();
    let total = 162; // 120 + 42 % 50
    let p0 = ok(&mut w, "/api/v1.0/campaigns/42/contacts");
    assert_eq!(p0["total_count"], total);
    assert_eq!(p0["contacts"].as_array().map(Vec::len), Some(50));
    assert_eq!(
        p0["pagination"],
        serde_json::json!({"has_next": true, "has_previous": false, "next_page": 1, "previous_page": null})
    );
    let c = &p0["contacts"][0];
    for field in [
        "f_id",
        "id",
        "name",
        "contact",
        "status",
        "context",
        "retries",
        "has_follow_up",
        "call_count",
        "billed_duration",
        "last_call_at",
        "extracted_data",
        "tags",
    ] {
        assert!(c.get(field).is_some(), "{field} in {c}");
    }
    assert_eq!(
        (c["id"].as_i64(), c["status"].as_str()),
        (Some(42_001), Some("queue"))
    );
    let p1 = ok(&mut w, "/api/v1.0/campaigns/42/contacts?pageIndex=1");
    assert!(p1.get("total_count").is_none());
    assert_eq!(p1["pagination"]["previous_page"], 0);
    let last = ok(&mut w, "/api/v1.0/campaigns/42/contacts?pageIndex=3");
    assert_eq!(
        last["contacts"].as_array().map(Vec::len),
        Some(total as usize - 150)
    );
    assert_eq!(last["pagination"]["has_next"], false);

    let queue = ok(
        &mut w,
        "/api/v1.0/campaigns/42/contacts?status=queue&pageSize=100",
    );
    let items = queue["contacts"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty() && items.iter().all(|c| c["status"] == "queue"));
    assert_eq!(queue["total_count"], items.len());
    let wa = ok(&mut w, "/api/v1.0/campaigns/7/contacts?status=read");
    assert!(
        wa["total_count"].as_u64() > Some(0),
        "WhatsApp statuses on odd ids"
    );

    let one = ok(&mut w, "/api/v1.0/campaigns/42/contacts/42002");
    assert_eq!(
        (one["success"].as_bool(), one["contact"]["status"].as_str()),
        (Some(true), Some("sending"))
    );
    for missing in [
        "42/contacts/42999",
        "42/contacts/7001",
        "42/contacts/abc",
        "1000000000/contacts",
    ] {
        assert_eq!(
            get(&mut w, &format!("/api/v1.0/campaigns/{missing}")).status,
            404,
            "{missing}"
        );
    }
    assert_eq!(
        get(&mut w, "/api/v1.0/campaigns/42/contacts?status=gone").status,
        400
    );
}
