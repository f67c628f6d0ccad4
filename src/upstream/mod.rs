//! The upstream client: builds every request itself (the route's method, the
//! canonical target, the key, and for a write the caller's body, its
//! `Content-Type` and `Idempotency-Key`, nothing else of the caller's),
//! bounds the whole exchange by `upstream.timeout_ms`, and says precisely
//! whether a failed request was sent. TLS by rustls; connections pooled
//! ([`pool`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};

use crate::secret::ApiKey;

mod pool;

/// Largest upstream body accepted (campaigns are a few KiB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Longest pause an upstream `Retry-After` can impose on the whole queue.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// One request to send upstream.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    /// The canonical target below the base URL, e.g. `/campaigns/7`.
    pub target: Arc<str>,
    /// A write's body, bytes as the caller sent them.
    pub body: Option<Bytes>,
    pub content_type: Option<HeaderValue>,
    pub idempotency_key: Option<HeaderValue>,
}

impl UpstreamRequest {
    /// A read: GET of the target.
    pub fn get(target: &str) -> UpstreamRequest {
        UpstreamRequest {
            method: Method::GET,
            target: Arc::from(target),
            body: None,
            content_type: None,
            idempotency_key: None,
        }
    }
}

/// What upstream answered.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    /// `Cache-Control: no-store` was present.
    pub no_store: bool,
    /// Parsed `Retry-After` (seconds or HTTP date), if any.
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// Why no answer came back. Messages never contain the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Nothing of the request was written: the connection could not be
    /// made, or it was found closed before the request went onto it. Safe
    /// to send again, for any method.
    #[error("not sent: {0}")]
    Connect(String),
    /// The exchange broke after the request may have been written: upstream
    /// may have acted on it.
    #[error("protocol: {0}")]
    Protocol(String),
    /// No answer in time (the request may have been written).
    #[error("timeout")]
    Timeout,
}

/// The upstream client.
pub struct Upstream {
    pool: pool::Pool,
    origin: Uri,
    host: HeaderValue,
    /// The base URL's path, e.g. `/api/v1.0`.
    base_path: String,
    key: Arc<ApiKey>,
    timeout: Duration,
    user_agent: HeaderValue,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("origin", &self.origin)
            .field("base_path", &self.base_path)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// `base_url` is a validated `http(s)://host[:port][/path]` without a trailing slash.
    ///
    /// # Errors
    /// A base URL without a host.
    pub fn new(base_url: &str, key: Arc<ApiKey>, timeout: Duration) -> Result<Upstream, String> {
        let uri: Uri = base_url.parse().map_err(|e| format!("{e}"))?;
        let authority = uri.authority().ok_or("no host")?.clone();
        let scheme = uri.scheme().cloned().unwrap_or(http::uri::Scheme::HTTPS);
        let origin = Uri::builder()
            .scheme(scheme)
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| e.to_string())?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?;
        Ok(Upstream {
            pool: pool::Pool::new(origin.clone(), timeout),
            origin,
            host,
            base_path: uri.path().trim_end_matches('/').to_string(),
            key,
            timeout,
            user_agent: HeaderValue::from_static(concat!(
                "altur-gateway/",
                env!("CARGO_PKG_VERSION")
            )),
        })
    }

    fn build(
        &self,
        req: &UpstreamRequest,
        auth: HeaderValue,
    ) -> Result<Request<Full<Bytes>>, FetchError> {
        let mut b = Request::builder()
            .method(req.method.clone())
            .uri(format!("{}{}", self.base_path, req.target))
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(ct) = &req.content_type {
            b = b.header(CONTENT_TYPE, ct.clone());
        }
        if let Some(k) = &req.idempotency_key {
            b = b.header(IDEMPOTENCY_KEY, k.clone());
        }
        b.body(Full::new(req.body.clone().unwrap_or_default()))
            .map_err(|e| FetchError::Connect(e.to_string()))
    }

    /// Sends `req` with the key; the whole exchange (connect included) within
    /// the timeout. `on_send` runs right before the request is written, once
    /// a connection is ready.
    ///
    /// # Errors
    /// [`FetchError`]: not sent, broken after it may have been sent, or timeout.
    pub async fn send(
        &self,
        req: &UpstreamRequest,
        on_send: impl FnOnce(),
    ) -> Result<Fetched, FetchError> {
        let exchange = async {
            let request = self.build(req, self.key.authorization().await)?;
            let mut sender = self.pool.checkout().await?;
            on_send();
            let resp = sender.try_send_request(request).await.map_err(|mut e| {
                // hyper hands the request back only if none of it was
                // written: then it certainly did not reach upstream.
                if e.take_message().is_some() {
                    FetchError::Connect(error_chain(e.error()))
                } else {
                    FetchError::Protocol(error_chain(e.error()))
                }
            })?;
            let (parts, body) = resp.into_parts();
            // hyper takes any three digits; nothing outside 200-599 is an
            // answer to relay (the connection is dropped, not reused).
            if !(200..=599).contains(&parts.status.as_u16()) {
                return Err(FetchError::Protocol(format!(
                    "upstream status {} is outside 200-599",
                    parts.status.as_u16()
                )));
            }
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| FetchError::Protocol(e.to_string()))?
                .to_bytes();
            self.pool.checkin(sender);
            Ok(Fetched {
                status: parts.status,
                content_type: parts.headers.get(CONTENT_TYPE).cloned(),
                no_store: has_no_store(&parts.headers),
                retry_after: parts.headers.get(RETRY_AFTER).and_then(parse_retry_after),
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn has_no_store(headers: &HeaderMap) -> bool {
    headers.get_all(CACHE_CONTROL).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        })
    })
}

/// `Retry-After` as delay-seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(v: &HeaderValue) -> Option<Duration> {
    let s = v.to_str().ok()?.trim();
    let d = if let Ok(secs) = s.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(s).ok()?;
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let p = |s: &str| parse_retry_after(&HeaderValue::from_str(s).expect("hv"));
        assert_eq!(p("3"), Some(Duration::from_secs(3)));
        assert_eq!(p("99999"), Some(MAX_RETRY_AFTER));
        assert_eq!(p("soon"), None);
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10));
        let d = p(&future).expect("date");
        assert!(
            d <= Duration::from_secs(10) && d >= Duration::from_secs(8),
            "{d:?}"
        );
        assert_eq!(p("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
    }

    #[test]
    fn no_store_directive() {
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, HeaderValue::from_static("private, No-Store"));
        assert!(has_no_store(&h));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=5"));
        assert!(!has_no_store(&h));
    }
}
