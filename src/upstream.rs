//! The upstream client: builds every request itself, injects the key, bounds
//! the whole exchange by `upstream.timeout_ms`. TLS by rustls; connections pooled
//! and kept alive.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT,
};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Instant;
use tower_service::Service;

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
type Sender = SendRequest<Empty<Bytes>>;

/// Idle connections older than this are not reused (servers close them).
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Idle connections kept; more than the budget can use at once is waste.
const MAX_IDLE: usize = 32;

/// The upstream client. Connections are our own small HTTP/1.1 pool rather
/// than hyper-util's pooled client, because the queue must know the instant
/// a request is *sent*: we take a ready connection (connecting if needed),
/// then stamp the start, then write the request, with nothing in between.
pub struct Upstream {
    connector: Connector,
    /// `scheme://authority` of the base URL, what the connector dials.
    origin: Uri,
    host: HeaderValue,
    /// The base URL's path, e.g. `/api/v1.0`.
    base_path: String,
    idle: Mutex<Vec<(Sender, Instant)>>,
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
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        http.set_keepalive(Some(Duration::from_secs(30)));
        // HTTP/1.1 only (ALPN too): keep-alive connections, one request each at a time.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Upstream {
            connector,
            origin,
            host,
            base_path: uri.path().trim_end_matches('/').to_string(),
            idle: Mutex::new(Vec::new()),
            key,
            timeout,
            user_agent: HeaderValue::from_static(concat!(
                "altur-gateway/",
                env!("CARGO_PKG_VERSION")
            )),
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<(Sender, Instant)>> {
        // Push/pop only: a poisoned lock still holds a valid list.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection ready to send: an idle one, else a new one.
    async fn checkout(&self) -> Result<Sender, FetchError> {
        loop {
            let candidate = self.idle().pop();
            let Some((mut sender, since)) = candidate else {
                break;
            };
            if since.elapsed() > IDLE_TIMEOUT || sender.is_closed() {
                continue;
            }
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        let io = self
            .connector
            .clone()
            .call(self.origin.clone())
            .await
            .map_err(|e| FetchError::Connect(error_chain(e.as_ref())))?;
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| FetchError::Connect(error_chain(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended");
            }
        });
        sender
            .ready()
            .await
            .map_err(|e| FetchError::Connect(error_chain(&e)))?;
        Ok(sender)
    }

    fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push((sender, Instant::now()));
        }
    }

    /// `GET {base_url}{path}` with the key; the whole exchange (connect
    /// included) within the timeout. `on_send` runs right before the request
    /// is written, once a connection is ready.
    ///
    /// # Errors
    /// [`FetchError`]: connect (nothing was sent), protocol, or timeout.
    pub async fn get(&self, path: &str, on_send: impl FnOnce()) -> Result<Fetched, FetchError> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("{}{}", self.base_path, path))
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.key.authorization().await)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, self.user_agent.clone())
            .body(Empty::new())
            .map_err(|e| FetchError::Protocol(e.to_string()))?;
        let exchange = async {
            let mut sender = self.checkout().await?;
            on_send();
            let resp = sender.send_request(req).await.map_err(|e| {
                if e.is_canceled() {
                    // The connection closed before our request was written.
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
            self.checkin(sender);
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
