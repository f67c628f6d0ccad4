//! The gateway's own errors, each knowing which side caused it, and the one
//! place they become a status code and a JSON body.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

/// A downstream request the gateway refuses before any upstream work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such route")]
    NotFound,
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(String),
    #[error("campaign id must be digits that fit in a signed 64-bit integer")]
    InvalidCampaignId,
    /// Another path or query parameter; holds its name, safe to echo.
    #[error("invalid parameter `{0}`")]
    InvalidParameter(String),
    /// A `Bearer` token no caller has, or no token where one is required.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The route is outside the caller's scopes; holds the scope it needs.
    #[error("forbidden; needs scope {0}")]
    Forbidden(String),
    /// The caller is over its `requests_per_second`.
    #[error("caller rate limited; retry after {0:?}")]
    CallerRateLimited(Duration),
    /// A write body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A write body over `upstream.max_request_body_bytes`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A write body that is not JSON.
    #[error("invalid json")]
    InvalidJson,
    /// A webhook whose signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    #[error("request target longer than 8 KiB")]
    UriTooLong,
    #[error("request headers larger than 32 KiB")]
    HeadersTooLarge,
    /// An HTTP/1.1 request without exactly one `Host` (RFC 9112, 3.2: 400).
    #[error("HTTP/1.1 request without exactly one Host header")]
    MissingHost,
}

/// An upstream-side failure, after the request was accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Connect or protocol failure (retries spent). The reason is for logs only.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    /// Upstream answered 401 or 403: the gateway's key is wrong.
    #[error("upstream rejected the gateway's api key with status {0}")]
    AuthFailed(u16),
    /// The request could not start within `max_wait_ms` (or 429s outlasted the retries).
    #[error("upstream budget exhausted; retry after {}s", retry_after_secs(*.0))]
    Busy(Duration),
    /// No answer within `upstream.timeout_ms`.
    #[error("upstream did not answer in time")]
    Timeout,
}

fn retry_after_secs(d: Duration) -> u64 {
    // Round up: a client that comes back after Retry-After must not be early.
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Either kind of error, as the downstream sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayError {
    Downstream(Refusal),
    Upstream(UpstreamError),
}

impl From<Refusal> for GatewayError {
    fn from(r: Refusal) -> Self {
        GatewayError::Downstream(r)
    }
}

impl From<UpstreamError> for GatewayError {
    fn from(e: UpstreamError) -> Self {
        GatewayError::Upstream(e)
    }
}

impl GatewayError {
    /// Status, `snake_case` code and one-sentence message: the SPEC's error table.
    pub fn parts(&self) -> (StatusCode, &'static str, Cow<'static, str>) {
        let (status, code, message) = self.static_parts();
        let message = match self {
            GatewayError::Downstream(Refusal::InvalidParameter(name)) => {
                Cow::Owned(format!("The parameter `{name}` is missing or invalid."))
            }
            GatewayError::Downstream(Refusal::Forbidden(scope)) => Cow::Owned(format!(
                "This route needs the scope `{scope}` (or a broader one), which this caller does not have."
            )),
            _ => Cow::Borrowed(message),
        };
        (status, code, message)
    }

    fn static_parts(&self) -> (StatusCode, &'static str, &'static str) {
        use GatewayError::*;
        match self {
            Downstream(Refusal::NotFound) => (StatusCode::NOT_FOUND, "not_found", "No such route."),
            Downstream(Refusal::MethodNotAllowed(_)) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This method is not allowed on this path.",
            ),
            Downstream(Refusal::InvalidCampaignId) => (
                StatusCode::BAD_REQUEST,
                "invalid_campaign_id",
                "The campaign id must be digits that fit in a signed 64-bit integer.",
            ),
            Downstream(Refusal::InvalidParameter(_)) => (
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "A parameter is missing or invalid.",
            ),
            Downstream(Refusal::Unauthenticated) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "A valid caller token is required: send Authorization: Bearer <token>.",
            ),
            Downstream(Refusal::Forbidden(_)) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "This route is outside the caller's scopes.",
            ),
            Downstream(Refusal::CallerRateLimited(_)) => (
                StatusCode::TOO_MANY_REQUESTS,
                "caller_rate_limited",
                "This caller is over its request rate; retry later.",
            ),
            Downstream(Refusal::UnsupportedMediaType) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "A write body must be sent as Content-Type: application/json.",
            ),
            Downstream(Refusal::PayloadTooLarge) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than the gateway accepts.",
            ),
            Downstream(Refusal::InvalidJson) => (
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "The request body is not valid JSON.",
            ),
            Downstream(Refusal::InvalidSignature) => (
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                "The X-Altur-Signature header is missing or does not match the body.",
            ),
            Downstream(Refusal::UriTooLong) => (
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                "The request target is longer than 8 KiB.",
            ),
            Downstream(Refusal::HeadersTooLarge) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "The request headers are larger than 32 KiB.",
            ),
            // The SPEC's closest code: a header, like Idempotency-Key, named in the message.
            Downstream(Refusal::MissingHost) => (
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "The header `Host` is missing or repeated; an HTTP/1.1 request needs exactly one.",
            ),
            Upstream(UpstreamError::Unavailable(_)) => (
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                "The Altur API could not be reached.",
            ),
            Upstream(UpstreamError::AuthFailed(_)) => (
                StatusCode::BAD_GATEWAY,
                "upstream_auth_failed",
                "The Altur API rejected the gateway's credentials.",
            ),
            Upstream(UpstreamError::Busy(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_busy",
                "The shared Altur request budget is exhausted; retry later.",
            ),
            Upstream(UpstreamError::Timeout) => (
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "The Altur API did not answer in time.",
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.static_parts().0
    }

    pub fn code(&self) -> &'static str {
        self.static_parts().1
    }

    /// The JSON body: `{"success": false, "error": {"code", "message"}}`.
    pub fn body(&self) -> Bytes {
        let (_, code, message) = self.parts();
        Bytes::from(
            serde_json::json!({"success": false, "error": {"code": code, "message": message}})
                .to_string(),
        )
    }

    /// `Allow` for 405s, `Retry-After` seconds for 503s.
    pub fn allow(&self) -> Option<&str> {
        match self {
            GatewayError::Downstream(Refusal::MethodNotAllowed(a)) => Some(a),
            _ => None,
        }
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            GatewayError::Upstream(UpstreamError::Busy(d))
            | GatewayError::Downstream(Refusal::CallerRateLimited(d)) => {
                Some(retry_after_secs(*d).max(1))
            }
            _ => None,
        }
    }

    /// `WWW-Authenticate` for 401s.
    pub fn www_authenticate(&self) -> Option<&'static str> {
        matches!(self, GatewayError::Downstream(Refusal::Unauthenticated)).then_some("Bearer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_parameter_is_named_in_a_json_safe_message() {
        let e = GatewayError::from(Refusal::InvalidParameter("st\"atus".into()));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let v: serde_json::Value = serde_json::from_slice(&e.body()).expect("json");
        assert_eq!(v["error"]["code"], "invalid_parameter");
        assert_eq!(
            v["error"]["message"],
            "The parameter `st\"atus` is missing or invalid."
        );
    }

    #[test]
    fn body_shape() {
        let e = GatewayError::from(UpstreamError::Busy(Duration::from_millis(1500)));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after_secs(), Some(2));
        let v: serde_json::Value = serde_json::from_slice(&e.body()).expect("json");
        assert_eq!(v["success"], false);
        assert_eq!(v["error"]["code"], "upstream_busy");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.ends_with('.'))
        );
    }
}
