//! Who is asking: the caller a request's token names (or the anonymous
//! caller), and whether its scopes reach the route.
//!
//! `Authorization: Bearer <token>` names a caller; no `Authorization`, or
//! one of another scheme (a service still sending its old `api-key`), is the
//! anonymous caller. The header is read here and nowhere else: it is never
//! logged and never forwarded (upstream requests are built from scratch).

pub mod callers;
mod callers_toml;
pub mod file;
#[cfg(test)]
mod fuzz;
pub mod scopes;

use std::sync::Arc;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::error::Refusal;
use crate::routes::RouteSpec;
use callers::{Caller, Callers};
use scopes::Scopes;

/// The caller of a request.
///
/// # Errors
/// [`Refusal::Unauthenticated`]: a `Bearer` token no caller has, or no token
/// while anonymous callers may do nothing.
pub fn authenticate<'c>(
    headers: &HeaderMap,
    callers: &'c Callers,
) -> Result<&'c Arc<Caller>, Refusal> {
    let bearer = headers
        .get(AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            let (scheme, rest) = v.split_at(v.len().min(7));
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
        });
    match bearer {
        Some(token) => callers
            .find(token.trim_ascii())
            .ok_or(Refusal::Unauthenticated),
        None if callers.anonymous.scopes.is_empty() => Err(Refusal::Unauthenticated),
        None => Ok(&callers.anonymous),
    }
}

/// Whether `caller` may use `route`.
///
/// # Errors
/// [`Refusal::Forbidden`] naming the scope the route needs.
pub fn authorize(caller: &Caller, route: &RouteSpec) -> Result<(), Refusal> {
    if caller.scopes.allows(route) {
        Ok(())
    } else {
        Err(Refusal::Forbidden(Scopes::needed(route)))
    }
}
