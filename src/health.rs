//! Readiness: whether this replica should receive traffic, and what trouble
//! it serves through.
//!
//! Only starting and draining fail readiness (SPEC, Routes). Trouble beyond
//! that (Altur rejecting the key, Redis unreachable, a file that failed to
//! reload) is named in the `/readyz` body, in metrics and in the log, but
//! never takes the replica out of service: every replica shares the same
//! upstream and key, so failing readiness would take the whole fleet out at
//! once, and a replica out of service can no longer serve the cached answers
//! it holds.

use std::sync::Mutex;

/// Why the gateway is not ready, or in what degraded state it still serves.
#[derive(Debug, Default)]
pub struct Readiness {
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone)]
struct State {
    /// Upstream answered 401/403 to the last authenticated answer: our key is wrong.
    auth_failed: Option<u16>,
    shutting_down: bool,
    /// Degraded but serving (e.g. the shared limiter's fallback): shown, not failing.
    notes: Vec<(&'static str, String)>,
}

impl Readiness {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the status of the latest upstream answer: 401/403 means Altur
    /// rejects the key; another answer that Altur gives only after checking
    /// the key (2xx-4xx but 429) means it accepts it. 429 and 5xx say nothing
    /// about the key and leave the state as it was. A change is logged once.
    pub fn upstream_answered(&self, status: u16) {
        let now = match status {
            401 | 403 => Some(status),
            429 => return,
            s if s >= 500 => return,
            _ => None,
        };
        let was = {
            let mut s = self.lock();
            if s.auth_failed == now {
                return;
            }
            std::mem::replace(&mut s.auth_failed, now)
        };
        match (was, now) {
            (_, Some(code)) => tracing::error!(
                status = code,
                "Altur rejects the api key: uncached requests get 502 upstream_auth_failed until the key is fixed; still ready, cached answers are served"
            ),
            (Some(_), None) => tracing::info!(status, "Altur accepts the api key again"),
            (None, None) => {}
        }
    }

    /// The status Altur rejected the key with, while it does.
    pub fn upstream_auth_failing(&self) -> Option<u16> {
        self.lock().auth_failed
    }

    pub fn shutting_down(&self) {
        self.lock().shutting_down = true;
    }

    /// Sets or clears a note shown in the `/readyz` body without failing it.
    pub fn note(&self, key: &'static str, value: Option<String>) {
        let mut s = self.lock();
        s.notes.retain(|(k, _)| *k != key);
        if let Some(v) = value {
            s.notes.push((key, v));
        }
    }

    /// `Ok(body)` when ready, `Err(body)` when draining; both JSON. Trouble
    /// that does not fail readiness is named under its own key (`upstream`,
    /// `api_key`, `callers`, `rate_limit`, ...).
    pub fn check(&self) -> Result<String, String> {
        let s = self.lock().clone();
        let reason = s.shutting_down.then_some("shutting down");
        let mut body = serde_json::Map::new();
        body.insert("ready".into(), reason.is_none().into());
        if let Some(r) = reason {
            body.insert("reason".into(), r.into());
        }
        if let Some(code) = s.auth_failed {
            body.insert(
                "upstream".into(),
                format!(
                    "Altur rejected the api key ({code}); uncached requests get 502 upstream_auth_failed until the key is fixed"
                )
                .into(),
            );
        }
        for (k, v) in s.notes {
            body.insert(k.into(), v.into());
        }
        let text = serde_json::Value::Object(body).to_string();
        if reason.is_none() {
            Ok(text)
        } else {
            Err(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_key_is_named_but_never_fails_readiness() {
        let r = Readiness::default();
        r.upstream_answered(401);
        let body = r.check().expect("still ready");
        assert!(
            body.contains("\"upstream\"") && body.contains("401"),
            "{body}"
        );
        assert_eq!(r.upstream_auth_failing(), Some(401));
        // 5xx and 429 say nothing about the key.
        r.upstream_answered(503);
        r.upstream_answered(429);
        assert_eq!(r.upstream_auth_failing(), Some(401));
        r.upstream_answered(404);
        assert_eq!(r.upstream_auth_failing(), None);
        assert!(!r.check().expect("ready").contains("upstream"));
        r.shutting_down();
        assert!(r.check().expect_err("draining").contains("shutting down"));
    }
}
