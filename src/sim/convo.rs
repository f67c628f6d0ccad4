//! Conversation bodies: threads, messages and end users, generated from
//! their ids or as writes left them in the [`World`].
//!
//! Any id is a thread or an end user (a generated one) unless it starts with
//! `missing`. An end user's thread id is a function of the end user's id, so
//! `POST /message` for one end user always lands in the same thread.

use serde_json::{Value, json};

use super::clock::rfc3339;
use super::seed::{hash, name, pick, uuid};
use super::state::World;

/// Ids that start with this do not exist, whatever the resource.
pub(super) fn is_missing(id: &str) -> bool {
    id.starts_with("missing")
}

/// The thread of an end user.
pub(super) fn thread_id_for(end_user: &str) -> String {
    uuid(&["thread", end_user])
}

pub(super) fn generated_end_user(id: &str) -> Value {
    let h = hash(&["enduser", id]);
    let whatsapp = h.is_multiple_of(3);
    json!({
        "id": id,
        "display_name": name(h),
        "integration_type": if whatsapp { "whatsapp" } else { "api" },
        "info": {
            "email": format!("cliente{}@example.com", h % 10_000),
            "plan": pick(&["basic", "plus", "gold"], h >> 16, "basic"),
        },
    })
}

/// An end user as writes left it, or generated.
pub(super) fn end_user(world: &World, id: &str) -> Value {
    world
        .end_users
        .get(id)
        .cloned()
        .unwrap_or_else(|| generated_end_user(id))
}

/// The `{id, display_name}` a thread shows of its end user.
pub(super) fn end_user_ref(world: &World, id: &str) -> Value {
    let eu = end_user(world, id);
    json!({"id": id, "display_name": eu["display_name"]})
}

/// An agent reference for an agent id, its name derived from the id.
pub(super) fn agent_ref(agent_id: &str) -> Value {
    json!({"id": agent_id, "name": format!("Agent {}", hash(&["agent", agent_id]) % 100)})
}

pub(super) fn thread_value(
    id: &str,
    agent: Value,
    end_user: Value,
    integration: Value,
    updated_at: i64,
    active: bool,
) -> Value {
    json!({
        "id": id,
        "agent": agent,
        "end_user": end_user,
        "integration": integration,
        "updated_at": rfc3339(updated_at),
        "active": active,
        "blocked": false,
        "tags": [],
        "assigned_to": [],
    })
}

/// A thread no write touched: its agent and end user derive from its id.
pub(super) fn generated_thread(world: &World, id: &str) -> Value {
    let h = hash(&["thread", id]);
    let end_user = uuid(&["enduser-of", id]);
    let whatsapp = h.is_multiple_of(2);
    let integration = if whatsapp {
        json!({"id": format!("int_wa_{:06}", h % 1_000_000), "type": "whatsapp"})
    } else {
        json!({"id": format!("int_api_{:06}", h % 1_000_000), "type": "api"})
    };
    let last = generated_messages(id).last().and_then(|m| {
        m["sent_at"]
            .as_str()
            .and_then(|t| super::clock::parse(t, false))
    });
    thread_value(
        id,
        agent_ref(&uuid(&["agent-of", id])),
        end_user_ref(world, &end_user),
        integration,
        last.unwrap_or(1_769_904_000),
        !h.is_multiple_of(5),
    )
}

/// A thread as writes left it, or generated.
pub(super) fn thread(world: &World, id: &str) -> Value {
    world
        .threads
        .get(id)
        .cloned()
        .unwrap_or_else(|| generated_thread(world, id))
}

pub(super) fn message(thread_id: &str, sent_by: &str, content: &str, at: i64, read: bool) -> Value {
    json!({
        "thread_id": thread_id,
        "type": "text",
        "content": content,
        "media": null,
        "sent_by": sent_by,
        "sent_by_user": null,
        "sent_at": rfc3339(at),
        "read": read,
    })
}

const LINES: [(&str, &str); 4] = [
    ("EU", "Hola, ¿me pueden dar información del plan?"),
    (
        "AI",
        "¡Claro! El plan incluye llamadas ilimitadas. ¿Le interesa contratarlo?",
    ),
    ("EU", "Sí, ¿cuál es el siguiente paso?"),
    ("AI", "Le envío el enlace de registro. ¡Gracias!"),
];

/// The history a thread had before the simulator started: 0 to 3
/// messages in February 2026 (before any write's time).
pub(super) fn generated_messages(thread_id: &str) -> Vec<Value> {
    let h = hash(&["messages", thread_id]);
    let start = 1_769_936_400 + (h % 20) as i64 * 86_400;
    LINES
        .iter()
        .take((h % 4) as usize)
        .enumerate()
        .map(|(i, (by, text))| message(thread_id, by, text, start + i as i64 * 45, true))
        .collect()
}

/// A thread's messages, oldest first: its history, then what was sent.
pub(super) fn messages(world: &World, thread_id: &str) -> Vec<Value> {
    let mut all = generated_messages(thread_id);
    if let Some(sent) = world.messages.get(thread_id) {
        all.extend(sent.iter().cloned());
    }
    all
}
