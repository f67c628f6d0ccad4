//! Deterministic body builders for what every campaign has before any write:
//! the campaign itself, its contacts and its calls.
//!
//! Even ids are `phone_call` campaigns, odd ids `whatsapp`. Campaign `c` has
//! `120 + c % 50` contacts with ids `c * 1000 + n` (n from 1), whose status
//! cycles through its channel's list (`n = 1` is `queue`, `n = 2`
//! `sending`); a phone campaign has `80 + c % 40` calls, a WhatsApp one none.

use serde_json::{Map, Value, json};

use super::clock::rfc3339;
use super::seed::{hash, mm_ss, name, phone, pick, uuid};

/// A deterministic campaign body shaped like Altur's (about 1.5 KB).
pub fn campaign_body(id: i64) -> String {
    json!({"success": true, "campaign": campaign_value(id)}).to_string()
}

/// The `campaign` object of [`campaign_body`].
pub(super) fn campaign_value(id: i64) -> Value {
    let week = default_week();
    let phone = is_phone(id);
    let analytics = if phone {
        json!({
            "type": "phone_call",
            "calls": 1200 + id % 997,
            "callsAnswered": 800 + id % 311,
            "contactsTotal": 1500,
            "contactsAnswered": 640 + id % 101,
            "contactsConverted": 120 + id % 37,
            "contactsConvertedRate": 0.1875,
            "averageCallDuration": 94.5,
            "voicemails": 210,
        })
    } else {
        json!({
            "type": "whatsapp",
            "sent": 5000 + id % 1009,
            "delivered": 4870,
            "read": 3900 + id % 401,
            "replied": 1100,
            "converted": 310 + id % 53,
            "convertedRate": 0.062,
            "failed": 130,
        })
    };
    json!({
        "id": id,
        "name": format!("Campaign {id}"),
        "integration": {"id": if phone { format!("int_phone_{:06}", id % 1_000_000) } else { format!("int_wa_{:06}", id % 1_000_000) }},
        "agent": {"id": format!("agent_{:04}", id % 10_000), "name": format!("Agent {}", id % 100)},
        "created_at": "2026-01-15T10:30:00Z",
        "scheduling": week,
        "cycles": {
            "enabled": phone,
            "max_iterations": 7,
            "cooldown_minutes": 720,
            "filter_statuses": ["failed", "no-answer"],
            "filter_tags": ["callback"],
            "schedule": week,
            "schedule_start_date": "2026-02-01",
            "schedule_end_date": "2026-12-31",
        },
        "analytics": analytics,
    })
}

/// Weekdays 09:00 to 18:00: every generated campaign's scheduling.
pub(super) fn default_week() -> Value {
    let day = |active: bool| json!({"startTime": "09:00", "stopTime": "18:00", "active": active});
    json!({
        "mon": day(true), "tue": day(true), "wed": day(true), "thu": day(true),
        "fri": day(true), "sat": day(false), "sun": day(false),
    })
}

pub(super) fn is_phone(id: i64) -> bool {
    id % 2 == 0
}

/// A generated campaign's status, by its last digit (ids ending in 9 are finished).
const STATUS_BY_LAST_DIGIT: [&str; 10] = [
    "active", "active", "inactive", "active", "pending", "ready", "active", "cooldown", "active",
    "finished",
];

/// The list fields a generated campaign has beyond its detail body.
pub(super) fn campaign_extras(id: i64) -> Map<String, Value> {
    let phone = is_phone(id);
    let status = pick(&STATUS_BY_LAST_DIGIT, id.unsigned_abs(), "active");
    let extras = json!({
        "description": format!("{} outreach, wave {}", if phone { "Phone" } else { "WhatsApp" }, id % 12 + 1),
        "status": status,
        "timezone": "America/Mexico_City",
        "retries": id % 4,
        "archived": false,
        "template": if phone { Value::Null } else { format!("promo_{:02}", id % 7).into() },
        "first_message": if phone { Value::from(format!("Hola, le llamo de parte de Agent {}.", id % 100)) } else { Value::Null },
        "concurrency_limit": 5 + id % 6,
        "cycle_current_iteration": if phone { id % 7 } else { 0 },
        "cycle_last_iteration_at": if phone { Value::from(rfc3339(1_770_714_000 + id % 86_400)) } else { Value::Null },
    });
    match extras {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A list entry from a campaign's full record (detail fields and extras).
pub(super) fn campaign_list_item(id: i64, rec: &Value) -> Value {
    let f = |k: &str| rec.get(k).cloned().unwrap_or(Value::Null);
    let cycle = |k: &str| {
        rec.pointer(&format!("/cycles/{k}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "id": id,
        "name": f("name"),
        "description": f("description"),
        "status": f("status"),
        "created_at": f("created_at"),
        "agent": f("agent"),
        "integration": {"id": rec.pointer("/integration/id").cloned().unwrap_or(Value::Null), "type": integration_type(id, rec)},
        "scheduling": f("scheduling"),
        "timezone": f("timezone"),
        "retries": f("retries"),
        "archived": rec.get("archived").cloned().unwrap_or(Value::Bool(false)),
        "template": f("template"),
        "first_message": f("first_message"),
        "concurrency_limit": f("concurrency_limit"),
        "cycle_enabled": rec.pointer("/cycles/enabled").cloned().unwrap_or(Value::Bool(false)),
        "cycle_max_iterations": cycle("max_iterations"),
        "cycle_cooldown_minutes": cycle("cooldown_minutes"),
        "cycle_filter_statuses": rec.pointer("/cycles/filter_statuses").cloned().unwrap_or_else(|| json!([])),
        "cycle_filter_tags": rec.pointer("/cycles/filter_tags").cloned().unwrap_or_else(|| json!([])),
        "cycle_current_iteration": rec.get("cycle_current_iteration").cloned().unwrap_or(Value::from(0)),
        "cycle_last_iteration_at": f("cycle_last_iteration_at"),
    })
}

/// `phone_call` or `whatsapp`: what a created campaign says, else by parity.
pub(super) fn integration_type(id: i64, rec: &Value) -> &str {
    match rec.pointer("/integration/type").and_then(Value::as_str) {
        Some(t) => t,
        None if is_phone(id) => "phone_call",
        None => "whatsapp",
    }
}

const PHONE_CONTACT_STATUSES: [&str; 9] = [
    "queue",
    "sending",
    "voicemail",
    "failed",
    "no-answer",
    "busy",
    "retrying",
    "converted",
    "unreachable",
];
const WA_CONTACT_STATUSES: [&str; 9] = [
    "queue",
    "sending",
    "sent",
    "delivered",
    "read",
    "failed",
    "accepted",
    "rejected",
    "converted",
];

/// Contacts a campaign had before any write.
pub(super) fn generated_contact_count(campaign: i64) -> i64 {
    120 + campaign % 50
}

pub(super) fn contact_id(campaign: i64, n: i64) -> i64 {
    campaign.saturating_mul(1000).saturating_add(n)
}

/// `(campaign, n)` of a generated contact id, when it is one of that campaign's.
pub(super) fn generated_contact_index(campaign: i64, contact: i64) -> Option<i64> {
    let n = contact.checked_sub(campaign.checked_mul(1000)?)?;
    (1..=generated_contact_count(campaign))
        .contains(&n)
        .then_some(n)
}

/// Generated contact `n` (from 1) of `campaign`.
pub(super) fn generated_contact(campaign: i64, n: i64) -> Value {
    let id = contact_id(campaign, n);
    let h = hash(&["contact", &id.to_string()]);
    let statuses = if is_phone(campaign) {
        &PHONE_CONTACT_STATUSES
    } else {
        &WA_CONTACT_STATUSES
    };
    let status = pick(statuses, (n - 1).unsigned_abs(), "queue");
    let touched = status != "queue";
    let calls = if touched && is_phone(campaign) {
        1 + n % 3
    } else {
        0
    };
    let billed = if calls > 0 { 20 + h % 400 } else { 0 };
    let converted = status == "converted";
    json!({
        "f_id": format!("crm-{campaign}-{n:04}"),
        "id": id,
        "name": name(h),
        "contact": phone(campaign.unsigned_abs().wrapping_mul(7919).wrapping_add(n.unsigned_abs().wrapping_mul(104_729))),
        "status": status,
        "context": {"plan": pick(&["basic", "plus", "gold"], h >> 20, "basic"), "source": "crm"},
        "retries": if touched { n % 3 } else { 0 },
        "has_follow_up": n % 7 == 0,
        "call_count": calls,
        "billed_duration": mm_ss(billed),
        "last_call_at": if touched { Value::from(rfc3339(1_770_022_800 + n * 8_220 + campaign % 3_600)) } else { Value::Null },
        "extracted_data": if converted { json!({"interested": true, "preferred_time": "mañana"}) } else { json!({}) },
        "tags": if n % 5 == 0 { json!(["callback"]) } else { json!([]) },
    })
}

/// Calls a campaign had before any write (WhatsApp campaigns place none).
pub(super) fn generated_call_count(campaign: i64) -> i64 {
    if is_phone(campaign) {
        80 + campaign % 40
    } else {
        0
    }
}

/// The id of generated call `n` of `campaign`, UUID-shaped and reversible.
pub(super) fn campaign_call_id(campaign: i64, n: i64) -> String {
    format!("{campaign:08x}-ca11-4000-8000-{n:012x}")
}

/// `(campaign, n)` of a generated call id, when it names an existing call.
pub(super) fn parse_campaign_call_id(id: &str) -> Option<(i64, i64)> {
    let rest = id.get(8..)?.strip_prefix("-ca11-4000-8000-")?;
    let hex = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| i64::from_str_radix(s, 16).ok())
            .flatten()
    };
    let campaign = hex(id.get(..8)?)?;
    let n = hex(rest)?;
    let exists = (0..super::FIRST_MISSING_ID).contains(&campaign)
        && (1..=generated_call_count(campaign)).contains(&n);
    (exists && campaign_call_id(campaign, n) == id).then_some((campaign, n))
}

/// What happened on a call, derived from a seed.
pub(super) struct CallFacts {
    pub status: &'static str,
    pub answered_by: &'static str,
    pub created: i64,
    pub started: Option<i64>,
    pub ended: Option<i64>,
    pub duration: i64,
    pub billed: i64,
}

const CALL_STATUSES: [&str; 10] = [
    "ended",
    "ended",
    "no-answer",
    "ended",
    "busy",
    "ended",
    "failed",
    "ended",
    "ended",
    "in-progress",
];

pub(super) fn call_facts(seed: u64, created: i64) -> CallFacts {
    let status = pick(&CALL_STATUSES, seed, "ended");
    let answered_by = match status {
        "ended" => pick(&["human", "human", "machine"], seed / 10, "human"),
        "in-progress" => "human",
        _ => "unknown",
    };
    let started = (status != "failed").then_some(created + 4);
    let duration = if status == "ended" {
        30 + (seed.wrapping_mul(37) % 300) as i64
    } else {
        0
    };
    let ended = match (status, started) {
        ("in-progress", _) | (_, None) => None,
        ("no-answer", Some(s)) => Some(s + 30),
        ("busy", Some(s)) => Some(s + 2),
        (_, Some(s)) => Some(s + duration),
    };
    CallFacts {
        status,
        answered_by,
        created,
        started,
        ended,
        duration,
        billed: (duration + 59) / 60 * 60,
    }
}

/// When generated call `n` of `campaign` was placed.
fn campaign_call_created(campaign: i64, n: i64) -> i64 {
    1_770_022_800 + (n - 1) * 8_220 + campaign % 60 * 60
}

pub(super) fn campaign_call_facts(campaign: i64, n: i64) -> CallFacts {
    call_facts(n.unsigned_abs(), campaign_call_created(campaign, n))
}

/// Generated call `n` of `campaign` as `GET /campaigns/{id}/calls` lists it.
pub(super) fn campaign_call(campaign: i64, n: i64) -> Value {
    let id = campaign_call_id(campaign, n);
    let f = campaign_call_facts(campaign, n);
    let contact_n = (n - 1) % generated_contact_count(campaign) + 1;
    let contact = generated_contact(campaign, contact_n);
    let recorded = f.status == "ended" || f.status == "in-progress";
    json!({
        "id": id,
        "type": "outbound",
        "status": f.status,
        "answered_by": f.answered_by,
        "created_at": rfc3339(f.created),
        "started_at": f.started.map(rfc3339),
        "ended_at": f.ended.map(rfc3339),
        "duration": f.duration,
        "billed_duration": mm_ss(f.billed.unsigned_abs()),
        "contact": {
            "id": contact["id"],
            "f_id": contact["f_id"],
            "name": contact["name"],
            "phone_number": contact["contact"],
            "status": contact["status"],
        },
        "extracted_data": if f.status == "ended" && f.answered_by == "human" { json!({"interested": n % 3 == 0}) } else { json!({}) },
        "tags": if f.status == "no-answer" { json!(["retry"]) } else { json!([]) },
        "recording_url": if recorded { Value::from(format!("/call/{id}/recording")) } else { Value::Null },
    })
}

/// The end user a generated contact is in Altur's conversations.
pub(super) fn contact_end_user_id(contact_id: i64) -> String {
    uuid(&["enduser", &contact_id.to_string()])
}
