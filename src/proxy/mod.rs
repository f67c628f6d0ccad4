//! The pipeline, and the only module that knows the order of the steps:
//! limits -> route -> (local route | read: fresh -> flight -> queue ->
//! upstream -> store) -> respond -> log and count.
//!
//! [`read`] holds the read pipeline, [`local`] the gateway's own routes and
//! [`respond`] how responses are built; this file wires them in order.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::time::Instant;
use tracing::Instrument;

use crate::admission;
use crate::auth::{self, callers::Caller, file::CallersFile};
use crate::cache::shared::SharedCache;
use crate::cache::{Cache, CacheKey, Fences, Policy};
use crate::config::Settings;
use crate::error::Refusal;
use crate::fetch::{Fetcher, LaneCell};
use crate::flight::Flights;
use crate::health::Readiness;
use crate::metrics::{Metrics, Refused};
use crate::outcome::{CacheStatus, RouteLabel};
use crate::request_id::{RequestIds, X_REQUEST_ID};
use crate::routes::{self, Local, RouteId, Routed};
use crate::secret::ApiKey;
use crate::trace_context::{TraceId, TraceIds};
use crate::webhook::WebhookSecret;

mod access;
mod build;
mod lead;
mod local;
mod read;
mod refresh;
mod respond;
mod trace;
mod webhook;
mod write;

pub use build::Parts;
pub use respond::error_response;

/// Every response body is one buffer.
pub type Body = Full<Bytes>;

/// The answer to one request: at once (a cache hit, a refusal, a local
/// route), or a boxed future for a request that waits on upstream.
pub enum Handled {
    Ready(Option<Response<Body>>),
    Waiting(Pin<Box<dyn Future<Output = Response<Body>> + Send>>),
}

impl Future for Handled {
    type Output = Response<Body>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<Body>> {
        match &mut *self {
            // hyper never polls a finished future again; were it to, it
            // gets an empty 500 rather than a panic.
            Handled::Ready(resp) => Poll::Ready(resp.take().unwrap_or_else(|| {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            })),
            Handled::Waiting(fut) => fut.as_mut().poll(cx),
        }
    }
}

/// What `finish` needs from the request, which is gone by then.
struct Done {
    started: Instant,
    request_id: HeaderValue,
    access: Option<access::Access>,
    /// The trace id for the access line (the caller's `traceparent`, or new).
    trace_id: Option<TraceId>,
    /// The request's span; disabled (and free) unless spans are exported.
    span: tracing::Span,
}

/// A request that waits on upstream, inside its span.
fn waiting(
    span: tracing::Span,
    fut: impl Future<Output = Response<Body>> + Send + 'static,
) -> Handled {
    Handled::Waiting(Box::pin(fut.instrument(span)))
}

/// The gateway: everything a request needs, shared by all connections.
pub struct Gateway {
    settings: Settings,
    cache: Cache,
    /// The epoch clock of sends and invalidations, shared with the cache.
    fences: Arc<Fences>,
    /// Each read route's cache policy, indexed by `RouteId as usize`.
    policies: [Policy; RouteId::COUNT],
    /// The second level, in Redis (`cache.redis_url`).
    shared: Option<SharedCache>,
    flights: Arc<Flights<CacheKey, Arc<read::Outcome>, LaneCell>>,
    fetcher: Fetcher,
    key: Arc<ApiKey>,
    callers: Arc<CallersFile>,
    /// Altur's webhook secret, when `webhook.secret_file` is set.
    webhook: Option<Arc<WebhookSecret>>,
    /// The label of a request whose token matched no caller.
    unknown: Caller,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    ids: RequestIds,
    trace_ids: TraceIds,
    /// The fleet's invalidation listener, stopped with the gateway.
    _listener: Option<build::AbortOnDrop>,
}

impl Gateway {
    /// Serves one downstream request. Never fails: every error is a response.
    ///
    /// The request is consumed before this returns: its head shares hyper's
    /// read buffer, and a request still alive while hyper polls the
    /// connection for the next one makes hyper allocate a fresh 8 KiB buffer
    /// for every request. Cache hits, refusals and the local routes are
    /// answered here, synchronously; only a request that needs upstream
    /// gets a (boxed) future.
    ///
    /// `peer` is the client's address (the TCP peer), for the access line.
    pub fn handle<B>(self: &Arc<Self>, req: Request<B>, peer: SocketAddr) -> Handled
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        // One clock read serves the access line's latency and the freshness check.
        let started = Instant::now();
        let request_id = self.ids.for_request(req.headers());
        let access = access::Access::capture(&req, peer);
        let (span, trace_id) = trace::start(&req, &self.trace_ids, access.is_some());
        let done = Done {
            started,
            request_id,
            access,
            trace_id,
            span,
        };
        let routed =
            routes::check_limits(&req).and_then(|()| routes::route(req.method(), req.uri()));
        let table = self.callers.current();
        // 1. The gateway's own routes, and what the HTTP layer refuses, need no caller.
        let routed = match routed {
            // Altur's webhook: signed, not a caller's; it needs its body.
            Ok(Routed::Local(Local::Webhook)) => {
                let route = RouteLabel::Local(Local::Webhook);
                let anonymous = Arc::clone(&table.anonymous);
                drop(table);
                let Some(secret) = self.webhook.clone() else {
                    return self.refuse(done, Refusal::NotFound, route, &anonymous);
                };
                let (parts, body) = req.into_parts();
                let gateway = Arc::clone(self);
                let span = done.span.clone();
                return waiting(span, async move {
                    let resp = gateway.webhook(&secret, &parts.headers, body).await;
                    gateway.finish(done, resp, route, &anonymous, CacheStatus::None, None)
                });
            }
            Ok(Routed::Local(local)) => {
                let resp = self.local_route(local);
                let route = RouteLabel::Local(local);
                return Handled::Ready(Some(self.finish(
                    done,
                    resp,
                    route,
                    &table.anonymous,
                    CacheStatus::None,
                    None,
                )));
            }
            Err(r @ (Refusal::UriTooLong | Refusal::HeadersTooLarge | Refusal::MissingHost)) => {
                return self.refuse(done, r, RouteLabel::Other, &table.anonymous);
            }
            other => other,
        };
        // 2. Who is asking, before anything else happens to the request.
        let caller = match auth::authenticate(req.headers(), &table) {
            Ok(c) => c,
            Err(r) => {
                self.metrics
                    .refused(&self.unknown.name, Refused::Unauthenticated);
                return self.refuse(done, r, RouteLabel::Other, &self.unknown);
            }
        };
        // 3. The caller's own request rate, hits included.
        if let Err(wait) = admission::admit(caller) {
            self.metrics
                .refused(&caller.name, Refused::CallerRateLimited);
            return self.refuse(
                done,
                Refusal::CallerRateLimited(wait),
                RouteLabel::Other,
                caller,
            );
        }
        // 4. The route, and whether the caller's scopes reach it.
        let m = match routed {
            Ok(Routed::Api(m)) => m,
            Ok(Routed::Local(_)) => {
                return self.refuse(done, Refusal::NotFound, RouteLabel::Other, caller);
            }
            Err(r) => return self.refuse(done, r, RouteLabel::Other, caller),
        };
        let route = RouteLabel::Api(m.spec.id);
        if let Err(r) = auth::authorize(caller, m.spec) {
            self.metrics.refused(&caller.name, Refused::Forbidden);
            return self.refuse(done, r, route, caller);
        }
        // 5. A write: its own pipeline, the body checked before anything is sent.
        if !m.spec.is_read() {
            let max = self.settings.upstream.max_request_body_bytes;
            let head = match write::check_head(m.spec, req.headers(), max) {
                Ok(h) => h,
                Err(r) => return self.refuse(done, r, route, caller),
            };
            let target = m.target.into_owned();
            let span = done.span.clone();
            let pending =
                access::Pending::new(self, done, route, Arc::clone(caller), CacheStatus::Bypass);
            drop(table);
            let body = req.into_body();
            return waiting(span, async move {
                let p = &pending;
                let (resp, waited) = p.gateway.write(head, target, body, &p.caller).await;
                pending.finish(resp, CacheStatus::Bypass, waited)
            });
        }
        // 6. A read: answered now from the cache if it can be (fresh, or
        //    revalidating in the background); else through the queue.
        if let Some((resp, cache)) = self.quick(&m.target, m.spec.id, m.head, started) {
            return Handled::Ready(Some(self.finish(done, resp, route, caller, cache, None)));
        }
        let key = CacheKey::new(&m.target);
        let (head, id) = (m.head, m.spec.id);
        // A caller that hangs up while this waits is still logged and counted (499).
        let miss = CacheStatus::Miss { stored: false };
        let span = done.span.clone();
        let pending = access::Pending::new(self, done, route, Arc::clone(caller), miss);
        drop(table);
        drop(req);
        waiting(span, async move {
            let p = &pending;
            let (resp, cache, waited) = p.gateway.read(key, id, head, &p.caller).await;
            pending.finish(resp, cache, waited)
        })
    }

    /// Answers with the gateway's own error, at once.
    fn refuse(&self, done: Done, refusal: Refusal, route: RouteLabel, caller: &Caller) -> Handled {
        let resp = error_response(&refusal.into());
        Handled::Ready(Some(self.finish(
            done,
            resp,
            route,
            caller,
            CacheStatus::None,
            None,
        )))
    }

    /// Metrics, the access line and `X-Request-Id`: the last step of every request.
    fn finish(
        &self,
        done: Done,
        mut resp: Response<Body>,
        route: RouteLabel,
        caller: &Caller,
        cache: CacheStatus,
        waited: Option<Duration>,
    ) -> Response<Body> {
        let upstream_status = resp
            .extensions_mut()
            .remove::<access::UpstreamStatus>()
            .map(|u| u.0);
        let outcome = access::Outcome {
            route,
            caller,
            status: resp.status().as_u16(),
            cache,
            waited,
            upstream_status,
            bytes_sent: hyper::body::Body::size_hint(resp.body()).exact(),
            latency: done.started.elapsed(),
        };
        self.record(&done, &outcome);
        respond::spread_retry_after(&mut resp, &done.request_id);
        resp.headers_mut().insert(X_REQUEST_ID, done.request_id);
        resp
    }

    /// The caller hung up while its request waited: hyper dropped the
    /// request's future. Logged and counted as 499, as nginx does.
    fn hung_up(&self, done: Done, route: RouteLabel, caller: &Caller, cache: CacheStatus) {
        let outcome = access::Outcome {
            route,
            caller,
            status: access::HUNG_UP,
            cache,
            waited: None,
            upstream_status: None,
            bytes_sent: Some(0),
            latency: done.started.elapsed(),
        };
        self.record(&done, &outcome);
    }

    /// Counts one request, observes its latency and writes its access line.
    fn record(&self, done: &Done, o: &access::Outcome<'_>) {
        match (o.route, o.status, o.cache) {
            (RouteLabel::Api(r), 200, CacheStatus::Hit) => o.caller.count_hit(r, &self.metrics),
            _ => self
                .metrics
                .request(o.route, &o.caller.name, o.status, o.cache),
        }
        // A hang-up's duration is the caller's patience, not the gateway's latency.
        if o.status != access::HUNG_UP {
            self.metrics
                .request_took(o.route, o.status, o.cache, o.latency);
        }
        trace::record(&done.span, &done.request_id, o);
        if let Some(a) = &done.access {
            access::log(a, &done.request_id, done.trace_id, o);
        }
    }
}
