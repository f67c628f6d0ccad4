//! Altur's webhook (`POST /webhooks/altur`): its secret, the signature check,
//! and what an event drops from the cache.
//!
//! Altur signs "the compact JSON" with HMAC-SHA256 keyed by the
//! base64-decoded shared secret, and sends the base64 digest in
//! `X-Altur-Signature`. Whether the bytes on the wire are that compact form
//! is not documented, so the signature is checked against the body as
//! received first, then against the body with the whitespace between its
//! tokens removed (keys in the order they came, strings and numbers exactly
//! as sent). Both comparisons are constant-time (`Mac::verify_slice`).
//!
//! The secret file is read like the key file: a regular file of at most
//! 64 KiB, looked at before each delivery and re-read when it changed; a bad
//! file later keeps the last good secret.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::routes::params;
use crate::watched::{self, Health, Stamp};

/// The largest delivery accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// The signature header.
pub const SIGNATURE: &str = "x-altur-signature";

/// Why the webhook secret cannot be used. Never holds it.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("webhook.secret_file: {0}")]
    File(watched::FileError),
    #[error("webhook.secret_file {0}: not base64 (paste the secret as Altur shows it)")]
    NotBase64(String),
    #[error("webhook.secret_file {0}: empty")]
    Empty(String),
}

/// The shared secret, decoded. `Debug` never shows it.
pub struct WebhookSecret {
    path: PathBuf,
    current: Mutex<(Vec<u8>, Stamp)>,
    pub health: Health,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecret")
            .field("path", &self.path)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, SecretError> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return Err(SecretError::Empty(path.display().to_string()));
    }
    STANDARD
        .decode(text)
        .map_err(|_| SecretError::NotBase64(path.display().to_string()))
}

impl WebhookSecret {
    /// Loads the secret file.
    ///
    /// # Errors
    /// An unreadable, empty or non-base64 file.
    pub fn load(path: &Path) -> Result<WebhookSecret, SecretError> {
        let (bytes, stamp) = watched::read(path).map_err(SecretError::File)?;
        let key = decode(path, &bytes)?;
        Ok(WebhookSecret {
            path: path.to_path_buf(),
            current: Mutex::new((key, stamp)),
            health: Health::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<u8>, Stamp)> {
        // Plain assignments only: a poisoned lock still holds a valid secret.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the file if it changed (before each delivery, and on SIGHUP);
    /// true when the secret changed.
    pub async fn reload(&self) -> bool {
        let known = self.lock().1;
        let read = watched::read_if_changed(&self.path, Some(known))
            .await
            .map_err(SecretError::File)
            .and_then(|r| match r {
                None => Ok(None),
                Some((bytes, stamp)) => decode(&self.path, &bytes).map(|k| Some((k, stamp))),
            });
        match read {
            Ok(None) => {
                self.health.ok();
                false
            }
            Ok(Some(new)) => {
                *self.lock() = new;
                self.health.ok();
                tracing::info!(path = %self.path.display(), "webhook secret file changed; using the new secret");
                true
            }
            Err(e) => {
                if self.health.failed(&e) {
                    tracing::error!(error = %e, "keeping the last good webhook secret");
                }
                false
            }
        }
    }

    /// Whether `signature` (base64, from `X-Altur-Signature`) is this
    /// secret's HMAC-SHA256 of `body`, as received or in compact form.
    pub fn verify(&self, body: &[u8], signature: &[u8]) -> bool {
        let Ok(tag) = STANDARD.decode(signature.trim_ascii()) else {
            return false;
        };
        let key = self.lock().0.clone();
        let check = |msg: &[u8]| {
            <Hmac<Sha256> as KeyInit>::new_from_slice(&key).is_ok_and(|mut mac| {
                mac.update(msg);
                mac.verify_slice(&tag).is_ok()
            })
        };
        check(body) || check(&compact(body))
    }
}

/// `body` with the whitespace between JSON tokens removed; strings (and
/// everything else) kept byte for byte, keys in their order.
pub fn compact(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
    out
}

/// What a delivery is about: its event and the cache groups it drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `on_call_end`, or `other` (counted, nothing dropped).
    pub kind: &'static str,
    pub groups: Vec<String>,
}

/// Reads an event: `on_call_end` drops the call of its `id`, the end user of
/// its `end_user.id`, and, when it names its campaign (`campaign_id`, or
/// `campaign_user.campaign_id`), that campaign's `call_list` and
/// `contact_list` entries and its `campaign` entry. Ids that are not valid
/// path parameters are ignored.
pub fn event(payload: &serde_json::Value) -> Event {
    if payload["event_type"] != "on_call_end" {
        return Event {
            kind: "other",
            groups: Vec::new(),
        };
    }
    let token = |v: &serde_json::Value| v.as_str().filter(|s| params::token(s)).map(str::to_string);
    let mut groups = Vec::new();
    if let Some(call) = token(&payload["id"]) {
        groups.push(format!("/call/{call}"));
    }
    if let Some(user) = token(&payload["end_user"]["id"]) {
        groups.push(format!("/enduser/{user}"));
    }
    let campaign = [
        &payload["campaign_id"],
        &payload["campaign_user"]["campaign_id"],
    ]
    .into_iter()
    .find_map(|v| match v {
        serde_json::Value::Number(n) => n.as_i64().filter(|n| *n >= 0),
        serde_json::Value::String(s) => params::digits_i64(s),
        _ => None,
    });
    if let Some(id) = campaign {
        groups.push(format!("/campaigns/{id}/calls"));
        groups.push(format!("/campaigns/{id}/contacts"));
        groups.push(format!("/campaigns/{id}"));
    }
    Event {
        kind: "on_call_end",
        groups,
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed outside this code, with Python's hmac module:
    //   key = base64.b64decode(SECRET)
    //   base64.b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest())
    // where SECRET = base64.b64encode(b"altur-webhook-test-secret-0123456789")
    // and the compact body is json.dumps(json.loads(PRETTY), separators=(',', ':')).
    const SECRET: &str = "YWx0dXItd2ViaG9vay10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5";
    const PRETTY: &str = "{\n  \"event_type\": \"on_call_end\",\n  \"id\": \"call_7f3a\",\n  \"status\": \"ended\",\n  \"end_user\": {\"id\": \"eu-42\", \"display_name\": \"Ana\"},\n  \"campaign_id\": 7\n}";
    const RAW_SIG: &str = "UiGAXxH7ptW/JlkaQaY7t2JViX7XZjijtB+BSPvt4GY=";
    const COMPACT_SIG: &str = "OrxbBemRipKjqcgououEvZUPquauItiWcwdIvfD/sOE=";

    fn secret() -> WebhookSecret {
        let key = STANDARD.decode(SECRET).expect("b64");
        WebhookSecret {
            path: PathBuf::from("/test"),
            current: Mutex::new((key, watched::stamp(Path::new("/")).expect("stamp"))),
            health: Health::default(),
        }
    }

    #[test]
    fn a_signature_over_the_raw_or_the_compact_body_verifies() {
        let s = secret();
        assert!(s.verify(PRETTY.as_bytes(), RAW_SIG.as_bytes()));
        assert!(
            s.verify(PRETTY.as_bytes(), COMPACT_SIG.as_bytes()),
            "the compact form"
        );
        let compact = compact(PRETTY.as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&compact),
            r#"{"event_type":"on_call_end","id":"call_7f3a","status":"ended","end_user":{"id":"eu-42","display_name":"Ana"},"campaign_id":7}"#
        );
        assert!(s.verify(&compact, COMPACT_SIG.as_bytes()));
        assert!(!s.verify(
            PRETTY.as_bytes(),
            b"UiGAXxH7ptW/JlkaQaY7t2JViX7XZjijtB+BSPvt4GZ="
        ));
        assert!(!s.verify(b"{}", RAW_SIG.as_bytes()));
        assert!(!s.verify(PRETTY.as_bytes(), b"not base64!"));
        assert!(!s.verify(PRETTY.as_bytes(), b""));
        assert!(!format!("{s:?}").contains("altur-webhook"));
    }

    #[test]
    fn compact_keeps_strings_whole() {
        let body = br#"{ "a" : "x y \" z\\" , "b" : [ 1 , 2 ] }"#;
        assert_eq!(&compact(body), br#"{"a":"x y \" z\\","b":[1,2]}"#);
    }

    #[test]
    fn on_call_end_drops_the_call_the_user_and_the_campaign() {
        let v: serde_json::Value = serde_json::from_str(PRETTY).expect("json");
        let e = event(&v);
        assert_eq!(e.kind, "on_call_end");
        assert_eq!(
            e.groups,
            [
                "/call/call_7f3a",
                "/enduser/eu-42",
                "/campaigns/7/calls",
                "/campaigns/7/contacts",
                "/campaigns/7"
            ]
        );
        let nested = serde_json::json!({"event_type": "on_call_end", "id": "../x", "campaign_user": {"campaign_id": "007"}});
        assert_eq!(
            event(&nested).groups,
            [
                "/campaigns/7/calls",
                "/campaigns/7/contacts",
                "/campaigns/7"
            ]
        );
        assert_eq!(
            event(&serde_json::json!({"event_type": "on_message"})).kind,
            "other"
        );
        assert!(event(&serde_json::json!([1, 2])).groups.is_empty());
    }
}
