//! The upstream client: builds every request itself, injects the key, bounds
//! the whole exchange by `upstream.timeout_ms`. TLS by rustls; pooled, kept alive.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::secret::ApiKey;

/// Largest upstream body accepted (campaigns are a few KiB).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Longest pause an upstream `Retry-After` can impose on the whole queue.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

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
    /// The connection could not be made (retryable).
    #[error("connect: {0}")]
    Connect(String),
    /// Broken exchange after connecting (not retried: the request may have counted).
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timeout")]
    Timeout,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

pub struct Upstream {
    client: Client<Connector, Empty<Bytes>>,
    base_url: String,
    key: Arc<ApiKey>,
    timeout: Duration,
    user_agent: HeaderValue,
}

impl Upstream {
    /// `base_url` has no trailing slash.
    ///
    /// # Errors
    /// When no TLS roots could be set up.
    pub fn new(base_url: String, key: Arc<ApiKey>, timeout: Duration) -> Upstream {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(16)
            .build(https);
        Upstream {
            client,
            base_url,
            key,
            timeout,
            user_agent: HeaderValue::from_static(concat!(
                "altur-gateway/",
                env!("CARGO_PKG_VERSION")
            )),
        }
    }

    /// `GET {base_url}{path}` with the key; the whole exchange within the timeout.
    ///
    /// # Errors
    /// [`FetchError`]: connect, protocol, or timeout.
    pub async fn get(&self, path: &str) -> Result<Fetched, FetchError> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("{}{}", self.base_url, path))
            .header(AUTHORIZATION, self.key.authorization())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, self.user_agent.clone())
            .body(Empty::new())
            .map_err(|e| FetchError::Protocol(e.to_string()))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                if e.is_connect() {
                    FetchError::Connect(error_chain(&e))
                } else {
                    FetchError::Protocol(error_chain(&e))
                }
            })?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| FetchError::Protocol(e.to_string()))?
                .to_bytes();
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

fn error_chain(e: &dyn std::error::Error) -> String {
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
