//! Contact endpoints of a campaign: the page-based list, one contact, batch
//! create (with `if_duplicate`) and delete (only in `queue` or `failed`).
//!
//! A campaign's contacts are its generated ones (created campaigns have
//! none) less the deleted, then the created ones in creation order.

use std::collections::HashMap;

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::bodies::{generated_contact, generated_contact_count, generated_contact_index};
use super::campaigns::campaign_id;
use super::endpoints::Req;
use super::input;
use super::reply::Reply;
use super::seed::is_e164;
use super::state::World;

pub(super) const STATUSES: [&str; 15] = [
    "queue",
    "sending",
    "sent",
    "delivered",
    "voicemail",
    "read",
    "failed",
    "no-answer",
    "busy",
    "retrying",
    "converted",
    "acepted",
    "accepted",
    "rejected",
    "unreachable",
];
const MAX_BATCH: usize = 1000;

fn generated_count(world: &World, campaign: i64) -> i64 {
    if world.created(campaign) {
        0
    } else {
        generated_contact_count(campaign)
    }
}

/// Generated contact `n` as writes left it (`None` once deleted).
fn generated(world: &World, campaign: i64, n: i64) -> Option<Value> {
    let id = super::bodies::contact_id(campaign, n);
    match world.contacts.get(&campaign) {
        Some(book) if book.deleted.contains(&id) => None,
        Some(book) => Some(
            book.edited
                .get(&id)
                .cloned()
                .unwrap_or_else(|| generated_contact(campaign, n)),
        ),
        None => Some(generated_contact(campaign, n)),
    }
}

/// Every contact of a campaign, in list order.
fn all(world: &World, campaign: i64) -> Vec<Value> {
    let mut out: Vec<Value> = (1..=generated_count(world, campaign))
        .filter_map(|n| generated(world, campaign, n))
        .collect();
    if let Some(book) = world.contacts.get(&campaign) {
        out.extend(book.created.values().cloned());
    }
    out
}

fn find(world: &World, campaign: i64, contact: i64) -> Option<Value> {
    if let Some(c) = world
        .contacts
        .get(&campaign)
        .and_then(|b| b.created.get(&contact))
    {
        return Some(c.clone());
    }
    let n = generated_contact_index(campaign, contact)?;
    (n <= generated_count(world, campaign))
        .then(|| generated(world, campaign, n))
        .flatten()
}

pub(super) fn list(world: &mut World, req: &Req<'_>) -> Reply {
    let Some(campaign) = campaign_id(req.param(0)) else {
        return Reply::not_found("Campaign");
    };
    let q = &req.query;
    let parsed = (|| Ok::<_, Reply>((q.one_of("status", &STATUSES)?, q.page_index_and_size()?)))();
    let (status, (index, size)) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    let items: Vec<Value> = all(world, campaign)
        .into_iter()
        .filter(|c| status.is_none_or(|s| c["status"] == s))
        .collect();
    Reply::ok(&input::page("contacts", items, index, size, false))
}

pub(super) fn get(world: &mut World, req: &Req<'_>) -> Reply {
    let Some(campaign) = campaign_id(req.param(0)) else {
        return Reply::not_found("Campaign");
    };
    match input::digits(req.param(1)).and_then(|c| find(world, campaign, c)) {
        Some(c) => Reply::ok(&json!({"success": true, "contact": c})),
        None => Reply::not_found("Contact"),
    }
}

pub(super) fn delete(world: &mut World, req: &Req<'_>) -> Reply {
    let Some(campaign) = campaign_id(req.param(0)) else {
        return Reply::not_found("Campaign");
    };
    let Some((id, contact)) =
        input::digits(req.param(1)).and_then(|id| Some((id, find(world, campaign, id)?)))
    else {
        return Reply::not_found("Contact");
    };
    let status = contact["status"].as_str().unwrap_or_default().to_string();
    if status != "queue" && status != "failed" {
        let mut extra = Map::new();
        extra.insert("current_status".into(), status.clone().into());
        return Reply::coded_with(
            StatusCode::CONFLICT,
            "CONTACT_NOT_DELETABLE",
            &format!("a contact in status {status} cannot be deleted (only queue or failed)"),
            extra,
        );
    }
    let book = world.book(campaign);
    if book.created.remove(&id).is_none() {
        book.edited.remove(&id);
        book.deleted.insert(id);
    }
    Reply::ok(&json!({"success": true, "message": "Contact deleted", "id": id}))
}

pub(super) fn create(world: &mut World, req: &Req<'_>) -> Reply {
    let Some(campaign) = campaign_id(req.param(0)) else {
        return Reply::not_found("Campaign");
    };
    let body = match input::object(req.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let items = match body.get("contacts") {
        Some(Value::Array(items)) if items.len() <= MAX_BATCH => items,
        _ => return Reply::invalid("contacts", "contacts must be a list of at most 1000"),
    };
    let update = match body.get("if_duplicate") {
        None | Some(Value::Null) => false,
        Some(v) if v == "skip" => false,
        Some(v) if v == "update" => true,
        Some(_) => return Reply::invalid("if_duplicate", "if_duplicate must be skip or update"),
    };
    let mut by_phone: HashMap<String, i64> = all(world, campaign)
        .iter()
        .filter_map(|c| Some((c["contact"].as_str()?.to_string(), c["id"].as_i64()?)))
        .collect();
    let (mut created, mut updated, mut skipped, mut failed) = (0, 0, 0, 0);
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let phone = item.get("contact").and_then(Value::as_str);
        let outcome = match phone {
            None => Err("MISSING_CONTACT"),
            Some(p) if !is_e164(p) => Err("INVALID_PHONE_NUMBER"),
            Some(p) => Ok(p),
        };
        let phone = match outcome {
            Ok(p) => p,
            Err(code) => {
                failed += 1;
                results.push(json!({"index": index, "id": null, "contact": phone, "error": code}));
                continue;
            }
        };
        let id = match by_phone.get(phone) {
            Some(&existing) if update => {
                edit(world, campaign, existing, item);
                updated += 1;
                existing
            }
            Some(&existing) => {
                skipped += 1;
                existing
            }
            None => {
                let id = world.new_contact_id();
                world
                    .book(campaign)
                    .created
                    .insert(id, new_contact(id, phone, item));
                by_phone.insert(phone.to_string(), id);
                created += 1;
                id
            }
        };
        results.push(json!({"index": index, "id": id, "contact": phone, "error": null}));
    }
    Reply::ok(&json!({
        "success": true,
        "summary": {"created": created, "updated": updated, "skipped_duplicate": skipped, "failed": failed},
        "results": results,
    }))
}

/// The fields a caller may give a contact, from a create item.
fn given(item: &Value) -> impl Iterator<Item = (&'static str, Value)> + '_ {
    ["name", "context", "extracted_data", "f_id"]
        .into_iter()
        .filter_map(|k| Some((k, item.get(k)?.clone())))
}

fn new_contact(id: i64, phone: &str, item: &Value) -> Value {
    let mut c = json!({
        "f_id": null, "id": id, "name": null, "contact": phone, "status": "queue",
        "context": {}, "retries": 0, "has_follow_up": false, "call_count": 0,
        "billed_duration": "00:00", "last_call_at": null, "extracted_data": {}, "tags": [],
    });
    if let Some(m) = c.as_object_mut() {
        m.extend(given(item).map(|(k, v)| (k.to_string(), v)));
    }
    c
}

/// `if_duplicate: update`: the given fields replace the existing contact's.
fn edit(world: &mut World, campaign: i64, id: i64, item: &Value) {
    let Some(mut c) = find(world, campaign, id) else {
        return;
    };
    if let Some(m) = c.as_object_mut() {
        m.extend(given(item).map(|(k, v)| (k.to_string(), v)));
    }
    let book = world.book(campaign);
    match book.created.get_mut(&id) {
        Some(slot) => *slot = c,
        None => {
            book.edited.insert(id, c);
        }
    }
}
