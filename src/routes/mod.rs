//! Downstream request line -> [`Routed`], or the downstream error that refuses it.
//!
//! The path is matched exactly as received: no percent-decoding and no
//! resolving of `.`/`..`, so nothing but the routes of [`table::ROUTES`] can
//! ever reach upstream with the key. Routing also puts the target in
//! canonical form: that text is the cache key and the upstream target.

use std::borrow::Cow;

use http::{Method, Request};

use crate::error::Refusal;

pub mod params;
pub mod query;
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
}

impl Local {
    /// Label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Local::Healthz => "healthz",
            Local::Readyz => "readyz",
            Local::Metrics => "metrics",
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

/// Size limits the HTTP layer leaves to us: 414 and 431 with the JSON body.
///
/// # Errors
/// [`Refusal::UriTooLong`] or [`Refusal::HeadersTooLarge`].
pub fn check_limits<B>(req: &Request<B>) -> Result<(), Refusal> {
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

/// Maps a method and raw path (the query is dropped: no route takes one yet)
/// to a route.
///
/// # Errors
/// [`Refusal::NotFound`], [`Refusal::MethodNotAllowed`] or a parameter
/// refusal; none of them reaches upstream.
pub fn route<'a>(method: &Method, path: &'a str) -> Result<Routed<'a>, Refusal> {
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
    for spec in ROUTES {
        if !shape_matches(spec.path, segs) {
            continue;
        }
        shape_matched = true;
        if spec.method == *wanted {
            let target = canonical_target(spec.path, segs, path)?;
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
    let route = match path {
        "/healthz" => Local::Healthz,
        "/readyz" => Local::Readyz,
        "/metrics" => Local::Metrics,
        _ => return Err(Refusal::NotFound),
    };
    if *method != Method::GET {
        return Err(Refusal::MethodNotAllowed("GET".into()));
    }
    Ok(route)
}

fn shape_matches(pattern: &[Seg], segs: &[&str]) -> bool {
    pattern.len() == segs.len()
        && pattern.iter().zip(segs).all(|(p, s)| match p {
            Seg::Lit(l) => l == s,
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

/// Validates the parameters and writes the target in canonical form,
/// borrowing `path` when it already is.
fn canonical_target<'a>(
    pattern: &[Seg],
    segs: &[&str],
    path: &'a str,
) -> Result<Cow<'a, str>, Refusal> {
    let mut canonical = true;
    for (p, s) in pattern.iter().zip(segs) {
        if let Seg::Param(Param::CampaignId) = p {
            digits_i64(s).ok_or(Refusal::InvalidCampaignId)?;
            canonical &= !(s.len() > 1 && s.starts_with('0'));
        }
    }
    if canonical {
        return Ok(Cow::Borrowed(&path[API_PREFIX.len()..]));
    }
    let mut out = String::with_capacity(path.len());
    for (p, s) in pattern.iter().zip(segs) {
        out.push('/');
        match p {
            Seg::Param(Param::CampaignId) => {
                let v = digits_i64(s).ok_or(Refusal::InvalidCampaignId)?;
                out.push_str(itoa(v).as_str());
            }
            Seg::Lit(l) => out.push_str(l),
        }
    }
    Ok(Cow::Owned(out))
}

fn itoa(v: i64) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Result<Routed<'_>, Refusal> {
        route(&Method::GET, path)
    }

    fn target(path: &str) -> String {
        match get(path) {
            Ok(Routed::Api(m)) => m.target.into_owned(),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn campaign_ids_are_canonical() {
        assert_eq!(target("/api/v1.0/campaigns/7"), "/campaigns/7");
        assert_eq!(target("/api/v1.0/campaigns/007"), "/campaigns/7");
        assert_eq!(target("/api/v1.0/campaigns/0"), "/campaigns/0");
        assert_eq!(
            target("/api/v1.0/campaigns/9223372036854775807"),
            "/campaigns/9223372036854775807"
        );
        assert!(matches!(
            get("/api/v1.0/campaigns/7"),
            Ok(Routed::Api(Matched {
                target: Cow::Borrowed(_),
                ..
            }))
        ));
    }

    #[test]
    fn bad_ids_are_400() {
        for p in [
            "abc",
            "-1",
            "1.5",
            "%31",
            "99999999999999999999",
            "9223372036854775808",
            "+1",
            " 1",
            "%2e%2e",
            "..",
        ] {
            assert_eq!(
                get(&format!("/api/v1.0/campaigns/{p}")),
                Err(Refusal::InvalidCampaignId),
                "{p}"
            );
        }
    }

    #[test]
    fn other_shapes_are_404() {
        for p in [
            "/api/v1.0/campaigns/",
            "/api/v1.0/campaigns/1/",
            "/api/v1.0/campaigns/1/../../x",
            "/api/v1.0/campaigns//1",
            "/api/v1.0/Campaigns/1",
            "/api/v1.0",
            "/api/v1.0/",
            "/api/v1.0/a/b/c/d/e/f",
            "/campaigns/1",
            "/",
            "/healthz/",
        ] {
            assert_eq!(get(p), Err(Refusal::NotFound), "{p}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_path_routes_without_panicking(path in ".{0,64}", digits in "[0-9]{1,25}") {
            let _ = route(&Method::GET, &path);
            let _ = route(&Method::GET, &format!("/api/v1.0/campaigns/{path}"));
            let _ = route(&Method::GET, &format!("/api/v1.0/{path}"));
            let p = format!("/api/v1.0/campaigns/{digits}");
            let routed = route(&Method::GET, &p);
            match digits.parse::<i64>() {
                Ok(v) => proptest::prop_assert_eq!(
                    routed.map(|r| match r { Routed::Api(m) => m.target.into_owned(), _ => String::new() }),
                    Ok(format!("/campaigns/{v}"))
                ),
                Err(_) => proptest::prop_assert_eq!(routed, Err(Refusal::InvalidCampaignId)),
            }
        }
    }

    #[test]
    fn methods() {
        assert_eq!(
            route(&Method::POST, "/api/v1.0/campaigns/1"),
            Err(Refusal::MethodNotAllowed("GET, HEAD".into()))
        );
        assert_eq!(
            route(&Method::DELETE, "/healthz"),
            Err(Refusal::MethodNotAllowed("GET".into()))
        );
        assert!(matches!(
            route(&Method::HEAD, "/api/v1.0/campaigns/1"),
            Ok(Routed::Api(Matched { head: true, .. }))
        ));
        assert_eq!(
            route(&Method::GET, "/metrics"),
            Ok(Routed::Local(Local::Metrics))
        );
    }
}
