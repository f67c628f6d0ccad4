//! Downstream request line -> [`Route`], or the downstream error that refuses it.
//!
//! The path is matched exactly as received: no percent-decoding and no
//! resolving of `.`/`..`, so nothing but the routes below can ever reach
//! upstream with the key.

pub mod params;
pub mod query;

use http::Method;

use crate::error::Refusal;

/// The longest request target served; longer ones get 414 `uri_too_long`.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

const CAMPAIGNS: &str = "/api/v1.0/campaigns/";

/// What a downstream request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET|HEAD /api/v1.0/campaigns/{id}`; `head` suppresses the body.
    Campaign {
        id: CampaignId,
        head: bool,
    },
    Healthz,
    Readyz,
    Metrics,
}

impl Route {
    /// Label for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Route::Campaign { .. } => "campaign",
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::Metrics => "metrics",
        }
    }
}

/// A campaign id, canonical: `007` and `7` are the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CampaignId(pub i64);

impl CampaignId {
    /// Parses one path segment: ASCII digits only, fitting in an `i64`.
    pub fn parse(segment: &str) -> Option<CampaignId> {
        if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        segment.parse::<i64>().ok().map(CampaignId)
    }

    /// The canonical upstream path below the base URL, e.g. `/campaigns/7`.
    /// This is also the cache key.
    pub fn upstream_path(&self) -> String {
        format!("/campaigns/{}", self.0)
    }
}

/// Maps a method and raw path (without query) to a route.
///
/// # Errors
/// [`Refusal::NotFound`], [`Refusal::MethodNotAllowed`] or
/// [`Refusal::InvalidCampaignId`]; none of them reaches upstream.
pub fn route(method: &Method, path: &str) -> Result<Route, Refusal> {
    if let Some(rest) = path.strip_prefix(CAMPAIGNS) {
        if rest.is_empty() || rest.contains('/') {
            return Err(Refusal::NotFound);
        }
        let head = match *method {
            Method::GET => false,
            Method::HEAD => true,
            _ => return Err(Refusal::MethodNotAllowed("GET, HEAD")),
        };
        let id = CampaignId::parse(rest).ok_or(Refusal::InvalidCampaignId)?;
        return Ok(Route::Campaign { id, head });
    }
    let route = match path {
        "/healthz" => Route::Healthz,
        "/readyz" => Route::Readyz,
        "/metrics" => Route::Metrics,
        _ => return Err(Refusal::NotFound),
    };
    if *method != Method::GET {
        return Err(Refusal::MethodNotAllowed("GET"));
    }
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Result<Route, Refusal> {
        route(&Method::GET, path)
    }

    #[test]
    fn campaign_ids_are_canonical() {
        let id = |p| match get(p) {
            Ok(Route::Campaign { id, .. }) => id.0,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(id("/api/v1.0/campaigns/7"), 7);
        assert_eq!(id("/api/v1.0/campaigns/007"), 7);
        assert_eq!(id("/api/v1.0/campaigns/9223372036854775807"), i64::MAX);
        assert_eq!(CampaignId(7).upstream_path(), "/campaigns/7");
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
            "/api/v1.0/campaigns",
            "/api/v1.0/campaigns/1/",
            "/api/v1.0/campaigns/1/calls",
            "/api/v1.0/campaigns/1/../../x",
            "/api/v1.0/campaigns//1",
            "/api/v1.0/Campaigns/1",
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
            let routed = route(&Method::GET, &format!("/api/v1.0/campaigns/{digits}"));
            match digits.parse::<i64>() {
                Ok(v) => proptest::prop_assert_eq!(
                    routed,
                    Ok(Route::Campaign { id: CampaignId(v), head: false })
                ),
                Err(_) => proptest::prop_assert_eq!(routed, Err(Refusal::InvalidCampaignId)),
            }
        }
    }

    #[test]
    fn methods() {
        assert_eq!(
            route(&Method::POST, "/api/v1.0/campaigns/1"),
            Err(Refusal::MethodNotAllowed("GET, HEAD"))
        );
        assert_eq!(
            route(&Method::DELETE, "/healthz"),
            Err(Refusal::MethodNotAllowed("GET"))
        );
        assert!(matches!(
            route(&Method::HEAD, "/api/v1.0/campaigns/1"),
            Ok(Route::Campaign { head: true, .. })
        ));
    }
}
