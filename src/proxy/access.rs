//! The access line (one per request, target `altur_gateway::access`), what
//! it needs from the request and the pipelines, and the guard that still
//! logs and counts a request whose caller hung up while it waited (499).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, Response};

use super::{Body, Done, Gateway};
use crate::auth::callers::Caller;
use crate::outcome::{CacheStatus, RouteLabel};
use crate::routes::Local;
use crate::trace_context::TraceId;

/// The status logged for a caller that hung up before its answer, as nginx does.
pub const HUNG_UP: u16 = 499;
/// A user agent longer than this is cut in the log line.
const MAX_USER_AGENT: usize = 256;

/// The request's side of the access line, copied while the request exists.
pub(super) struct Access {
    method: http::Method,
    path: String,
    peer: SocketAddr,
    /// An owned copy: the header is a slice of hyper's read buffer.
    user_agent: Option<String>,
}

impl Access {
    /// What the access line needs, copied only when it will be written
    /// (probes log at debug, which implies info: one check covers both).
    pub(super) fn capture<B>(req: &Request<B>, peer: SocketAddr) -> Option<Access> {
        if !tracing::enabled!(target: "altur_gateway::access", tracing::Level::INFO) {
            return None;
        }
        let user_agent = req.headers().get(http::header::USER_AGENT).map(|v| {
            let bytes = v.as_bytes();
            String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_USER_AGENT)]).into_owned()
        });
        Some(Access {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            peer,
            user_agent,
        })
    }
}

/// The status of the upstream answer a response was made from, carried
/// from the pipelines to the access line in the response's extensions.
#[derive(Debug, Clone, Copy)]
pub(super) struct UpstreamStatus(pub u16);

/// Marks `resp` as made from an upstream answer with `status`.
pub(super) fn tag(mut resp: Response<Body>, status: Option<u16>) -> Response<Body> {
    if let Some(s) = status {
        resp.extensions_mut().insert(UpstreamStatus(s));
    }
    resp
}

/// Everything one access line says about the outcome.
pub(super) struct Outcome<'a> {
    pub route: RouteLabel,
    pub caller: &'a Caller,
    pub status: u16,
    pub cache: CacheStatus,
    pub waited: Option<Duration>,
    pub upstream_status: Option<u16>,
    pub bytes_sent: Option<u64>,
    pub latency: Duration,
}

/// Liveness, readiness and metrics probes, and the status page's polling:
/// every few seconds from every prober (or open page), so they log at debug
/// rather than drown the request lines.
fn is_probe(route: RouteLabel) -> bool {
    matches!(
        route,
        RouteLabel::Local(Local::Healthz | Local::Readyz | Local::Metrics | Local::StatusJson)
    )
}

/// Writes the access line.
pub(super) fn log(
    access: &Access,
    request_id: &HeaderValue,
    trace_id: Option<TraceId>,
    o: &Outcome<'_>,
) {
    // One field list for both levels: tracing needs the level at compile time.
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                target: "altur_gateway::access",
                $level,
                method = %access.method,
                path = access.path.as_str(),
                route = o.route.as_str(),
                caller = &*o.caller.name,
                status = o.status,
                cache = o.cache.as_str(),
                upstream_status = o.upstream_status,
                upstream_wait_ms = o.waited.map(|w| w.as_millis() as u64),
                latency_us = o.latency.as_micros() as u64,
                bytes_sent = o.bytes_sent,
                client = %access.peer.ip(),
                client_port = access.peer.port(),
                user_agent = access.user_agent.as_deref(),
                request_id = request_id.to_str().unwrap_or("-"),
                trace_id = trace_id.as_ref().map(tracing::field::display),
                "request"
            )
        };
    }
    if is_probe(o.route) {
        line!(tracing::Level::DEBUG);
    } else {
        line!(tracing::Level::INFO);
    }
}

/// A request that waits on upstream (queued or in flight). Dropped before
/// [`Pending::finish`], i.e. its caller hung up and hyper dropped the
/// future, it still logs its access line with status 499 and counts it in
/// `altur_gateway_requests_total{status="499"}`.
pub(super) struct Pending {
    pub gateway: Arc<Gateway>,
    pub caller: Arc<Caller>,
    route: RouteLabel,
    /// The `cache` label if the caller hangs up: `miss` for a read (why it
    /// waited), `bypass` for a write.
    cache: CacheStatus,
    done: Option<Done>,
}

impl Pending {
    pub(super) fn new(
        gateway: &Arc<Gateway>,
        done: Done,
        route: RouteLabel,
        caller: Arc<Caller>,
        cache: CacheStatus,
    ) -> Pending {
        Pending {
            gateway: Arc::clone(gateway),
            caller,
            route,
            cache,
            done: Some(done),
        }
    }

    /// The answer arrived: the usual last step.
    pub(super) fn finish(
        mut self,
        resp: Response<Body>,
        cache: CacheStatus,
        waited: Option<Duration>,
    ) -> Response<Body> {
        match self.done.take() {
            Some(done) => self
                .gateway
                .finish(done, resp, self.route, &self.caller, cache, waited),
            None => resp,
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            self.gateway
                .hung_up(done, self.route, &self.caller, self.cache);
        }
    }
}
