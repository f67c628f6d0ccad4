//! The write pipeline: the body checked, then queue -> upstream, sent once
//! unless Altur certainly did not act on it -> drop what it changed ->
//! relay. A write is never stored, never collapsed with another request and
//! never answered stale: this module has no access to the single-flight map
//! or to the cache's store, only to its invalidation.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::{BodyExt, Limited};
use tokio::sync::oneshot;
use tracing::Instrument;

use super::access::tag;
use super::respond::{entry_response, error_with_status};
use super::{Body, Gateway};
use crate::auth::callers::Caller;
use crate::cache::Entry;
use crate::error::{GatewayError, Refusal, UpstreamError};
use crate::fetch::{Fetch, Retry, UpstreamRequest, Who};
use crate::outcome::CacheStatus;
use crate::routes::RouteSpec;
use crate::routes::table::Kind;
use crate::upstream::IDEMPOTENCY_KEY;

/// What a write's head says, checked before its body is read.
#[derive(Debug)]
pub(super) struct WriteHead {
    spec: &'static RouteSpec,
    content_type: Option<HeaderValue>,
    idempotency_key: Option<HeaderValue>,
}

/// Checks a write's head: `Idempotency-Key` (1 to 255 visible ASCII
/// characters), the declared length against the limit (413 at once), and
/// `Content-Type: application/json` when a body comes or is required (415).
///
/// # Errors
/// The refusal; nothing has been read or sent.
pub(super) fn check_head(
    spec: &'static RouteSpec,
    headers: &HeaderMap,
    max_body: usize,
) -> Result<WriteHead, Refusal> {
    let mut keys = headers.get_all(IDEMPOTENCY_KEY).iter();
    let idempotency_key = match (keys.next(), keys.next()) {
        (None, _) => None,
        (Some(k), None)
            if (1..=255).contains(&k.len())
                && k.as_bytes().iter().all(|b| (0x21..=0x7e).contains(b)) =>
        {
            // An own copy: the header is a slice of the connection's buffer.
            HeaderValue::from_bytes(k.as_bytes()).ok()
        }
        _ => return Err(Refusal::InvalidParameter("Idempotency-Key".into())),
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return Err(Refusal::PayloadTooLarge);
    }
    let body_comes = declared.is_some_and(|n| n > 0) || headers.contains_key(TRANSFER_ENCODING);
    let required = matches!(spec.kind, Kind::Write { body: true, .. });
    let content_type = headers.get(CONTENT_TYPE);
    if (body_comes || required) && !content_type.is_some_and(is_json) {
        return Err(Refusal::UnsupportedMediaType);
    }
    Ok(WriteHead {
        spec,
        content_type: content_type.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()),
        idempotency_key,
    })
}

/// `application/json`, parameters allowed, any case.
fn is_json(v: &HeaderValue) -> bool {
    v.to_str().is_ok_and(|s| {
        s.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    })
}

impl Gateway {
    /// Reads and checks the body, then sends the write. Returns the answer
    /// and the time spent queueing.
    pub(super) async fn write<B>(
        self: &Arc<Self>,
        head: WriteHead,
        target: String,
        body: B,
        caller: &Caller,
    ) -> (Response<Body>, Option<Duration>)
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let max = self.settings.upstream.max_request_body_bytes;
        let bytes = match read_body(body, max).await {
            Ok(b) => b,
            Err(r) => return (error_with_status(&r.into(), CacheStatus::Bypass), None),
        };
        let required = matches!(head.spec.kind, Kind::Write { body: true, .. });
        if (required || !bytes.is_empty())
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err()
        {
            let refused = error_with_status(&Refusal::InvalidJson.into(), CacheStatus::Bypass);
            return (refused, None);
        }
        let has_body = !bytes.is_empty();
        let req = UpstreamRequest {
            method: head.spec.method.clone(),
            target: Arc::from(target.as_str()),
            content_type: head.content_type.filter(|_| has_body),
            body: has_body.then_some(bytes),
            idempotency_key: head.idempotency_key,
        };
        let retry = if req.idempotency_key.is_some() {
            Retry::Idempotent
        } else {
            Retry::OnlyIfNotActedOn
        };
        let who = Who::new(head.spec.id, caller.lane());
        // Its own task: once sent, a write runs to its end (and drops what
        // it changed) even if the caller hangs up; while it only waits in the
        // queue, the caller leaving gives its place back.
        let (tx, rx) = oneshot::channel::<Fetch>();
        let gateway = Arc::clone(self);
        let spec = head.spec;
        let send = async move {
            let mut tx = tx;
            let gone = async { tx.closed().await };
            let Some(fetch) = gateway.fetcher.fetch(&req, retry, &who, gone).await else {
                return;
            };
            if let Fetch::Answer { fetched, .. } = &fetch
                && fetched.status.is_success()
                && let Kind::Write { invalidates, .. } = spec.kind
            {
                let groups = invalidates.groups(&req.target, &fetched.body);
                gateway.invalidate(&groups, "write").await;
            }
            let _ = tx.send(fetch);
        };
        // In the request's span: its upstream exchange is a child of it.
        tokio::spawn(send.in_current_span());
        match rx.await {
            Ok(Fetch::Answer {
                fetched, waited, ..
            }) => {
                let upstream = Some(fetched.status.as_u16());
                let entry = Entry::transient(fetched.status, fetched.content_type, fetched.body);
                let resp = entry_response(&entry, CacheStatus::Bypass, None, false);
                (tag(resp, upstream), Some(waited))
            }
            Ok(Fetch::Failed { error, waited }) => {
                let upstream = match error {
                    UpstreamError::AuthFailed(s) => Some(s),
                    _ => None,
                };
                let resp = error_with_status(&GatewayError::from(error), CacheStatus::Bypass);
                (tag(resp, upstream), Some(waited))
            }
            Err(_) => {
                let e = UpstreamError::Unavailable("the write ended without an answer".into());
                (error_with_status(&e.into(), CacheStatus::Bypass), None)
            }
        }
    }

    /// Drops what a write (or Altur's webhook) changed: here, then in the
    /// shared cache and every other replica's memory.
    pub(super) async fn invalidate(&self, groups: &[String], cause: &'static str) {
        if groups.is_empty() {
            return;
        }
        self.cache.invalidate(groups);
        self.metrics.invalidated(cause);
        let fleet = match &self.shared {
            Some(shared) => shared.invalidate(groups).await,
            None => true,
        };
        if !fleet {
            tracing::warn!(groups = ?groups, "invalidated here; the shared cache was unreachable");
        }
        tracing::debug!(groups = ?groups, "invalidated");
    }
}

/// The body, up to `max` bytes.
async fn read_body<B>(body: B, max: usize) -> Result<Bytes, Refusal>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Refusal::PayloadTooLarge)
        }
        // The body broke off: nothing usable was sent.
        Err(_) => Err(Refusal::InvalidJson),
    }
}
