//! A request's trace: its id (the caller's W3C `traceparent`, else a new
//! one) for the access line, and its span (route, caller, status, cache
//! outcome), exported when `telemetry.otlp_endpoint` is set.
//!
//! With export off no layer wants the span: it is disabled, allocated by
//! nobody, and the id is made only when the access line will be written.

use http::Request;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId as OtelTraceId, TraceState,
};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::access::Outcome;
use crate::telemetry::SPANS;
use crate::trace_context::{TraceId, TraceIds, TraceParent};

/// The request's span and trace id. `want_id`: the access line will be
/// written, so an id is needed even when the span is disabled. Inlined: on
/// a hit with export and access lines off it is a level check.
#[inline]
pub(super) fn start<B>(req: &Request<B>, ids: &TraceIds, want_id: bool) -> (Span, Option<TraceId>) {
    let span = tracing::info_span!(
        target: SPANS,
        "request",
        otel.name = Empty,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = Empty,
        url.path = Empty,
        http.route = Empty,
        http.response.status_code = Empty,
        altur.caller = Empty,
        altur.cache = Empty,
        altur.upstream_status = Empty,
        altur.request_id = Empty,
    );
    if span.is_disabled() {
        if !want_id {
            return (span, None);
        }
        let id =
            TraceParent::from_headers(req.headers()).map_or_else(|| ids.next(), |p| p.trace_id);
        return (span, Some(id));
    }
    span.record("http.request.method", req.method().as_str());
    span.record("url.path", req.uri().path());
    if let Some(parent) = TraceParent::from_headers(req.headers()) {
        let remote = SpanContext::new(
            OtelTraceId::from_bytes(parent.trace_id.0),
            SpanId::from_bytes(parent.parent_id),
            TraceFlags::new(parent.flags),
            true,
            TraceState::default(),
        );
        // Fails only if the span had started, and it has not.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    // The exported trace's id: the caller's, or the one the SDK made.
    let id = span.context().span().span_context().trace_id().to_bytes();
    let id = if id == [0; 16] {
        ids.next()
    } else {
        TraceId(id)
    };
    (span, Some(id))
}

/// What the request came to, on its span.
#[inline]
pub(super) fn record(span: &Span, request_id: &http::HeaderValue, o: &Outcome<'_>) {
    if span.is_disabled() {
        return;
    }
    let route = o.route.as_str();
    span.record("http.route", route);
    span.record("http.response.status_code", o.status);
    span.record("altur.caller", &*o.caller.name);
    span.record("altur.cache", o.cache.as_str());
    if let Some(s) = o.upstream_status {
        span.record("altur.upstream_status", s);
    }
    span.record("altur.request_id", request_id.to_str().unwrap_or("-"));
    // A failure of the gateway's (5xx, or a caller that hung up) marks the span.
    if o.status >= 500 || o.status == super::access::HUNG_UP {
        span.record("otel.status_code", "error");
    }
    span.record("otel.name", format!("request {route}").as_str());
}
