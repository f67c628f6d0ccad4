//! Building downstream responses: a cache entry with `Cache-Status` and
//! `Age`, the gateway's JSON errors, and the JSON of its own routes.

use std::sync::LazyLock;

use bytes::Bytes;
use http::header::{AGE, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use super::Body;
use crate::cache::Entry;
use crate::error::GatewayError;
use crate::outcome::CacheStatus;

pub const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `Age` values, built once: a hit clones one instead of formatting a number.
static AGES: LazyLock<Vec<HeaderValue>> =
    LazyLock::new(|| (0..=1024u64).map(HeaderValue::from).collect());

fn age_header(secs: u64) -> HeaderValue {
    usize::try_from(secs)
        .ok()
        .and_then(|i| AGES.get(i).cloned())
        .unwrap_or_else(|| HeaderValue::from(secs))
}

/// An upstream answer (cached or not) as the caller gets it: status,
/// `Content-Type` and body as they came, plus `Cache-Status` and `Age`.
pub fn entry_response(
    entry: &Entry,
    cache: CacheStatus,
    age: Option<u64>,
    head: bool,
) -> Response<Body> {
    let body = if head {
        Bytes::new()
    } else {
        entry.body.clone()
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = entry.status;
    let h = resp.headers_mut();
    h.reserve(6);
    if let Some(ct) = entry.content_type() {
        h.insert(CONTENT_TYPE, ct);
    }
    if head {
        h.insert(CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
    }
    if let Some(v) = cache.header() {
        h.insert(CACHE_STATUS, v);
    }
    if let Some(age) = age {
        h.insert(AGE, age_header(age));
    }
    resp
}

pub fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, JSON);
    resp
}

/// The gateway's own error: status, JSON body, and `Allow` / `Retry-After`.
pub fn error_response(err: &GatewayError) -> Response<Body> {
    let mut resp = json_response(err.status(), err.body());
    if let Some(allow) = err.allow().and_then(|a| HeaderValue::from_str(a).ok()) {
        resp.headers_mut().insert(ALLOW, allow);
    }
    if let Some(v) = err.www_authenticate() {
        resp.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(v));
    }
    if let Some(secs) = err.retry_after_secs() {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// Spreads the `Retry-After` of a 503 `upstream_busy` (the only 503 of the
/// gateway's own that has one; a relayed upstream 503 carries none) over
/// the caller's expected wait. The header holds that wait rounded up, `n`
/// seconds; to it goes a jitter of 0 to `max(1, ceil(n / 4))` seconds
/// derived from the request id (FNV-1a), so callers refused together do not
/// all come back in the same second, and one request id always gets the same
/// answer. Called where the request id is known: `finish`.
pub fn spread_retry_after(resp: &mut Response<Body>, request_id: &HeaderValue) {
    if resp.status() != StatusCode::SERVICE_UNAVAILABLE {
        return;
    }
    let Some(secs) = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let spread = secs.div_ceil(4).max(1);
    let jitter = fnv1a(request_id.as_bytes()) % (spread + 1);
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs.saturating_add(jitter)));
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// An error answer that also says how the cache took part.
pub fn error_with_status(err: &GatewayError, cache: CacheStatus) -> Response<Body> {
    let mut resp = error_response(err);
    if let Some(v) = cache.header() {
        resp.headers_mut().insert(CACHE_STATUS, v);
    }
    resp
}
