//! Downstream request line -> [`Routed`], or the downstream error that refuses it.
//!
//! The path is matched exactly as received: no percent-decoding and no
//! resolving of `.`/`..`, so nothing but the routes of [`table::ROUTES`] can
//! ever reach upstream with the key. Routing also puts the target in
//! canonical form: that text is the cache key and the upstream target.

use std::borrow::Cow;

use http::{Method, Request, Uri};

use crate::error::Refusal;

mod invalidates;
pub mod params;
pub mod query;
pub mod readme;
pub mod spec;
pub mod table;

use params::digits_i64;
pub use table::{Kind, ROUTES, RouteId, RouteSpec};
use table::{Param, Seg};

/// The longest request target served; longer ones get 414 `uri_too_long`.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// The largest header block answered normally; larger gets 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Altur's paths live below this; the upstream base URL ends with it.
pub const API_PREFIX: &str = "/api/v1.0";
/// No Altur path has more segments than this.
const MAX_SEGMENTS: usize = 5;

/// The gateway's own routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    Healthz,
    Readyz,
    Metrics,
    /// `GET /status`: the live page for people.
    Status,
    /// `GET /status.json`: what the page polls.
    StatusJson,
    /// `POST /webhooks/altur`: Altur's webhook.
    Webhook,
}

impl Local {
    /// Label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Local::Healthz => "healthz",
            Local::Readyz => "readyz",
            Local::Metrics => "metrics",
            Local::Status => "status",
            Local::StatusJson => "status_json",
            Local::Webhook => "webhook",
        }
    }
}

/// An Altur route, matched and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub spec: &'static RouteSpec,
    /// The canonical upstream target below the base URL (borrowed from the
    /// request when it already is canonical): the cache key.
    pub target: Cow<'a, str>,
    /// HEAD: answer without a body.
    pub head: bool,
}

/// What a downstream request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed<'a> {
    Api(Matched<'a>),
    Local(Local),
}

/// What the HTTP layer leaves to us: the size limits (414 and 431 with the
/// JSON body), and HTTP/1.1's rule that a request carries exactly one `Host`
/// (hyper serves one without; HTTP/2 names the authority in `:authority`).
///
/// # Errors
/// [`Refusal::UriTooLong`], [`Refusal::HeadersTooLarge`] or [`Refusal::MissingHost`].
pub fn check_limits<B>(req: &Request<B>) -> Result<(), Refusal> {
    if req.version() == http::Version::HTTP_11 {
        let mut hosts = req.headers().get_all(http::header::HOST).iter();
        if hosts.next().is_none() || hosts.next().is_some() {
            return Err(Refusal::MissingHost);
        }
    }
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len())
        + req.uri().authority().map_or(0, |a| a.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Err(Refusal::UriTooLong);
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return Err(Refusal::HeadersTooLarge);
    }
    Ok(())
}

/// Maps a method and request target to a route, with the target in
/// canonical form (path parameters canonicalised; a list's query validated
/// and canonicalised; any other route's query dropped).
///
/// # Errors
/// [`Refusal::NotFound`], [`Refusal::MethodNotAllowed`] or a parameter
/// refusal; none of them reaches upstream.
pub fn route<'a>(method: &Method, uri: &'a Uri) -> Result<Routed<'a>, Refusal> {
    route_target(method, uri.path(), uri.query())
}

/// As [`route`], from the raw path and query.
///
/// # Errors
/// As [`route`].
pub fn route_target<'a>(
    method: &Method,
    path: &'a str,
    query: Option<&str>,
) -> Result<Routed<'a>, Refusal> {
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return local(method, path).map(Routed::Local);
    };
    let Some(rest) = rest.strip_prefix('/') else {
        return Err(Refusal::NotFound);
    };
    let mut segs = [""; MAX_SEGMENTS];
    let mut n = 0;
    for s in rest.split('/') {
        if s.is_empty() || n == MAX_SEGMENTS {
            return Err(Refusal::NotFound);
        }
        segs[n] = s;
        n += 1;
    }
    let segs = &segs[..n];
    let head = *method == Method::HEAD;
    let wanted = if head { &Method::GET } else { method };
    let mut shape_matched = false;
    for spec in &ROUTES {
        if !shape_matches(spec.path, segs) {
            continue;
        }
        shape_matched = true;
        if spec.method == *wanted {
            let target = canonical_target(spec, segs, path, query)?;
            return Ok(Routed::Api(Matched { spec, target, head }));
        }
    }
    if shape_matched {
        Err(Refusal::MethodNotAllowed(allow(segs)))
    } else {
        Err(Refusal::NotFound)
    }
}

fn local(method: &Method, path: &str) -> Result<Local, Refusal> {
    if path == "/webhooks/altur" {
        // 404 when no webhook secret is configured: the gateway decides.
        return if *method == Method::POST {
            Ok(Local::Webhook)
        } else {
            Err(Refusal::MethodNotAllowed("POST".into()))
        };
    }
    let route = match path {
        "/healthz" => Local::Healthz,
        "/readyz" => Local::Readyz,
        "/metrics" => Local::Metrics,
        "/status" => Local::Status,
        "/status.json" => Local::StatusJson,
        _ => return Err(Refusal::NotFound),
    };
    // HEAD is served wherever GET is (the SPEC: "GET and HEAD /healthz");
    // hyper leaves the body out of a HEAD response.
    if *method != Method::GET && *method != Method::HEAD {
        return Err(Refusal::MethodNotAllowed("GET, HEAD".into()));
    }
    Ok(route)
}

fn shape_matches(pattern: &[Seg], segs: &[&str]) -> bool {
    pattern.len() == segs.len()
        && pattern.iter().zip(segs).all(|(p, s)| match p {
            Seg::Lit(l) => l == s,
            // An action is a word of its own: `/campaigns/1/contacts` is not one.
            Seg::Param(Param::Action) => table::ACTIONS.contains(s),
            Seg::Param(_) => true,
        })
}

/// `Allow` for a path every route of which refused the method.
fn allow(segs: &[&str]) -> String {
    let mut methods: Vec<&str> = Vec::new();
    for spec in ROUTES.iter().filter(|s| shape_matches(s.path, segs)) {
        if spec.method == Method::GET {
            methods.extend(["GET", "HEAD"]);
        } else {
            methods.push(spec.method.as_str());
        }
    }
    methods.join(", ")
}

/// Checks one path parameter; true when it is already in canonical form.
fn check_param(param: Param, seg: &str) -> Result<bool, Refusal> {
    match param {
        Param::CampaignId => digits_i64(seg)
            .map(|_| is_canonical_number(seg))
            .ok_or(Refusal::InvalidCampaignId),
        Param::ContactId => digits_i64(seg)
            .map(|_| is_canonical_number(seg))
            .ok_or_else(|| Refusal::InvalidParameter(param.name().into())),
        Param::Action => Ok(true),
        Param::CallId | Param::ThreadId | Param::EndUserId => {
            if params::token(seg) {
                Ok(true)
            } else {
                Err(Refusal::InvalidParameter(param.name().into()))
            }
        }
    }
}

fn is_canonical_number(seg: &str) -> bool {
    !(seg.len() > 1 && seg.starts_with('0'))
}

/// Validates the parameters and writes the target in canonical form,
/// borrowing `path` when it already is and no query is left.
fn canonical_target<'a>(
    spec: &RouteSpec,
    segs: &[&str],
    path: &'a str,
    query: Option<&str>,
) -> Result<Cow<'a, str>, Refusal> {
    let mut canonical = true;
    for (p, s) in spec.path.iter().zip(segs) {
        if let Seg::Param(param) = p {
            canonical &= check_param(*param, s)?;
        }
    }
    let query = match spec.list() {
        Some(list) => query::canonical(list, query).map_err(|e| Refusal::InvalidParameter(e.0))?,
        None => None,
    };
    if canonical && query.is_none() {
        return Ok(Cow::Borrowed(&path[API_PREFIX.len()..]));
    }
    let mut out = String::with_capacity(path.len() + query.as_ref().map_or(0, |q| q.len() + 1));
    for (p, s) in spec.path.iter().zip(segs) {
        out.push('/');
        match p {
            Seg::Param(Param::CampaignId | Param::ContactId) => match digits_i64(s) {
                Some(v) => out.push_str(&v.to_string()),
                None => out.push_str(s),
            },
            Seg::Param(_) => out.push_str(s),
            Seg::Lit(l) => out.push_str(l),
        }
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(&q);
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests;
