//! Call endpoints: a campaign's page-based call list, one call, its
//! recording, and `POST /call` to start one.
//!
//! `GET /call/{id}` answers a started call as it was stored, a generated
//! campaign call (its id names campaign and number, see
//! [`super::bodies::campaign_call_id`]) consistently with the list, and any
//! other id with a call generated from the id; ids starting with `missing`
//! are 404.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::bodies::{
    CallFacts, call_facts, campaign_call, campaign_call_facts, campaign_call_id, campaign_value,
    contact_end_user_id, generated_call_count, generated_contact, generated_contact_count,
    parse_campaign_call_id,
};
use super::campaigns::campaign_id;
use super::clock::rfc3339;
use super::convo::{
    agent_ref, end_user_ref, generated_thread, is_missing, message, thread_id_for, thread_value,
};
use super::endpoints::Req;
use super::input;
use super::reply::Reply;
use super::seed::{hash, is_e164, uuid};
use super::state::World;

const STATUSES: [&str; 5] = ["ended", "failed", "busy", "no-answer", "in-progress"];
const ANSWERED_BY: [&str; 3] = ["human", "machine", "unknown"];

pub(super) fn list(world: &mut World, req: &Req<'_>) -> Reply {
    let Some(campaign) = campaign_id(req.param(0)) else {
        return Reply::not_found("Campaign");
    };
    let q = &req.query;
    let parsed = (|| {
        Ok::<_, Reply>((
            q.one_of("status", &STATUSES)?,
            q.one_of("answeredBy", &ANSWERED_BY)?,
            q.dates()?,
            q.page_index_and_size()?,
        ))
    })();
    let (status, answered_by, dates, (index, size)) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    let count = if world.created(campaign) {
        0
    } else {
        generated_call_count(campaign)
    };
    let items: Vec<Value> = (1..=count)
        .map(|n| campaign_call(campaign, n))
        .filter(|c| status.is_none_or(|s| c["status"] == s))
        .filter(|c| answered_by.is_none_or(|a| c["answered_by"] == a))
        .filter(|c| input::in_range(dates, c["created_at"].as_str()))
        .collect();
    Reply::ok(&input::page("calls", items, index, size, true))
}

fn call_value(id: &str, thread: Value, f: &CallFacts) -> Value {
    json!({
        "id": id,
        "thread": thread,
        "type": "outbound",
        "status": f.status,
        "answered_by": f.answered_by,
        "created_at": rfc3339(f.created),
        "started_at": f.started.map(rfc3339),
        "ended_at": f.ended.map(rfc3339),
        "duration": f.duration,
        "billable_duration": f.billed,
    })
}

/// Generated call `n` of `campaign`, in the shape of `GET /call/{id}`.
fn campaign_call_value(world: &World, campaign: i64, n: i64) -> Value {
    let f = campaign_call_facts(campaign, n);
    let contact_n = (n - 1) % generated_contact_count(campaign) + 1;
    let contact = generated_contact(campaign, contact_n);
    let end_user = contact_end_user_id(contact["id"].as_i64().unwrap_or_default());
    let tid = thread_id_for(&end_user);
    let thread = world.threads.get(&tid).cloned().unwrap_or_else(|| {
        let c = campaign_value(campaign);
        thread_value(
            &tid,
            c["agent"].clone(),
            json!({"id": end_user, "display_name": contact["name"]}),
            json!({"id": c["integration"]["id"], "type": "phone_call"}),
            f.ended.unwrap_or(f.created),
            false,
        )
    });
    call_value(&campaign_call_id(campaign, n), thread, &f)
}

pub(super) fn get(world: &mut World, req: &Req<'_>) -> Reply {
    let id = req.param(0);
    if is_missing(id) {
        return Reply::not_found("Call");
    }
    if let Some(c) = world.calls.get(id) {
        return Reply::ok(c);
    }
    if let Some((campaign, n)) = parse_campaign_call_id(id) {
        return Reply::ok(&campaign_call_value(world, campaign, n));
    }
    let h = hash(&["call", id]);
    let f = call_facts(h, 1_769_936_400 + (h % (27 * 86_400)) as i64);
    let thread = generated_thread(world, &uuid(&["thread-of-call", id]));
    Reply::ok(&call_value(id, thread, &f))
}

/// An ID3 tag and MPEG frame headers, then bytes derived from the id: small,
/// deterministic and plainly not JSON.
pub(super) fn recording(_world: &mut World, req: &Req<'_>) -> Reply {
    let id = req.param(0);
    if is_missing(id) {
        return Reply::not_found("Call");
    }
    let mut audio = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    let mut h = hash(&["recording", id]);
    for _ in 0..8 {
        audio.extend_from_slice(&[0xff, 0xfb, 0x90, 0x64]);
        for _ in 0..15 {
            h = hash(&[&h.to_string()]);
            audio.extend_from_slice(&h.to_le_bytes());
        }
    }
    Reply {
        status: StatusCode::OK,
        content_type: "audio/mpeg",
        body: Bytes::from(audio),
        headers: Vec::new(),
    }
}

pub(super) fn start(world: &mut World, req: &Req<'_>) -> Reply {
    let body = match input::object(req.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let parsed = (|| {
        let agent = input::required_str(&body, "agent_id")?;
        let to = input::required_str(&body, "phone_number_to")?;
        if !is_e164(to) {
            let mut extra = serde_json::Map::new();
            extra.insert("field".into(), "phone_number_to".into());
            return Err(Reply::coded_with(
                StatusCode::BAD_REQUEST,
                "INVALID_PHONE_NUMBER",
                "phone_number_to must be in E.164 format",
                extra,
            ));
        }
        let display = input::optional_str(&body, "end_user_display_name")?;
        let first = input::optional_str(&body, "initial_message")?;
        Ok((agent, to, display, first))
    })();
    let (agent, to, display, first) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    let now = world.tick();
    let end_user = uuid(&["enduser", "phone", to]);
    let stored = world.end_users.entry(end_user.clone()).or_insert_with(|| {
        json!({"id": end_user, "display_name": to, "integration_type": "api", "info": {"phone_number": to}})
    });
    if let Some(obj) = stored.as_object_mut() {
        if let Some(name) = display {
            obj.insert("display_name".into(), name.into());
        }
        let ctx = body.get("end_user_context").filter(|v| !v.is_null());
        if let (Some(ctx), Some(info)) = (ctx, obj.get_mut("info").and_then(Value::as_object_mut)) {
            info.insert("context".into(), ctx.clone());
        }
    }
    let tid = thread_id_for(&end_user);
    let thread = thread_value(
        &tid,
        agent_ref(agent),
        end_user_ref(world, &end_user),
        json!({"id": "int_phone_api", "type": "phone_call"}),
        now,
        true,
    );
    world.threads.insert(tid.clone(), thread.clone());
    if let Some(text) = first {
        let m = message(&tid, "AI", text, now, false);
        world.messages.entry(tid).or_default().push(m);
    }
    let serial = world.serial();
    let id = uuid(&["call", &serial.to_string()]);
    let call = json!({
        "id": id,
        "thread": thread,
        "type": "outbound",
        "status": "queued",
        "answered_by": null,
        "created_at": rfc3339(now),
        "started_at": null,
        "ended_at": null,
        "duration": 0,
        "billable_duration": 0,
    });
    world.calls.insert(id, call.clone());
    Reply::json(StatusCode::CREATED, &call)
}
