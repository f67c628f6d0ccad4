//! A simulated Altur API: the one mock behind the demo, the tests and the benchmarks.
//!
//! It speaks every endpoint of the SPEC's routes table below `/api/v1.0`,
//! reads and writes, over generated data that writes change (a PATCH renames
//! a campaign, `pause` sets it `inactive`, created contacts appear in the
//! list, a sent message in its thread). Every request must carry
//! `Authorization: api-key <key>` (401 otherwise); a strict sliding 1 s
//! window answers 429 with `Retry-After: 1` past the limit; a configurable
//! latency precedes every answer; every request is recorded with its body
//! and the answer; and it can be told to misbehave ([`Fault`]).
//!
//! What is there before any write:
//! - campaigns: every id below [`FIRST_MISSING_ID`] (404 from it on); even
//!   ids `phone_call`, odd `whatsapp`; `GET /campaigns/{id}` is exactly
//!   [`campaign_body`] until a write changes the campaign. The list holds
//!   ids 1..=60 plus created ones (from 900,000,000 up), 20 a page, with a
//!   base64 cursor. Ids ending in 9 are `finished` (read-only: PATCH and
//!   status actions answer 409).
//! - contacts and calls of campaign `c`: see `bodies.rs`; contact
//!   `c * 1000 + 1` is in `queue` (deletable), `c * 1000 + 2` in `sending`
//!   (409 `CONTACT_NOT_DELETABLE`).
//! - calls, threads, messages, end users: any string id exists, generated
//!   from the id, unless it starts with `missing` (404).
//!
//! Unknown paths are 404, known paths with another method 405 with `Allow`,
//! a write body that is not JSON 400 `INVALID_REQUEST`. A write with an
//! `Idempotency-Key` seen before (same method and path) gets the first
//! answer again and changes nothing.
//!
//! `GET /_sim/log` returns the record as JSON (`t_ms` since start, `method`,
//! `path`, `status`); `POST /_sim/reset` clears it. Both are for benchmark
//! harnesses, need no key and are not recorded. [`webhook`] sends Altur's
//! signed `on_call_end`.

mod bodies;
mod calls;
mod campaign_list;
mod campaigns;
mod clock;
mod conn;
mod contacts;
mod convo;
mod endpoints;
mod endusers;
mod faults;
mod input;
mod limit;
mod messaging;
mod pipeline;
mod reply;
mod seed;
mod state;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use bodies::campaign_body;
pub use faults::Fault;

use conn::Conns;
use faults::FaultTable;
use limit::Window;
use reply::Reply;
use state::World;

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

/// One request the simulator received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When its head arrived.
    pub at: Instant,
    pub method: Method,
    /// Path and query, as received.
    pub target: String,
    pub headers: HeaderMap,
    /// What it answered (0 for a hang or close, or while still in flight).
    pub status: u16,
    /// The request body as received (empty until read).
    pub body: Bytes,
    /// The body it answered (empty for a hang or close).
    pub response: Bytes,
    /// Whether the answer was an idempotent replay (nothing changed).
    pub replayed: bool,
    /// The connection it came on, numbered from 1 in accept order.
    pub conn: u64,
}

/// The simulator's control side: configuration, record, limit, faults.
#[derive(Debug)]
struct Control {
    cfg: SimConfig,
    started: Instant,
    log: Vec<Recorded>,
    /// Records cleared so far: a request's sequence number less this is its index.
    cleared: u64,
    window: Window,
    faults: FaultTable,
}

/// Everything the accept loop and the handle share.
#[derive(Debug)]
struct Shared {
    control: Mutex<Control>,
    world: Mutex<World>,
    conns: Conns,
}

/// What admission decided for one request.
enum Gate {
    /// Over the rate limit: 429.
    Limited,
    /// This fault applies; `authorized` for the faults that answer normally.
    Fault { fault: Fault, authorized: bool },
    /// The endpoint answers (401 unless `authorized`).
    Pass { authorized: bool },
}

struct Admitted {
    seq: u64,
    gate: Gate,
    latency: Duration,
}

impl Shared {
    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rate limit, fault, key; records the arrival.
    fn admit(&self, now: Instant, parts: &http::request::Parts, conn: u64) -> Admitted {
        let mut c = self.control();
        let path = parts.uri.path();
        let limit = c.cfg.rate_limit;
        let authorized = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("api-key "))
            .is_some_and(|k| k == c.cfg.key);
        let gate = if !c.window.admit(now, limit) {
            Gate::Limited
        } else if let Some(fault) = c.faults.take(path) {
            Gate::Fault { fault, authorized }
        } else {
            Gate::Pass { authorized }
        };
        c.log.push(Recorded {
            at: now,
            method: parts.method.clone(),
            target: parts
                .uri
                .path_and_query()
                .map_or_else(|| path.to_string(), |p| p.as_str().to_string()),
            headers: parts.headers.clone(),
            status: 0,
            body: Bytes::new(),
            response: Bytes::new(),
            replayed: false,
            conn,
        });
        Admitted {
            seq: c.cleared + c.log.len() as u64 - 1,
            gate,
            latency: c.cfg.latency,
        }
    }

    fn with_record(&self, seq: u64, f: impl FnOnce(&mut Recorded)) {
        let mut c = self.control();
        let Some(i) = seq.checked_sub(c.cleared) else {
            return;
        };
        if let Some(r) = usize::try_from(i).ok().and_then(|i| c.log.get_mut(i)) {
            f(r);
        }
    }

    fn record_body(&self, seq: u64, body: &Bytes) {
        self.with_record(seq, |r| r.body = body.clone());
    }

    fn finish(&self, seq: u64, reply: &Reply, replayed: bool) {
        self.with_record(seq, |r| {
            r.status = reply.status.as_u16();
            r.response = reply.body.clone();
            r.replayed = replayed;
        });
    }

    fn clear_log(&self) {
        let mut c = self.control();
        c.cleared += c.log.len() as u64;
        c.log.clear();
    }
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
        self.shared.conns.close_all();
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
        let shared = Arc::new(Shared {
            control: Mutex::new(Control {
                cfg,
                started: Instant::now(),
                log: Vec::new(),
                cleared: 0,
                window: Window::default(),
                faults: FaultTable::default(),
            }),
            world: Mutex::new(World::default()),
            conns: Conns::default(),
        });
        let task = tokio::spawn(conn::accept_loop(listener, Arc::clone(&shared)));
        Ok(Simulator { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to configure as `upstream.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1.0", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.control().log.clone()
    }

    /// Number of requests recorded so far.
    pub fn count(&self) -> usize {
        self.shared.control().log.len()
    }

    /// Forgets the record (not the state writes made).
    pub fn clear(&self) {
        self.shared.clear_log();
    }

    /// The next requests, in order, misbehave like this (a request the rate
    /// limit refuses is answered 429 and does not use one up).
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.control().faults.script(faults);
    }

    /// Every request whose path is exactly `/api/v1.0/campaigns/{id}`
    /// misbehaves like this (`None` to heal).
    pub fn fault_for(&self, id: i64, fault: Option<Fault>) {
        self.fault_for_path(&faults::campaign_path(id), fault);
    }

    /// Every request whose path (below the host, without the query) is
    /// exactly `path`, whatever its method, misbehaves like this (`None` to
    /// heal). E.g. `"/api/v1.0/call"`.
    pub fn fault_for_path(&self, path: &str, fault: Option<Fault>) {
        self.shared.control().faults.set(path, fault);
    }

    /// Changes the accepted key (the real API after a rotation).
    pub fn set_key(&self, key: &str) {
        self.shared.control().cfg.key = key.to_string();
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.control().cfg.latency = latency;
    }

    /// Changes the requests accepted per sliding second (`None`: no limit).
    pub fn set_rate_limit(&self, limit: Option<u32>) {
        self.shared.control().cfg.rate_limit = limit;
    }

    /// Closes every connection that has no request in flight (a keep-alive
    /// connection sitting between requests), so that a client's pooled
    /// connection is found dead; returns how many, once they are closed.
    /// A request that races in as one closes is still answered.
    pub async fn close_idle_connections(&self) -> usize {
        let closing = self.shared.conns.close_idle();
        let n = closing.len();
        for mut ended in closing {
            let _ = tokio::time::timeout(Duration::from_secs(2), ended.wait_for(|e| *e)).await;
        }
        n
    }
}

/// `GET /_sim/log` and `POST /_sim/reset`; `None` for every other request.
fn control<B>(shared: &Shared, req: &Request<B>) -> Option<Response<Full<Bytes>>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/_sim/log") => {
            let c = shared.control();
            let items: Vec<_> = c
                .log
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "t_ms": r.at.duration_since(c.started).as_secs_f64() * 1000.0,
                        "method": r.method.as_str(),
                        "path": r.target,
                        "status": r.status,
                    })
                })
                .collect();
            Some(Reply::ok(&serde_json::Value::Array(items)).into_response())
        }
        (&Method::POST, "/_sim/reset") => {
            shared.clear_log();
            shared.control().started = Instant::now();
            Some(Reply::raw_json(StatusCode::OK, "{}").into_response())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
