//! The route table: method and path pattern to handler, below `/api/v1.0`.
//!
//! Paths match exactly as received, segment by segment; `{name}` takes any
//! one non-empty segment. HEAD is served wherever GET is. A path no pattern
//! matches is 404; one that matches only with other methods is 405 with
//! `Allow`. A write (POST, PATCH, PUT, DELETE) with an `Idempotency-Key`
//! that was seen before for the same method and path gets the first answer
//! again, and changes nothing.

use http::header::ALLOW;
use http::{HeaderValue, Method, StatusCode};

use super::input::Params;
use super::reply::Reply;
use super::state::World;
use super::{calls, campaign_list, campaigns, contacts, endusers, messaging};

const PREFIX: &str = "/api/v1.0";

/// What a handler gets: path parameters, query and body.
pub(super) struct Req<'a> {
    params: Vec<&'a str>,
    pub query: Params,
    pub body: &'a [u8],
}

impl Req<'_> {
    /// Path parameter `i` in pattern order (`""` when there is none).
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).copied().unwrap_or("")
    }
}

type Handler = fn(&mut World, &Req<'_>) -> Reply;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

impl Verb {
    fn of(m: &Method) -> Option<Verb> {
        match *m {
            Method::GET | Method::HEAD => Some(Verb::Get),
            Method::POST => Some(Verb::Post),
            Method::PATCH => Some(Verb::Patch),
            Method::PUT => Some(Verb::Put),
            Method::DELETE => Some(Verb::Delete),
            _ => None,
        }
    }

    /// How `Allow` names it.
    fn allow(self) -> &'static str {
        match self {
            Verb::Get => "GET, HEAD",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }
}

struct Route {
    verb: Verb,
    pattern: &'static str,
    handler: Handler,
}

const fn route(verb: Verb, pattern: &'static str, handler: Handler) -> Route {
    Route {
        verb,
        pattern,
        handler,
    }
}

/// First match wins, so the literal `/contacts` comes before `/{action}`.
const ROUTES: &[Route] = &[
    route(Verb::Get, "/campaigns", campaign_list::list),
    route(Verb::Post, "/campaigns", campaigns::create),
    route(Verb::Get, "/campaigns/{id}", campaigns::get),
    route(Verb::Patch, "/campaigns/{id}", campaigns::update),
    route(Verb::Get, "/campaigns/{id}/contacts", contacts::list),
    route(Verb::Post, "/campaigns/{id}/contacts", contacts::create),
    route(Verb::Get, "/campaigns/{id}/calls", calls::list),
    route(Verb::Post, "/campaigns/{id}/{action}", campaigns::action),
    route(
        Verb::Get,
        "/campaigns/{id}/contacts/{contact_id}",
        contacts::get,
    ),
    route(
        Verb::Delete,
        "/campaigns/{id}/contacts/{contact_id}",
        contacts::delete,
    ),
    route(Verb::Post, "/call", calls::start),
    route(Verb::Get, "/call/{call_id}", calls::get),
    route(Verb::Get, "/call/{call_id}/recording", calls::recording),
    route(Verb::Get, "/thread/{thread_id}", messaging::get_thread),
    route(Verb::Post, "/message", messaging::send),
    route(Verb::Get, "/message/{thread_id}", messaging::list),
    route(Verb::Post, "/enduser", endusers::create),
    route(Verb::Get, "/enduser/{enduser_id}", endusers::get),
    route(Verb::Put, "/enduser/{enduser_id}", endusers::update),
];

/// The path parameters when `path` matches `pattern`.
fn captures<'p>(pattern: &str, path: &'p str) -> Option<Vec<&'p str>> {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    let mut params = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => params.push(g),
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// An endpoint's answer, and whether it was an idempotent replay.
pub(super) struct Outcome {
    pub reply: Reply,
    pub replayed: bool,
}

/// Answers one authorised request.
pub(super) fn dispatch(
    world: &mut World,
    method: &Method,
    path: &str,
    query: Option<&str>,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> Outcome {
    let fresh = |reply| Outcome {
        reply,
        replayed: false,
    };
    let Some(rest) = path.strip_prefix(PREFIX).filter(|r| r.starts_with('/')) else {
        return fresh(Reply::failure(StatusCode::NOT_FOUND, "Not found"));
    };
    let verb = Verb::of(method);
    let mut allowed: Vec<&str> = Vec::new();
    for r in ROUTES {
        let Some(params) = captures(r.pattern, rest) else {
            continue;
        };
        if Some(r.verb) != verb {
            if !allowed.contains(&r.verb.allow()) {
                allowed.push(r.verb.allow());
            }
            continue;
        }
        let key = idempotency_key.filter(|_| r.verb != Verb::Get);
        if let Some(reply) = key.and_then(|k| world.replay(method.as_str(), path, k)) {
            return Outcome {
                reply,
                replayed: true,
            };
        }
        let req = Req {
            params,
            query: Params::parse(query),
            body,
        };
        let reply = (r.handler)(world, &req);
        if let Some(k) = key {
            world.remember(method.as_str(), path, k, &reply);
        }
        return fresh(reply);
    }
    if allowed.is_empty() {
        return fresh(Reply::failure(StatusCode::NOT_FOUND, "Not found"));
    }
    let reply = Reply::failure(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    fresh(match HeaderValue::try_from(allowed.join(", ")) {
        Ok(v) => reply.with_header(ALLOW, v),
        Err(_) => reply,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_capture_non_empty_segments_only() {
        assert_eq!(captures("/call/{id}", "/call/abc"), Some(vec!["abc"]));
        assert_eq!(captures("/call/{id}", "/call/"), None);
        assert_eq!(captures("/call/{id}", "/call/a/b"), None);
        assert_eq!(captures("/campaigns", "/campaigns/"), None);
        assert_eq!(
            captures("/campaigns/{id}/contacts/{c}", "/campaigns/7/contacts/7001"),
            Some(vec!["7", "7001"])
        );
    }
}
