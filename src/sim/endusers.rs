//! End user endpoints: read, create (`POST /enduser`) and update
//! (`PUT /enduser/{id}`, replacing the fields it names).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::convo::{end_user, is_missing};
use super::endpoints::Req;
use super::input;
use super::reply::Reply;
use super::seed::uuid;
use super::state::World;

pub(super) fn get(world: &mut World, req: &Req<'_>) -> Reply {
    let id = req.param(0);
    if is_missing(id) {
        return Reply::not_found("End user");
    }
    Reply::ok(&end_user(world, id))
}

/// `display_name` (a string) and `info` (an object), each when given.
fn fields(body: &Map<String, Value>) -> Result<(Option<&str>, Option<Value>), Reply> {
    let name = input::optional_str(body, "display_name")?;
    if name.is_some_and(|n| n.trim().is_empty()) {
        return Err(Reply::invalid(
            "display_name",
            "display_name must not be empty",
        ));
    }
    let info = match body.get("info") {
        None | Some(Value::Null) => None,
        Some(_) => Some(input::optional_object(body, "info")?),
    };
    Ok((name, info))
}

pub(super) fn create(world: &mut World, req: &Req<'_>) -> Reply {
    let body = match input::object(req.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (name, info) = match input::required_str(&body, "display_name").and_then(|_| fields(&body))
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let serial = world.serial();
    let id = uuid(&["enduser", "created", &serial.to_string()]);
    let eu = json!({
        "id": id,
        "display_name": name,
        "integration_type": "api",
        "info": info.unwrap_or_else(|| json!({})),
    });
    world.end_users.insert(id, eu.clone());
    Reply::json(StatusCode::CREATED, &eu)
}

pub(super) fn update(world: &mut World, req: &Req<'_>) -> Reply {
    let id = req.param(0);
    if is_missing(id) {
        return Reply::not_found("End user");
    }
    let body = match input::object(req.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (name, info) = match fields(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut eu = end_user(world, id);
    if let Some(obj) = eu.as_object_mut() {
        if let Some(name) = name {
            obj.insert("display_name".into(), name.into());
        }
        if let Some(info) = info {
            obj.insert("info".into(), info);
        }
    }
    world.end_users.insert(id.to_string(), eu.clone());
    Reply::ok(&eu)
}
