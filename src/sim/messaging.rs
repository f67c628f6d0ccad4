//! Conversation endpoints: a thread, its messages, and `POST /message`.
//!
//! `POST /message` is the end user writing to the agent: the simulator
//! stores that message and the agent's reply in the end user's thread and
//! answers `{"thread", "messages": [the reply], "in_response_to": the
//! end user's message}`.

use http::StatusCode;
use serde_json::{Value, json};

use super::convo::{
    agent_ref, end_user_ref, is_missing, message, messages as thread_messages, thread,
    thread_id_for, thread_value,
};
use super::endpoints::Req;
use super::input;
use super::reply::Reply;
use super::state::World;

pub(super) fn get_thread(world: &mut World, req: &Req<'_>) -> Reply {
    let id = req.param(0);
    if is_missing(id) {
        return Reply::not_found("Thread");
    }
    Reply::ok(&thread(world, id))
}

pub(super) fn list(world: &mut World, req: &Req<'_>) -> Reply {
    let id = req.param(0);
    if is_missing(id) {
        return Reply::not_found("Thread");
    }
    Reply::ok(&Value::Array(thread_messages(world, id)))
}

pub(super) fn send(world: &mut World, req: &Req<'_>) -> Reply {
    let body = match input::object(req.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // The older docs call the agent `chatbot_id`.
    let agent_field = if body.contains_key("agent_id") || !body.contains_key("chatbot_id") {
        "agent_id"
    } else {
        "chatbot_id"
    };
    let parsed = (|| {
        Ok::<_, Reply>((
            input::required_str(&body, agent_field)?,
            input::required_str(&body, "end_user_id")?,
            input::required_str(&body, "content")?,
        ))
    })();
    let (agent, end_user, content) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    if is_missing(end_user) {
        return Reply::not_found("End user");
    }
    let now = world.tick();
    let tid = thread_id_for(end_user);
    let integration = match world.threads.get(&tid) {
        Some(t) => t["integration"].clone(),
        None => json!({"id": "int_api_000001", "type": "api"}),
    };
    let t = thread_value(
        &tid,
        agent_ref(agent),
        end_user_ref(world, end_user),
        integration,
        now,
        true,
    );
    world.threads.insert(tid.clone(), t.clone());
    let asked = message(&tid, "EU", content, now, true);
    let reply = message(&tid, "AI", &answer_to(content), now, false);
    let sent = world.messages.entry(tid).or_default();
    sent.push(asked.clone());
    sent.push(reply.clone());
    Reply::json(
        StatusCode::OK,
        &json!({"thread": t, "messages": [reply], "in_response_to": asked}),
    )
}

/// The simulated agent's reply: short, deterministic, quoting the question.
fn answer_to(content: &str) -> String {
    let quoted: String = content.chars().take(60).collect();
    format!("Gracias por su mensaje («{quoted}»). Un asesor le responderá en breve.")
}
