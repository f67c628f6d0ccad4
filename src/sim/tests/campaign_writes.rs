//! Campaign writes change what later reads return: PATCH, actions, create,
//! and contacts created and deleted.

use serde_json::Value;

use super::{get, ok, send};
use crate::sim::campaign_body;
use crate::sim::state::World;

fn listed(w: &mut World, id: i64) -> Value {
    let page = ok(w, "/api/v1.0/campaigns?pageSize=100");
    page["campaigns"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id).cloned())
        .unwrap_or(Value::Null)
}

#[test]
fn patch_then_get_shows_the_new_name_in_detail_and_list() {
    let mut w = World::default();
    let a = send(
        &mut w,
        "PATCH",
        "/api/v1.0/campaigns/42",
        r#"{"name": "Renamed", "retries": 4, "unknown": 1}"#,
    );
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["campaign"]["name"], "Renamed");
    let detail = ok(&mut w, "/api/v1.0/campaigns/42");
    assert_eq!(detail["campaign"]["name"], "Renamed");
    assert_eq!(detail["campaign"]["retries"], 4);
    assert!(
        detail["campaign"].get("unknown").is_none(),
        "only known fields merge"
    );
    let mut expected: Value = serde_json::from_str(&campaign_body(42)).expect("json");
    expected["campaign"]["name"] = "Renamed".into();
    expected["campaign"]["retries"] = 4.into();
    assert_eq!(detail, expected, "the same shape, with the changes");
    assert_eq!(listed(&mut w, 42)["name"], "Renamed");
    assert_eq!(listed(&mut w, 42)["retries"], 4);
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns/43")["campaign"]["name"],
        "Campaign 43"
    );

    for (id, body, status, code) in [
        (42, r#"{"agent_id": "x"}"#, 400, "IMMUTABLE_FIELD"),
        (
            42,
            r#"{"cycles": {"enabled": false}}"#,
            400,
            "IMMUTABLE_FIELD",
        ),
        (
            43,
            r#"{"cycles": {"max_iterations": 2}}"#,
            400,
            "CYCLES_NOT_ENABLED",
        ),
        (42, r#"{"retries": 9}"#, 400, "INVALID_REQUEST"),
        (42, r#"{"name": ""}"#, 400, "INVALID_REQUEST"),
        (42, "not json", 400, "INVALID_REQUEST"),
        (42, "[1]", 400, "INVALID_REQUEST"),
        (49, r#"{"name": "x"}"#, 409, "CAMPAIGN_FINISHED"),
    ] {
        let a = send(&mut w, "PATCH", &format!("/api/v1.0/campaigns/{id}"), body);
        assert_eq!(
            (a.status, a.json["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns/42")["campaign"]["retries"],
        4,
        "refusals change nothing"
    );
    assert_eq!(
        send(&mut w, "PATCH", "/api/v1.0/campaigns/1000000000", "{}").status,
        404
    );
}

#[test]
fn actions_change_the_status() {
    let mut w = World::default();
    let a = send(&mut w, "POST", "/api/v1.0/campaigns/40/pause", "");
    assert_eq!(
        (a.status, a.json["campaign"]["status"].as_str()),
        (200, Some("inactive"))
    );
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns/40")["campaign"]["status"],
        "inactive"
    );
    assert_eq!(listed(&mut w, 40)["status"], "inactive");
    let inactive = ok(&mut w, "/api/v1.0/campaigns?status=inactive&pageSize=100");
    assert!(
        inactive["campaigns"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["id"] == 40)
    );
    send(&mut w, "POST", "/api/v1.0/campaigns/40/resume", "");
    assert_eq!(listed(&mut w, 40)["status"], "active");
    send(&mut w, "POST", "/api/v1.0/campaigns/40/archive", "");
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns/40")["campaign"]["archived"],
        true
    );
    let a = send(&mut w, "POST", "/api/v1.0/campaigns/40/explode", "");
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (400, Some("UNKNOWN_ACTION"))
    );
    let a = send(&mut w, "POST", "/api/v1.0/campaigns/19/activate", "");
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (409, Some("INVALID_STATUS_TRANSITION"))
    );
    assert_eq!(a.json["current_status"], "finished");
}

#[test]
fn a_created_campaign_is_listed_and_readable() {
    let mut w = World::default();
    let body = r#"{"name": "Spring", "agent_id": "3f1c9a0e-8d2b-4c7e-9a41-0b5f6e7d8c90", "integration_id": "int_9", "integration_type": "whatsapp", "template": "promo"}"#;
    let a = send(&mut w, "POST", "/api/v1.0/campaigns", body);
    assert_eq!(a.status, 201, "{}", a.json);
    assert_eq!(a.json["success"], true);
    let id = a.json["campaign"]["id"].as_i64().expect("id");
    assert_eq!(id, 900_000_000);
    let detail = ok(&mut w, &format!("/api/v1.0/campaigns/{id}"));
    assert_eq!(detail["campaign"], a.json["campaign"]);
    let entry = listed(&mut w, id);
    assert_eq!(
        (entry["name"].as_str(), entry["status"].as_str()),
        (Some("Spring"), Some("pending"))
    );
    let by_agent = ok(
        &mut w,
        "/api/v1.0/campaigns?agentId=3f1c9a0e-8d2b-4c7e-9a41-0b5f6e7d8c90",
    );
    assert_eq!(by_agent["total_count"], 1);
    assert_eq!(ok(&mut w, "/api/v1.0/campaigns")["total_count"], 61);
    assert_eq!(
        ok(&mut w, &format!("/api/v1.0/campaigns/{id}/contacts"))["total_count"],
        0
    );
    for bad in [
        r#"{"name": "x"}"#,
        r#"{"name": "x", "agent_id": "a", "integration_id": "i", "integration_type": "fax"}"#,
        r#"{"name": "x", "agent_id": "a", "integration_id": "i", "integration_type": "phone_call", "template": "t"}"#,
    ] {
        assert_eq!(
            send(&mut w, "POST", "/api/v1.0/campaigns", bad).status,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns")["total_count"],
        61,
        "refusals create nothing"
    );
}

#[test]
fn contacts_are_created_listed_and_deleted() {
    let mut w = World::default();
    let before = ok(&mut w, "/api/v1.0/campaigns/42/contacts")["total_count"]
        .as_u64()
        .unwrap_or(0);
    let existing =
        ok(&mut w, "/api/v1.0/campaigns/42/contacts/42003")["contact"]["contact"].clone();
    let body = serde_json::json!({"contacts": [
        {"contact": "+5215511112222", "name": "Nueva", "f_id": "x-1"},
        {"contact": "12345"},
        {"name": "no phone"},
        {"contact": existing, "name": "Renamed?"},
        {"contact": "+5215511112222"},
    ]});
    let a = send(
        &mut w,
        "POST",
        "/api/v1.0/campaigns/42/contacts",
        &body.to_string(),
    );
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        a.json["summary"],
        serde_json::json!({"created": 1, "updated": 0, "skipped_duplicate": 2, "failed": 2})
    );
    let results = a.json["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 5);
    assert_eq!(
        (results[1]["error"].as_str(), results[2]["error"].as_str()),
        (Some("INVALID_PHONE_NUMBER"), Some("MISSING_CONTACT"))
    );
    assert_eq!(results[3]["id"], 42_003);
    let new_id = results[0]["id"].as_i64().expect("id");
    assert_eq!(
        results[4]["id"], new_id,
        "a repeat in one batch is a duplicate"
    );

    let after = ok(
        &mut w,
        "/api/v1.0/campaigns/42/contacts?pageSize=100&pageIndex=1",
    );
    let last = after["contacts"]
        .as_array()
        .and_then(|a| a.last().cloned())
        .unwrap_or_default();
    assert_eq!(
        (
            last["id"].as_i64(),
            last["status"].as_str(),
            last["name"].as_str()
        ),
        (Some(new_id), Some("queue"), Some("Nueva"))
    );
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns/42/contacts")["total_count"].as_u64(),
        Some(before + 1)
    );

    let upd = serde_json::json!({"contacts": [{"contact": existing, "name": "Actualizada"}], "if_duplicate": "update"});
    let a = send(
        &mut w,
        "POST",
        "/api/v1.0/campaigns/42/contacts",
        &upd.to_string(),
    );
    assert_eq!(a.json["summary"]["updated"], 1);
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns/42/contacts/42003")["contact"]["name"],
        "Actualizada"
    );

    let a = send(
        &mut w,
        "DELETE",
        "/api/v1.0/campaigns/42/contacts/42002",
        "",
    );
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (409, Some("CONTACT_NOT_DELETABLE")),
        "sending"
    );
    for id in [42_001, new_id] {
        let path = format!("/api/v1.0/campaigns/42/contacts/{id}");
        assert_eq!(send(&mut w, "DELETE", &path, "").status, 200, "{id}");
        assert_eq!(get(&mut w, &path).status, 404, "{id} is gone");
        assert_eq!(send(&mut w, "DELETE", &path, "").status, 404);
    }
    let page = ok(&mut w, "/api/v1.0/campaigns/42/contacts");
    assert_eq!(page["total_count"].as_u64(), Some(before - 1));
    assert_eq!(page["contacts"][0]["id"], 42_002, "42001 left the list");
    for bad in [
        r#"{"contacts": 1}"#,
        r#"{"contacts": [], "if_duplicate": "merge"}"#,
        "{",
    ] {
        assert_eq!(
            send(&mut w, "POST", "/api/v1.0/campaigns/42/contacts", bad).status,
            400,
            "{bad}"
        );
    }
}
