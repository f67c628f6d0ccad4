//! The gateway's own routes: `/healthz`, `/readyz`, `/metrics`, `/status`
//! and `/status.json`.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use super::respond::{error_response, json_response};
use super::{Body, Gateway};
use crate::config::Backend;
use crate::error::Refusal;
use crate::routes::Local;
use crate::status;

impl Gateway {
    pub(super) fn local_route(&self, route: Local) -> Response<Body> {
        match route {
            Local::Healthz => {
                json_response(StatusCode::OK, Bytes::from_static(b"{\"status\":\"ok\"}"))
            }
            Local::Readyz => {
                let failing = self
                    .key
                    .reload_failing()
                    .then(|| "key file unreadable or empty; using the last good key".to_string());
                self.readiness.note("api_key", failing);
                let callers = self
                    .callers
                    .health
                    .failing()
                    .map(|e| format!("{e}; using the last good callers file"));
                self.readiness.note("callers", callers);
                match self.readiness.check() {
                    Ok(body) => json_response(StatusCode::OK, Bytes::from(body)),
                    Err(body) => json_response(StatusCode::SERVICE_UNAVAILABLE, Bytes::from(body)),
                }
            }
            // Answered with its body read (see `webhook.rs`); never here.
            Local::Webhook => error_response(&Refusal::NotFound.into()),
            Local::Metrics => {
                let mut r = Response::new(Full::new(Bytes::from(self.scrape())));
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                r
            }
            Local::Status => {
                let page = status::page::render(&self.status_snapshot());
                let mut r = Response::new(Full::new(Bytes::from(page)));
                let h = r.headers_mut();
                h.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                if let Ok(csp) = HeaderValue::from_str(status::page::content_security_policy()) {
                    h.insert(CONTENT_SECURITY_POLICY, csp);
                }
                h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
                h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Local::StatusJson => {
                let mut r = json_response(
                    StatusCode::OK,
                    Bytes::from(self.status_snapshot().to_string()),
                );
                r.headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
        }
    }

    /// The `/metrics` text, with the gauges read at scrape time brought up
    /// to date first.
    fn scrape(&self) -> String {
        let (entries, bytes) = self.cache.usage();
        self.metrics
            .cache_entries
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
        self.metrics
            .cache_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        catch_up(
            &self.metrics.key_reload_failures,
            self.key.reload_failures(),
        );
        catch_up(
            &self.metrics.callers_reload_failures,
            self.callers.health.failures(),
        );
        let failing = self.readiness.upstream_auth_failing().is_some();
        self.metrics.upstream_auth_failing.set(i64::from(failing));
        let callers = self.callers.current().len();
        self.metrics
            .callers
            .set(i64::try_from(callers).unwrap_or(i64::MAX));
        self.metrics
            .set_caller_depths(&self.fetcher.queue.depth_by_lane());
        self.metrics.encode()
    }

    /// What `/status` shows: read back from a scrape, so it agrees with `/metrics`.
    fn status_snapshot(&self) -> serde_json::Value {
        let rl = &self.settings.rate_limit;
        let exposition = self.scrape();
        status::snapshot(&status::Inputs {
            exposition: &exposition,
            starts: self.metrics.starts.last(tokio::time::Instant::now()),
            limit: rl.requests_per_second.get(),
            window_ms: u64::try_from(rl.window().as_millis()).unwrap_or(u64::MAX),
            backend: match rl.backend {
                Backend::Local => "local",
                Backend::Redis => "redis",
            },
            shared_cache: self.shared.is_some(),
            key_reload_failing: self.key.reload_failing(),
            callers_failing: self.callers.health.failing().map(|e| e.to_string()),
        })
    }
}

/// Raises a counter to a count kept elsewhere (a file's failures).
fn catch_up(counter: &prometheus_client::metrics::counter::Counter, total: u64) {
    let seen = counter.get();
    if total > seen {
        counter.inc_by(total - seen);
    }
}
