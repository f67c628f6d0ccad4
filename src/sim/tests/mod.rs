//! Simulator tests: bodies and state through the route table (no network),
//! and the wire behaviour (key, limit, faults, recording, connections) over
//! real HTTP.

mod bodies;
mod campaign_reads;
mod campaign_writes;
mod reads;
mod wire;
mod writes;

use http::Method;
use serde_json::Value;

use super::endpoints::dispatch;
use super::state::World;

/// Status, body as JSON (`Null` when it is not JSON), and whether it was a replay.
struct Answer {
    status: u16,
    json: Value,
    replayed: bool,
}

fn send_keyed(
    world: &mut World,
    method: &str,
    target: &str,
    key: Option<&str>,
    body: &str,
) -> Answer {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let o = dispatch(world, &method, path, query, key, body.as_bytes());
    Answer {
        status: o.reply.status.as_u16(),
        json: serde_json::from_slice(&o.reply.body).unwrap_or(Value::Null),
        replayed: o.replayed,
    }
}

fn send(world: &mut World, method: &str, target: &str, body: &str) -> Answer {
    send_keyed(world, method, target, None, body)
}

fn get(world: &mut World, target: &str) -> Answer {
    send(world, "GET", target, "")
}

/// `GET` that must answer 200; its JSON.
fn ok(world: &mut World, target: &str) -> Value {
    let a = get(world, target);
    assert_eq!(a.status, 200, "{target}: {}", a.json);
    a.json
}

proptest::proptest! {
    /// Whatever arrives, the route table answers with a status Altur uses.
    #[test]
    fn garbage_never_panics(
        method in proptest::sample::select(vec!["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]),
        segments in proptest::collection::vec("(campaigns|contacts|calls|call|message|thread|enduser|recording|pause|0|7|42001|-1|99999999999999999999|missing|%2F|\\.\\.|[a-z0-9]{0,3})", 0..5),
        query in "[a-zA-Z=&%+/0-9]{0,24}",
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        json_body in proptest::bool::ANY,
    ) {
        let mut world = World::default();
        let path = format!("/api/v1.0/{}", segments.join("/"));
        let body = if json_body { br#"{"name": "x", "contacts": [{"contact": 1}], "agent_id": 3}"#.to_vec() } else { body };
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let o = dispatch(&mut world, &method, &path, Some(&query), Some("key"), &body);
        proptest::prop_assert!([200, 201, 400, 404, 405, 409].contains(&o.reply.status.as_u16()), "{} {} -> {}", method, path, o.reply.status);
    }
}
