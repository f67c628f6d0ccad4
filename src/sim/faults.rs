//! Misbehaviour on demand: scripted faults for the next requests, and
//! standing faults for every request to one exact path.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};

use super::reply::Reply;

/// A misbehaviour, for one scripted request or every request for a path.
///
/// A fault that answers by itself (`Status`, `TooMany`, `NonJson`, `Hang`,
/// `Close`) means the simulated Altur did not act: a write it hits changes
/// nothing. `Delay` and `NoStore` give the normal answer, write included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a small JSON error body.
    Status(u16),
    /// 429 with this `Retry-After` (none when `None`).
    TooMany(Option<String>),
    /// 200 with a body that is not JSON.
    NonJson,
    /// The normal answer, with `Cache-Control: no-store`.
    NoStore,
    /// Never answer (until the connection is dropped).
    Hang,
    /// Read the whole request (it is recorded), then close the connection
    /// without an answer.
    Close,
    /// The normal answer after this extra delay.
    Delay(Duration),
}

/// The faults in force.
#[derive(Debug, Default)]
pub(super) struct FaultTable {
    scripted: VecDeque<Fault>,
    by_path: HashMap<String, Fault>,
}

impl FaultTable {
    pub fn script(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.scripted.extend(faults);
    }

    pub fn set(&mut self, path: &str, fault: Option<Fault>) {
        match fault {
            Some(f) => self.by_path.insert(path.to_string(), f),
            None => self.by_path.remove(path),
        };
    }

    /// The fault for a request to `path`: the next scripted one (used up),
    /// else the path's own.
    pub fn take(&mut self, path: &str) -> Option<Fault> {
        self.scripted
            .pop_front()
            .or_else(|| self.by_path.get(path).cloned())
    }
}

/// The path [`super::Simulator::fault_for`] means for a campaign id.
pub(super) fn campaign_path(id: i64) -> String {
    format!("/api/v1.0/campaigns/{id}")
}

/// The answer of a fault that answers by itself; `None` for the others.
pub(super) fn answer(fault: &Fault) -> Option<Reply> {
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(Reply::failure(status, sentence(*code)))
        }
        Fault::TooMany(retry_after) => Some(too_many(retry_after.as_deref())),
        Fault::NonJson => Some(Reply {
            status: StatusCode::OK,
            content_type: "text/html",
            body: bytes::Bytes::from_static(b"<html>maintenance</html>"),
            headers: Vec::new(),
        }),
        Fault::NoStore | Fault::Hang | Fault::Close | Fault::Delay(_) => None,
    }
}

/// The error sentence of a status, as the simulator words it.
pub(super) fn sentence(code: u16) -> &'static str {
    match code {
        401 => "Invalid API key",
        404 => "Campaign not found",
        _ => "Simulated failure",
    }
}

/// 429, with this `Retry-After` when given.
pub(super) fn too_many(retry_after: Option<&str>) -> Reply {
    let r = Reply::failure(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
    match retry_after.and_then(|v| HeaderValue::try_from(v).ok()) {
        Some(v) => r.with_header(RETRY_AFTER, v),
        None => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_come_first_then_the_paths_own() {
        let mut t = FaultTable::default();
        t.set(&campaign_path(5), Some(Fault::Status(503)));
        t.script([Fault::NonJson]);
        assert_eq!(t.take("/api/v1.0/campaigns/5"), Some(Fault::NonJson));
        assert_eq!(t.take("/api/v1.0/campaigns/5"), Some(Fault::Status(503)));
        assert_eq!(t.take("/api/v1.0/campaigns/50"), None, "exact path only");
        t.set(&campaign_path(5), None);
        assert_eq!(t.take("/api/v1.0/campaigns/5"), None);
    }

    #[test]
    fn garbage_statuses_do_not_panic() {
        for code in [0, 99, 1000, u16::MAX] {
            let r = answer(&Fault::Status(code)).expect("answers");
            assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        }
        let r = answer(&Fault::TooMany(Some("bad\nvalue".into()))).expect("answers");
        assert!(r.headers.is_empty(), "an invalid Retry-After is left out");
    }
}
