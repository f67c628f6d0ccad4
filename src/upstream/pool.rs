//! The upstream connection pool: HTTP/1.1 keep-alive connections over rustls.
//!
//! Our own small pool rather than hyper-util's pooled client, because the
//! queue must know the instant a request is *sent*, and a write must know
//! whether it was sent at all: we take a connection that is ready (a pooled
//! one found closed is dropped and another taken, before anything is
//! written), then stamp the start, then write the request, with nothing in
//! between.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Instant;
use tower_service::Service;

use super::{FetchError, error_chain};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
/// A connection's sending half.
pub type Sender = SendRequest<Full<Bytes>>;

/// Idle connections older than this are not reused (servers close them).
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Idle connections kept; more than the budget can use at once is waste.
const MAX_IDLE: usize = 32;

pub struct Pool {
    connector: Connector,
    /// `scheme://authority` of the base URL, what the connector dials.
    origin: Uri,
    idle: Mutex<Vec<(Sender, Instant)>>,
}

impl Pool {
    pub fn new(origin: Uri, connect_timeout: Duration) -> Pool {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(30)));
        // HTTP/1.1 only (ALPN too): keep-alive connections, one request each at a time.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Pool {
            connector,
            origin,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<(Sender, Instant)>> {
        // Push/pop only: a poisoned lock still holds a valid list.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection ready to send: an idle one, else a new one. Nothing has
    /// been written on it for this request.
    ///
    /// # Errors
    /// [`FetchError::Connect`]: no connection could be made.
    pub async fn checkout(&self) -> Result<Sender, FetchError> {
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

    /// Gives a connection back for reuse, if it is still open.
    pub fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push((sender, Instant::now()));
        }
    }
}
