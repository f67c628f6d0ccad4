//! Conversation writes (calls, messages, end users) read back, and
//! idempotent replays change nothing.

use super::{ok, send, send_keyed};
use crate::sim::convo::thread_id_for;
use crate::sim::state::World;

#[test]
fn a_started_call_reads_back() {
    let mut w = World::default();
    let a = send(
        &mut w,
        "POST",
        "/api/v1.0/call",
        r#"{"agent_id": "ag-1", "phone_number_to": "+5215512345678", "initial_message": "Hola"}"#,
    );
    assert_eq!(a.status, 201, "{}", a.json);
    let id = a.json["id"].as_str().expect("id").to_string();
    assert_eq!(a.json["status"], "queued");
    assert_eq!(ok(&mut w, &format!("/api/v1.0/call/{id}")), a.json);
    let tid = a.json["thread"]["id"].as_str().expect("thread").to_string();
    assert_eq!(
        ok(&mut w, &format!("/api/v1.0/thread/{tid}")),
        a.json["thread"]
    );
    let msgs = ok(&mut w, &format!("/api/v1.0/message/{tid}"));
    assert_eq!(
        msgs.as_array()
            .and_then(|m| m.last())
            .map(|m| m["content"].clone()),
        Some("Hola".into())
    );
    for bad in [
        r#"{"agent_id": "ag-1"}"#,
        r#"{"phone_number_to": "+5215512345678"}"#,
        r#"{"agent_id": "ag-1", "phone_number_to": "555"}"#,
        "nope",
    ] {
        assert_eq!(
            send(&mut w, "POST", "/api/v1.0/call", bad).status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn a_sent_message_lands_in_the_end_users_thread() {
    let mut w = World::default();
    let body = r#"{"agent_id": "ag-1", "end_user_id": "eu-7", "content": "¿Horario?"}"#;
    let a = send(&mut w, "POST", "/api/v1.0/message", body);
    assert_eq!(a.status, 200, "{}", a.json);
    let tid = thread_id_for("eu-7");
    assert_eq!(a.json["thread"]["id"], tid.as_str());
    assert_eq!(a.json["in_response_to"]["content"], "¿Horario?");
    assert_eq!(a.json["messages"][0]["sent_by"], "AI");
    let msgs = ok(&mut w, &format!("/api/v1.0/message/{tid}"));
    let all = msgs.as_array().cloned().unwrap_or_default();
    assert!(all.len() >= 2);
    assert_eq!(all[all.len() - 2], a.json["in_response_to"]);
    assert_eq!(all[all.len() - 1], a.json["messages"][0]);
    let times: Vec<_> = all
        .iter()
        .map(|m| m["sent_at"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        times.windows(2).all(|p| p[0] <= p[1]),
        "oldest first: {times:?}"
    );
    assert_eq!(
        ok(&mut w, &format!("/api/v1.0/thread/{tid}")),
        a.json["thread"]
    );
    let again = send(&mut w, "POST", "/api/v1.0/message", body);
    assert_eq!(
        again.json["thread"]["id"],
        tid.as_str(),
        "same end user, same thread"
    );
    assert_eq!(
        send(
            &mut w,
            "POST",
            "/api/v1.0/message",
            r#"{"agent_id": "a", "end_user_id": "missing-1", "content": "x"}"#
        )
        .status,
        404
    );
    assert_eq!(
        send(
            &mut w,
            "POST",
            "/api/v1.0/message",
            r#"{"agent_id": "a", "end_user_id": "e"}"#
        )
        .status,
        400
    );
}

#[test]
fn end_users_are_created_and_updated() {
    let mut w = World::default();
    let a = send(
        &mut w,
        "POST",
        "/api/v1.0/enduser",
        r#"{"display_name": "Ana", "info": {"plan": "gold"}}"#,
    );
    assert_eq!(a.status, 201, "{}", a.json);
    let id = a.json["id"].as_str().expect("id").to_string();
    assert_eq!((id.len(), &id[14..15]), (36, "4"), "uuid v4 shape: {id}");
    assert_eq!(a.json["integration_type"], "api");
    assert_eq!(ok(&mut w, &format!("/api/v1.0/enduser/{id}")), a.json);
    let u = send(
        &mut w,
        "PUT",
        &format!("/api/v1.0/enduser/{id}"),
        r#"{"display_name": "Ana M."}"#,
    );
    assert_eq!(
        (u.status, u.json["display_name"].as_str()),
        (200, Some("Ana M."))
    );
    assert_eq!(
        ok(&mut w, &format!("/api/v1.0/enduser/{id}"))["info"]["plan"],
        "gold",
        "info kept"
    );
    assert_eq!(
        send(&mut w, "PUT", "/api/v1.0/enduser/missing-9", "{}").status,
        404
    );
    assert_eq!(
        send(&mut w, "POST", "/api/v1.0/enduser", r#"{"info": {}}"#).status,
        400
    );
    assert_eq!(
        send(
            &mut w,
            "PUT",
            &format!("/api/v1.0/enduser/{id}"),
            r#"{"info": 3}"#
        )
        .status,
        400
    );
}

#[test]
fn an_idempotent_replay_returns_the_first_answer_and_changes_nothing() {
    let mut w = World::default();
    let body = r#"{"name": "Once", "agent_id": "a", "integration_id": "i", "integration_type": "phone_call"}"#;
    let first = send_keyed(&mut w, "POST", "/api/v1.0/campaigns", Some("k-1"), body);
    let again = send_keyed(
        &mut w,
        "POST",
        "/api/v1.0/campaigns",
        Some("k-1"),
        r#"{"name": "Other"}"#,
    );
    assert_eq!((first.status, first.replayed), (201, false));
    assert_eq!((again.status, again.replayed), (201, true));
    assert_eq!(again.json, first.json);
    assert_eq!(
        ok(&mut w, "/api/v1.0/campaigns")["total_count"],
        61,
        "one campaign made"
    );
    let other = send_keyed(&mut w, "POST", "/api/v1.0/campaigns", Some("k-2"), body);
    assert_eq!(other.json["campaign"]["id"], 900_000_001);

    let del = "/api/v1.0/campaigns/42/contacts/42001";
    assert_eq!(send_keyed(&mut w, "DELETE", del, Some("d"), "").status, 200);
    let replay = send_keyed(&mut w, "DELETE", del, Some("d"), "");
    assert_eq!(
        (replay.status, replay.replayed),
        (200, true),
        "not 404: the first answer"
    );
    assert_eq!(
        send_keyed(&mut w, "DELETE", del, Some("e"), "").status,
        404,
        "a new key acts"
    );
    let fail = send_keyed(&mut w, "PATCH", "/api/v1.0/campaigns/42", Some("p"), "bad");
    let fixed = send_keyed(
        &mut w,
        "PATCH",
        "/api/v1.0/campaigns/42",
        Some("p"),
        r#"{"name": "n"}"#,
    );
    assert_eq!(
        (fail.status, fixed.status, fixed.replayed),
        (400, 400, true)
    );
    assert!(
        !send_keyed(&mut w, "GET", "/api/v1.0/campaigns/42", Some("p"), "").replayed,
        "reads never replay"
    );
}
