//! A simulated Altur API: the one mock behind the demo, the tests and the benchmarks.
//!
//! `GET /api/v1.0/campaigns/{id}` answers campaign bodies shaped like Altur's
//! (even ids are `phone_call` campaigns, odd ids `whatsapp`, both with
//! analytics; ids from 1,000,000,000 up do not exist: 404). It checks
//! `Authorization: api-key <key>` (401 otherwise), enforces a strict sliding
//! 1 s window (429 with `Retry-After: 1` past it), waits a configurable
//! latency, records every request it received, and can be told to misbehave.
//!
//! `GET /_sim/log` returns the record as JSON (`t_ms` since start, `path`,
//! `status`); `POST /_sim/reset` clears it. Both are for benchmark harnesses.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Ids at or above this do not exist.
pub const FIRST_MISSING_ID: i64 = 1_000_000_000;

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The key it accepts.
    pub key: String,
    /// Added before every answer.
    pub latency: Duration,
    /// Requests accepted in any sliding second; `None` for no limit.
    pub rate_limit: Option<u32>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            key: "sim-key".into(),
            latency: Duration::ZERO,
            rate_limit: Some(12),
        }
    }
}

/// A misbehaviour, for one scripted request or every request for an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a small JSON error body.
    Status(u16),
    /// 429 with this `Retry-After` (none when `None`).
    TooMany(Option<String>),
    /// 200 with a body that is not JSON.
    NonJson,
    /// The normal 200, with `Cache-Control: no-store`.
    NoStore,
    /// Never answer (until the connection is dropped).
    Hang,
    /// Close the connection without an answer.
    Close,
    /// The normal answer after this extra delay.
    Delay(Duration),
}

/// One request the simulator received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub method: Method,
    /// Path and query, as received.
    pub target: String,
    pub headers: HeaderMap,
    /// What it answered (0 for a hang or close).
    pub status: u16,
}

#[derive(Debug)]
struct State {
    cfg: SimConfig,
    started: Instant,
    log: Vec<Recorded>,
    window: VecDeque<Instant>,
    scripted: VecDeque<Fault>,
    by_id: HashMap<i64, Fault>,
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Simulator {
    /// Starts on an ephemeral loopback port.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(cfg: SimConfig) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::start_on(listener, cfg)
    }

    /// Starts on the given listener.
    ///
    /// # Errors
    /// When the listener has no local address.
    pub fn start_on(listener: TcpListener, cfg: SimConfig) -> std::io::Result<Simulator> {
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            cfg,
            started: Instant::now(),
            log: Vec::new(),
            window: VecDeque::new(),
            scripted: VecDeque::new(),
            by_id: HashMap::new(),
        }));
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(Simulator { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to configure as `upstream.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1.0", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().log.clone()
    }

    /// Number of campaign requests received so far.
    pub fn count(&self) -> usize {
        self.lock().log.len()
    }

    pub fn clear(&self) {
        self.lock().log.clear();
    }

    /// The next requests, in order, misbehave like this.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().scripted.extend(faults);
    }

    /// Every request for `id` misbehaves like this (`None` to heal).
    pub fn fault_for(&self, id: i64, fault: Option<Fault>) {
        let mut s = self.lock();
        match fault {
            Some(f) => s.by_id.insert(id, f),
            None => s.by_id.remove(&id),
        };
    }

    /// Changes the accepted key (the real API after a rotation).
    pub fn set_key(&self, key: &str) {
        self.lock().cfg.key = key.to_string();
    }

    pub fn set_latency(&self, latency: Duration) {
        self.lock().cfg.latency = latency;
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Answers or, for [`Fault::Close`], fails so hyper drops the connection.
async fn handle<B>(
    state: Arc<Mutex<State>>,
    req: Request<B>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = req.uri().path().to_string();
    if let Some(resp) = control(&state, &req, &path) {
        return Ok(resp);
    }
    let now = Instant::now();
    let id = path
        .strip_prefix("/api/v1.0/campaigns/")
        .and_then(|s| s.parse::<i64>().ok());

    // Decide under the lock, answer after the latency outside it.
    let (decision, latency, idx) = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        let fault = s
            .scripted
            .pop_front()
            .or_else(|| id.and_then(|id| s.by_id.get(&id).cloned()));
        let authorized = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("api-key {}", s.cfg.key));
        let limited = match s.cfg.rate_limit {
            Some(limit) => {
                while s
                    .window
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
                {
                    s.window.pop_front();
                }
                if s.window.len() >= limit as usize {
                    true
                } else {
                    s.window.push_back(now);
                    false
                }
            }
            None => false,
        };
        let decision = if limited {
            Decision::Fault(Fault::TooMany(Some("1".into())))
        } else if let Some(f) = fault {
            Decision::Fault(f)
        } else if !authorized {
            Decision::Fault(Fault::Status(401))
        } else if req.method() != Method::GET {
            Decision::Fault(Fault::Status(405))
        } else {
            match id {
                Some(id) if (0..FIRST_MISSING_ID).contains(&id) => Decision::Campaign(id),
                _ => Decision::Fault(Fault::Status(404)),
            }
        };
        s.log.push(Recorded {
            at: now,
            method: req.method().clone(),
            target: req
                .uri()
                .path_and_query()
                .map_or(path.clone(), |p| p.as_str().to_string()),
            headers: req.headers().clone(),
            status: 0,
        });
        (decision, s.cfg.latency, s.log.len() - 1)
    };

    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let resp = match decision {
        Decision::Campaign(id) => json(StatusCode::OK, campaign_body(id)),
        Decision::Fault(f) => match f {
            Fault::Status(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let msg = match code {
                    401 => "Invalid API key",
                    404 => "Campaign not found",
                    _ => "Simulated failure",
                };
                json(
                    status,
                    format!("{{\"success\": false, \"error\": \"{msg}\"}}"),
                )
            }
            Fault::TooMany(retry_after) => {
                let mut r = json(
                    StatusCode::TOO_MANY_REQUESTS,
                    "{\"success\": false, \"error\": \"Rate limit exceeded\"}".into(),
                );
                if let Some(v) = retry_after.and_then(|v| HeaderValue::try_from(v).ok()) {
                    r.headers_mut().insert(RETRY_AFTER, v);
                }
                r
            }
            Fault::NonJson => {
                let mut r =
                    Response::new(Full::new(Bytes::from_static(b"<html>maintenance</html>")));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
                r
            }
            Fault::NoStore => {
                let mut r = json(StatusCode::OK, campaign_body(id.unwrap_or(0)));
                r.headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Fault::Hang => {
                std::future::pending::<()>().await;
                unreachable_response()
            }
            Fault::Close => {
                // A service error makes hyper drop the connection unanswered.
                return Err(std::io::Error::other("simulated connection close"));
            }
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                match id {
                    Some(id) => json(StatusCode::OK, campaign_body(id)),
                    None => json(StatusCode::NOT_FOUND, "{}".into()),
                }
            }
        },
    };
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(r) = s.log.get_mut(idx) {
        r.status = resp.status().as_u16();
    }
    Ok(resp)
}

enum Decision {
    Campaign(i64),
    Fault(Fault),
}

fn unreachable_response() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::new()))
}

fn control<B>(
    state: &Arc<Mutex<State>>,
    req: &Request<B>,
    path: &str,
) -> Option<Response<Full<Bytes>>> {
    match (req.method(), path) {
        (&Method::GET, "/_sim/log") => {
            let s = state.lock().unwrap_or_else(|p| p.into_inner());
            let items: Vec<_> = s
                .log
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "t_ms": r.at.duration_since(s.started).as_secs_f64() * 1000.0,
                        "path": r.target,
                        "status": r.status,
                    })
                })
                .collect();
            Some(json(
                StatusCode::OK,
                serde_json::Value::Array(items).to_string(),
            ))
        }
        (&Method::POST, "/_sim/reset") => {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.log.clear();
            s.started = Instant::now();
            Some(json(StatusCode::OK, "{}".into()))
        }
        _ => None,
    }
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A deterministic campaign body shaped like Altur's (about 1.5 KB).
pub fn campaign_body(id: i64) -> String {
    let day = |active: bool| serde_json::json!({"startTime": "09:00", "stopTime": "18:00", "active": active});
    let week = serde_json::json!({
        "mon": day(true), "tue": day(true), "wed": day(true), "thu": day(true),
        "fri": day(true), "sat": day(false), "sun": day(false),
    });
    let phone = id % 2 == 0;
    let analytics = if phone {
        serde_json::json!({
            "type": "phone_call",
            "calls": 1200 + id % 997,
            "callsAnswered": 800 + id % 311,
            "contactsTotal": 1500,
            "contactsAnswered": 640 + id % 101,
            "contactsConverted": 120 + id % 37,
            "contactsConvertedRate": 0.1875,
            "averageCallDuration": 94.5,
            "voicemails": 210,
        })
    } else {
        serde_json::json!({
            "type": "whatsapp",
            "sent": 5000 + id % 1009,
            "delivered": 4870,
            "read": 3900 + id % 401,
            "replied": 1100,
            "converted": 310 + id % 53,
            "convertedRate": 0.062,
            "failed": 130,
        })
    };
    serde_json::json!({
        "success": true,
        "campaign": {
            "id": id,
            "name": format!("Campaign {id}"),
            "integration": {"id": if phone { format!("int_phone_{:06}", id % 1_000_000) } else { format!("int_wa_{:06}", id % 1_000_000) }},
            "agent": {"id": format!("agent_{:04}", id % 10_000), "name": format!("Agent {}", id % 100)},
            "created_at": "2026-01-15T10:30:00Z",
            "scheduling": week,
            "cycles": {
                "enabled": phone,
                "max_iterations": 7,
                "cooldown_minutes": 720,
                "filter_statuses": ["failed", "no-answer"],
                "filter_tags": ["callback"],
                "schedule": week,
                "schedule_start_date": "2026-02-01",
                "schedule_end_date": "2026-12-31",
            },
            "analytics": analytics,
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_altur_shape() {
        for id in [7, 8] {
            let body = campaign_body(id);
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            assert_eq!(v["success"], true);
            assert_eq!(v["campaign"]["id"], id);
            assert!(v["campaign"]["scheduling"]["sun"]["active"].is_boolean());
            assert!(v["campaign"]["cycles"]["schedule"]["mon"]["startTime"].is_string());
            assert!((1000..2500).contains(&body.len()), "{}", body.len());
        }
        let v: serde_json::Value = serde_json::from_str(&campaign_body(8)).expect("json");
        assert!(v["campaign"]["analytics"]["contactsConvertedRate"].is_number());
        let v: serde_json::Value = serde_json::from_str(&campaign_body(7)).expect("json");
        assert!(v["campaign"]["analytics"]["convertedRate"].is_number());
    }
}
