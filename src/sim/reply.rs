//! What an endpoint answers: status, content type, body and extra headers,
//! kept as plain data so an idempotent replay can return it again.
//!
//! Error bodies come in the two shapes the simulator has always used:
//! `{"success": false, "error": "<sentence>"}` for 401/404/405/429 and
//! simulated failures, and `{"success": false, "error": "<CODE>", "message":
//! "<sentence>", ...}` for Altur's named codes (`UNKNOWN_ACTION`,
//! `CONTACT_NOT_DELETABLE`, `INVALID_REQUEST`, ...).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Reply {
    /// A JSON body as it is (no re-serialising).
    pub fn raw_json(status: StatusCode, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// A compact JSON body.
    pub fn json(status: StatusCode, value: &Value) -> Reply {
        Reply::raw_json(status, value.to_string())
    }

    pub fn ok(value: &Value) -> Reply {
        Reply::json(StatusCode::OK, value)
    }

    /// `{"success": false, "error": "<sentence>"}`.
    pub fn failure(status: StatusCode, sentence: &str) -> Reply {
        Reply::json(status, &json!({"success": false, "error": sentence}))
    }

    /// 404 `"<What> not found"`.
    pub fn not_found(what: &str) -> Reply {
        Reply::failure(StatusCode::NOT_FOUND, &format!("{what} not found"))
    }

    /// A named Altur error: `{"success": false, "error": code, "message": ...}`.
    pub fn coded(status: StatusCode, code: &str, message: &str) -> Reply {
        Reply::coded_with(status, code, message, Map::new())
    }

    /// A named Altur error with extra fields (`field`, `current_status`, ...).
    pub fn coded_with(
        status: StatusCode,
        code: &str,
        message: &str,
        extra: Map<String, Value>,
    ) -> Reply {
        let mut body = Map::new();
        body.insert("success".into(), Value::Bool(false));
        body.insert("error".into(), code.into());
        body.insert("message".into(), message.into());
        body.extend(extra);
        Reply::json(status, &Value::Object(body))
    }

    /// 400 `INVALID_REQUEST` naming the offending field.
    pub fn invalid(field: &str, message: &str) -> Reply {
        let mut extra = Map::new();
        extra.insert("field".into(), field.into());
        Reply::coded_with(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message, extra)
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Reply {
        self.headers.push((name, value));
        self
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut r = Response::new(Full::new(self.body));
        *r.status_mut() = self.status;
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        for (name, value) in self.headers {
            r.headers_mut().insert(name, value);
        }
        r
    }
}
