//! Readiness: whether this replica should receive traffic, and why not.

use std::sync::Mutex;

/// Why the gateway is not ready, or in what degraded state it still serves.
#[derive(Debug, Default)]
pub struct Readiness {
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone)]
struct State {
    /// Upstream answered 401/403 to the last attempt: our key is wrong.
    auth_failed: Option<u16>,
    shutting_down: bool,
    /// Degraded but serving (e.g. the shared limiter's fallback): shown, not failing.
    notes: Vec<(&'static str, String)>,
}

impl Readiness {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the status of the latest upstream answer.
    pub fn upstream_answered(&self, status: u16) {
        let failed = matches!(status, 401 | 403).then_some(status);
        let mut s = self.lock();
        if s.auth_failed != failed {
            s.auth_failed = failed;
        }
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

    /// `Ok(body)` when ready, `Err(body)` when not; both JSON.
    pub fn check(&self) -> Result<String, String> {
        let s = self.lock().clone();
        let reason = if s.shutting_down {
            Some("shutting down".to_string())
        } else {
            s.auth_failed.map(|code| {
                format!("upstream rejected the gateway's api key (status {code}); fix the key")
            })
        };
        let mut body = serde_json::Map::new();
        body.insert("ready".into(), reason.is_none().into());
        if let Some(r) = &reason {
            body.insert("reason".into(), r.clone().into());
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
