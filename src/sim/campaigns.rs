//! Campaign endpoints: the detail, create, update and the lifecycle actions
//! (the list is [`super::campaign_list`]).
//!
//! A generated campaign's detail is exactly [`campaign_body`] until a write changes it; then the
//! changed fields are merged into that same object.

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::FIRST_MISSING_ID;
use super::bodies::{campaign_body, campaign_extras, campaign_value, default_week};
use super::clock::rfc3339;
use super::endpoints::Req;
use super::input;
use super::reply::Reply;
use super::seed::hash;
use super::state::{CampaignState, World, merge};

/// Fields no write may change (Altur answers `IMMUTABLE_FIELD`).
const IMMUTABLE: [&str; 3] = ["agent_id", "integration_id", "integration_type"];
/// Fields `PATCH` merges; others are ignored.
const PATCHABLE: [&str; 10] = [
    "name",
    "description",
    "timezone",
    "retries",
    "message_limit",
    "first_message",
    "template",
    "template_alt",
    "scheduling",
    "cycles",
];

/// A campaign path id: digits below [`FIRST_MISSING_ID`].
pub(super) fn campaign_id(raw: &str) -> Option<i64> {
    input::digits(raw).filter(|id| (0..FIRST_MISSING_ID).contains(id))
}

/// The `campaign` object `GET /campaigns/{id}` shows; `None` when missing.
pub(super) fn detail(world: &World, id: i64) -> Option<Value> {
    if !(0..FIRST_MISSING_ID).contains(&id) {
        return None;
    }
    match world.campaigns.get(&id) {
        Some(CampaignState::Created(c)) => Some(c.clone()),
        Some(CampaignState::Changed(fields)) => {
            let mut c = campaign_value(id);
            merge(&mut c, &Value::Object(fields.clone()));
            Some(c)
        }
        None => Some(campaign_value(id)),
    }
}

/// Detail fields over the generated list-only ones: what the list shows.
pub(super) fn record(world: &World, id: i64) -> Option<Value> {
    let d = detail(world, id)?;
    let mut rec = if world.created(id) {
        json!({})
    } else {
        Value::Object(campaign_extras(id))
    };
    merge(&mut rec, &d);
    Some(rec)
}

fn status_of(world: &World, id: i64) -> String {
    record(world, id)
        .and_then(|r| r.get("status").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

pub(super) fn get(world: &mut World, req: &Req<'_>) -> Reply {
    let Some(id) = campaign_id(req.param(0)) else {
        return Reply::not_found("Campaign");
    };
    if !world.campaigns.contains_key(&id) {
        return Reply::raw_json(StatusCode::OK, campaign_body(id));
    }
    match detail(world, id) {
        Some(c) => Reply::ok(&json!({"success": true, "campaign": c})),
        None => Reply::not_found("Campaign"),
    }
}

/// Checks the fields create and update share.
fn validate(body: &Map<String, Value>) -> Result<(), Reply> {
    if let Some(name) = body.get("name") {
        match name.as_str() {
            Some(n) if !n.trim().is_empty() && n.chars().count() <= 255 => {}
            _ => return Err(Reply::invalid("name", "name must be 1 to 255 characters")),
        }
    }
    let ranged = |field: &str, lo: i64, hi: i64| match body.get(field) {
        None => Ok(()),
        Some(v) if v.as_i64().is_some_and(|n| (lo..=hi).contains(&n)) => Ok(()),
        Some(_) => Err(Reply::invalid(
            field,
            &format!("{field} must be from {lo} to {hi}"),
        )),
    };
    ranged("retries", 0, 5)?;
    ranged("message_limit", 1, 10_000)?;
    for field in [
        "description",
        "timezone",
        "first_message",
        "template",
        "template_alt",
    ] {
        input::optional_str(body, field)?;
    }
    for field in ["scheduling", "cycles"] {
        input::optional_object(body, field)?;
    }
    Ok(())
}

pub(super) fn create(world: &mut World, req: &Req<'_>) -> Reply {
    let body = match input::object(req.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let parsed = (|| {
        validate(&body)?;
        let name = input::required_str(&body, "name")?;
        let agent = input::required_str(&body, "agent_id")?;
        let integration = input::required_str(&body, "integration_id")?;
        let kind = input::required_str(&body, "integration_type")?;
        if kind != "phone_call" && kind != "whatsapp" {
            return Err(Reply::invalid(
                "integration_type",
                "integration_type must be phone_call or whatsapp",
            ));
        }
        let other_channel = if kind == "phone_call" {
            ["template", "template_alt"].as_slice()
        } else {
            ["first_message"].as_slice()
        };
        if let Some(f) = other_channel
            .iter()
            .find(|f| body.get(**f).is_some_and(|v| !v.is_null()))
        {
            return Err(Reply::invalid(
                f,
                &format!("{f} does not apply to {kind} campaigns"),
            ));
        }
        Ok((name, agent, integration, kind))
    })();
    let (name, agent, integration, kind) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(id) = world.new_campaign_id() else {
        return Reply::coded(
            StatusCode::INSUFFICIENT_STORAGE,
            "LIMIT_REACHED",
            "no more campaigns can be created",
        );
    };
    let phone = kind == "phone_call";
    let cycles_in = input::optional_object(&body, "cycles").unwrap_or_else(|_| json!({}));
    let mut cycles = json!({
        "enabled": cycles_in.get("enabled").and_then(Value::as_bool).unwrap_or(false),
        "mode": cycles_in.get("mode").cloned().unwrap_or_else(|| "cooldown".into()),
        "max_iterations": 1, "cooldown_minutes": 720,
        "filter_statuses": [], "filter_tags": [], "schedule": default_week(),
        "schedule_start_date": null, "schedule_end_date": null,
    });
    merge(&mut cycles, &cycles_in);
    let mut scheduling = default_week();
    merge(
        &mut scheduling,
        &input::optional_object(&body, "scheduling").unwrap_or_else(|_| json!({})),
    );
    let field = |k: &str, default: Value| body.get(k).cloned().unwrap_or(default);
    let campaign = json!({
        "id": id,
        "name": name,
        "description": field("description", Value::Null),
        "status": "pending",
        "archived": false,
        "integration": {"id": integration, "type": kind},
        "agent": {"id": agent, "name": format!("Agent {}", hash(&["agent", agent]) % 100)},
        "created_at": rfc3339(world.tick()),
        "scheduling": scheduling,
        "timezone": field("timezone", "America/Mexico_City".into()),
        "retries": field("retries", 2.into()),
        "message_limit": field("message_limit", 1000.into()),
        "first_message": if phone { field("first_message", Value::Null) } else { Value::Null },
        "template": if phone { Value::Null } else { field("template", Value::Null) },
        "template_alt": if phone { Value::Null } else { field("template_alt", Value::Null) },
        "concurrency_limit": 5,
        "cycles": cycles,
        "cycle_current_iteration": 0,
        "cycle_last_iteration_at": null,
    });
    world
        .campaigns
        .insert(id, CampaignState::Created(campaign.clone()));
    Reply::json(
        StatusCode::CREATED,
        &json!({"success": true, "campaign": campaign}),
    )
}

/// Records changed fields of campaign `id`.
fn change(world: &mut World, id: i64, fields: &Value) {
    match world.campaigns.get_mut(&id) {
        Some(CampaignState::Created(c)) => merge(c, fields),
        Some(CampaignState::Changed(m)) => merge_map(m, fields),
        None => {
            let mut m = Map::new();
            merge_map(&mut m, fields);
            world.campaigns.insert(id, CampaignState::Changed(m));
        }
    }
}

fn merge_map(m: &mut Map<String, Value>, fields: &Value) {
    let mut v = Value::Object(std::mem::take(m));
    merge(&mut v, fields);
    if let Value::Object(back) = v {
        *m = back;
    }
}

pub(super) fn update(world: &mut World, req: &Req<'_>) -> Reply {
    let Some(id) = campaign_id(req.param(0)) else {
        return Reply::not_found("Campaign");
    };
    let body = match input::object(req.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let immutable = IMMUTABLE.iter().map(|f| (*f, body.get(*f))).chain(
        ["enabled", "mode"]
            .iter()
            .map(|f| (*f, body.get("cycles").and_then(|c| c.get(*f)))),
    );
    for (field, value) in immutable {
        if value.is_some() {
            let name = if IMMUTABLE.contains(&field) {
                field.to_string()
            } else {
                format!("cycles.{field}")
            };
            let mut extra = Map::new();
            extra.insert("field".into(), name.clone().into());
            return Reply::coded_with(
                StatusCode::BAD_REQUEST,
                "IMMUTABLE_FIELD",
                &format!("{name} cannot be changed"),
                extra,
            );
        }
    }
    if let Err(r) = validate(&body) {
        return r;
    }
    let Some(current) = record(world, id) else {
        return Reply::not_found("Campaign");
    };
    if current["status"] == "finished" {
        return Reply::coded(
            StatusCode::CONFLICT,
            "CAMPAIGN_FINISHED",
            "finished campaigns are read-only",
        );
    }
    if body.contains_key("cycles") && current["cycles"]["enabled"] != true {
        return Reply::coded(
            StatusCode::BAD_REQUEST,
            "CYCLES_NOT_ENABLED",
            "this campaign has no cycles",
        );
    }
    let fields: Map<String, Value> = body
        .into_iter()
        .filter(|(k, _)| PATCHABLE.contains(&k.as_str()))
        .collect();
    change(world, id, &Value::Object(fields));
    match detail(world, id) {
        Some(c) => Reply::ok(&json!({"success": true, "campaign": c})),
        None => Reply::not_found("Campaign"),
    }
}

pub(super) fn action(world: &mut World, req: &Req<'_>) -> Reply {
    let Some(id) = campaign_id(req.param(0)) else {
        return Reply::not_found("Campaign");
    };
    let action = req.param(1);
    let fields = match action {
        "pause" => json!({"status": "inactive"}),
        "activate" | "resume" => json!({"status": "active"}),
        "archive" => json!({"archived": true}),
        _ => {
            return Reply::coded(
                StatusCode::BAD_REQUEST,
                "UNKNOWN_ACTION",
                "action must be activate, pause, archive or resume",
            );
        }
    };
    let status = status_of(world, id);
    if status == "finished" && action != "archive" {
        let mut extra = Map::new();
        extra.insert("current_status".into(), status.into());
        extra.insert("valid_targets".into(), json!([]));
        return Reply::coded_with(
            StatusCode::CONFLICT,
            "INVALID_STATUS_TRANSITION",
            &format!("a finished campaign cannot {action}"),
            extra,
        );
    }
    change(world, id, &fields);
    match detail(world, id) {
        Some(c) => Reply::ok(&json!({"success": true, "campaign": c})),
        None => Reply::not_found("Campaign"),
    }
}
