//! The gateway's own routes: `/healthz`, `/readyz`, `/metrics`.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use super::respond::json_response;
use super::{Body, Gateway};
use crate::routes::Local;

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
                match self.readiness.check() {
                    Ok(body) => json_response(StatusCode::OK, Bytes::from(body)),
                    Err(body) => json_response(StatusCode::SERVICE_UNAVAILABLE, Bytes::from(body)),
                }
            }
            Local::Metrics => {
                let (entries, bytes) = self.cache.usage();
                self.metrics
                    .cache_entries
                    .set(i64::try_from(entries).unwrap_or(i64::MAX));
                self.metrics
                    .cache_bytes
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
                let failures = self.key.reload_failures();
                let seen = self.metrics.key_reload_failures.get();
                if failures > seen {
                    self.metrics.key_reload_failures.inc_by(failures - seen);
                }
                let mut r = Response::new(Full::new(Bytes::from(self.metrics.encode())));
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                r
            }
        }
    }
}
