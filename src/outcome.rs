//! Outcomes as one vocabulary: each `as_str()` feeds the response header, the
//! access log field and the metric label, so the three never disagree.

use http::HeaderValue;

use crate::routes::{Local, RouteId};

/// The `route` of the log line and metric label: a name from the route
/// table, a local route, or `other` for a request no route took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteLabel {
    Api(RouteId),
    Local(Local),
    Other,
}

impl RouteLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteLabel::Api(r) => r.as_str(),
            RouteLabel::Local(l) => l.as_str(),
            RouteLabel::Other => "other",
        }
    }
}

/// How a read was served: the `Cache-Status` header (RFC 9211), the `cache`
/// log field and metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    /// Expired less than `stale_while_revalidate_seconds` ago: answered at
    /// once while one background refresh runs.
    Revalidating,
    /// Found in the shared (Redis) cache: another replica fetched it.
    SharedHit,
    /// This request led an upstream fetch.
    Miss {
        stored: bool,
    },
    /// This request joined another request's fetch.
    Collapsed,
    /// Served a stale entry because upstream failed or the queue was full.
    Stale {
        fwd_status: u16,
    },
    /// Refused at once: the queue wait would exceed `max_wait_ms`.
    Refused,
    /// A write: sent through, never stored.
    Bypass,
    /// Not a cacheable route.
    None,
}

impl CacheStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Revalidating => "revalidate",
            CacheStatus::SharedHit => "shared_hit",
            CacheStatus::Miss { .. } => "miss",
            CacheStatus::Collapsed => "collapsed",
            CacheStatus::Stale { .. } => "stale",
            CacheStatus::Refused => "refused",
            CacheStatus::Bypass => "bypass",
            CacheStatus::None => "none",
        }
    }

    /// The RFC 9211 `Cache-Status` value.
    pub fn header(&self) -> Option<HeaderValue> {
        Some(match self {
            CacheStatus::Hit => HeaderValue::from_static("altur-gateway; hit"),
            CacheStatus::Revalidating => {
                HeaderValue::from_static("altur-gateway; hit; detail=stale-while-revalidate")
            }
            CacheStatus::SharedHit => HeaderValue::from_static("altur-gateway; hit; detail=shared"),
            CacheStatus::Miss { stored: true } => {
                HeaderValue::from_static("altur-gateway; fwd=miss; stored")
            }
            CacheStatus::Miss { stored: false } => {
                HeaderValue::from_static("altur-gateway; fwd=miss")
            }
            CacheStatus::Collapsed => {
                HeaderValue::from_static("altur-gateway; fwd=miss; collapsed")
            }
            CacheStatus::Stale { fwd_status } => {
                HeaderValue::try_from(format!("altur-gateway; fwd=stale; fwd-status={fwd_status}"))
                    .ok()?
            }
            CacheStatus::Refused => {
                HeaderValue::from_static("altur-gateway; fwd=miss; detail=busy")
            }
            CacheStatus::Bypass => HeaderValue::from_static("altur-gateway; fwd=bypass"),
            CacheStatus::None => return None,
        })
    }
}

/// Why a background refresh ran: the `trigger` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An entry in its stale-while-revalidate window was read.
    Revalidate,
    /// An entry callers keep reading neared its expiry.
    Ahead,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Revalidate => "revalidate",
            Trigger::Ahead => "ahead",
        }
    }
}

/// The `status` label of an upstream request: its HTTP status, grouped
/// beyond the ones that matter, so the label set stays bounded.
pub fn upstream_status(status: u16) -> &'static str {
    match status {
        200 => "200",
        404 => "404",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        401 => "401",
        403 => "403",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// The `status` label of an upstream request that got no answer.
pub const UPSTREAM_TIMEOUT: &str = "timeout";
/// Likewise, for a connect or protocol failure.
pub const UPSTREAM_ERROR: &str = "error";
