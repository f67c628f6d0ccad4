//! The accept loop: HTTP/1.1 and h2c through hyper-util's auto builder,
//! connection limits (`server.*`: head and idle timeouts, `max_connections`),
//! and graceful shutdown. Each connection's watchdog is in `server/conn.rs`,
//! the set of live connections in `server/registry.rs`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::time::Instant;

use http::{Request, Response, Version};
use hyper::body::Incoming;

use crate::config::ServerSettings;
use crate::proxy::{Body, Gateway};

mod conn;
mod registry;

use conn::{Closed, Command, Ended, Metered};
use registry::{Registered, Registry};

/// In-flight requests get this long to finish after SIGTERM.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// Per-connection read buffer cap: 8 KiB target + 32 KiB headers + slack. Past
/// it hyper itself answers an empty 431 and closes.
const MAX_BUF: usize = 96 * 1024;
/// Descriptors kept back from `max_connections` for upstream, Redis, watched
/// files and the listener, when it is derived from the open-file limit.
const RESERVED_FDS: u64 = 64;
/// The smallest derived `max_connections`.
const MIN_CONNECTIONS: u64 = 16;
/// Longest pause after accept fails (out of descriptors) with no connection to close.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait for an evicted connection to release its socket.
const ROOM_WAIT: Duration = Duration::from_secs(1);
/// At most one "accept failed" (or "making room") line this often.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// What a connection may hold and for how long (`server.*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request head must be complete within this: from accept for the
    /// first, from its first byte for a later one (HTTP/1.1).
    pub header_timeout: Duration,
    /// No request in flight this long, or a response the client does not
    /// take for this long: the connection is closed.
    pub idle_timeout: Duration,
    /// Connections held at once.
    pub max_connections: usize,
}

impl Limits {
    /// The settings, with `max_connections` derived when not set.
    pub fn from_settings(s: &ServerSettings) -> Limits {
        Limits {
            header_timeout: s.header_timeout,
            idle_timeout: s.idle_timeout,
            max_connections: s.max_connections.unwrap_or_else(derived_max_connections),
        }
    }
}

impl Default for Limits {
    /// The documented defaults (`config/default.toml`).
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: derived_max_connections(),
        }
    }
}

/// The open-file limit (RLIMIT_NOFILE, soft) less what upstream, Redis and
/// files need, at least 16.
pub fn derived_max_connections() -> usize {
    let derived = open_file_limit()
        .saturating_sub(RESERVED_FDS)
        .max(MIN_CONNECTIONS);
    usize::try_from(derived).unwrap_or(usize::MAX)
}

#[cfg(unix)]
fn open_file_limit() -> u64 {
    // rustix, so that this crate keeps `forbid(unsafe_code)`. No limit: a
    // bound that memory, not descriptors, would set first.
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1 << 20)
}

#[cfg(not(unix))]
fn open_file_limit() -> u64 {
    1024
}

/// The connection settings: HTTP/1.1 and h2c, buffer and header limits.
/// Deadlines are the watchdog's (see [`Limits`]): hyper's own HTTP/1.1
/// header timeout is off, as it would also close keep-alive connections
/// idle for that long. Public so the benchmark's bare hyper ceiling uses the same.
pub fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(MAX_BUF);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

/// Serves the gateway until `shutdown` resolves, then stops accepting and drains.
///
/// # Errors
/// None today; accept errors are logged and retried.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let handler = Arc::clone(&gateway);
    serve_with(
        listener,
        move |req, peer| handler.handle(req, peer),
        limits,
        shutdown,
        move || {
            gateway.readiness().shutting_down();
        },
    )
    .await
}

/// The accept loop for any handler (the gateway, or the benchmark's bare
/// hyper ceiling, so both are measured through the same code). `handler` is
/// called as soon as hyper hands over a request, with the client's address
/// (the TCP peer), so it can consume the request before the returned future
/// is first polled. `on_stop` runs once accepting
/// has stopped, before the drain.
///
/// # Errors
/// None today; accept errors are logged and retried.
pub async fn serve_with<H, F>(
    listener: TcpListener,
    handler: H,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    on_stop: impl FnOnce(),
) -> std::io::Result<()>
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let builder = Arc::new(connection_builder());
    let registry = Arc::new(Registry::default());
    let mut failures = AcceptFailures::default();
    let mut evictions = Throttle::default();
    let mut refusals = Throttle::default();
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_ms = limits.header_timeout.as_millis(),
        idle_timeout_ms = limits.idle_timeout.as_millis(),
        "connection limits"
    );
    if limits.max_connections > derived_max_connections() {
        tracing::warn!(
            max_connections = limits.max_connections,
            allowed = derived_max_connections(),
            "server.max_connections is above what the open-file limit allows; accept may fail"
        );
    }
    tokio::pin!(shutdown);

    loop {
        let (stream, peer, accepted_at) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    failures.reset();
                    (stream, peer, Instant::now())
                }
                Err(e) => {
                    let Some(pause) = failures.record(&e, &registry) else { continue };
                    // Out of descriptors: free one if a connection is waiting,
                    // else wait; never spin.
                    tokio::select! {
                        freed = registry.make_room(pause) => if !freed {
                            tokio::time::sleep(pause).await;
                        },
                        () = &mut shutdown => break,
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // At the limit, the oldest waiting connection is told to close, and
        // its socket is gone before this one is served (nor is another
        // accepted meanwhile), so at most one socket more than the limit is
        // ever held.
        if registry.len() >= limits.max_connections {
            tokio::select! {
                made = registry.make_room(ROOM_WAIT) => {
                    if made && let Some(closed) = evictions.tick() {
                        tracing::warn!(
                            closed,
                            max_connections = limits.max_connections,
                            "at max_connections: closed waiting connections to make room"
                        );
                    }
                }
                () = &mut shutdown => break,
            }
        }
        let Some(state) = registry.admit(limits.max_connections, accepted_at) else {
            // Every connection held has a request in flight.
            if let Some(refused) = refusals.tick() {
                tracing::warn!(
                    refused,
                    max_connections = limits.max_connections,
                    "at max_connections with every connection busy: closed new ones at once"
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let registered = Registered {
            registry: Arc::clone(&registry),
            id: state.id,
        };
        let builder = Arc::clone(&builder);
        let handler = handler.clone();
        tokio::spawn(async move {
            let _registered = registered;
            let io = TokioIo::new(Metered::new(stream, Arc::clone(&state)));
            let tracker = Arc::clone(&state);
            let service = service_fn(move |req: Request<Incoming>| {
                let in_flight = tracker.request_started(req.version() == Version::HTTP_2);
                let answer = handler(req, peer);
                async move { Ok::<_, Infallible>(in_flight.respond(answer.await)) }
            });
            let conn = builder.serve_connection(io, service);
            match conn::drive(conn, |c| c.graceful_shutdown(), &state, &limits).await {
                Ended::Done(Ok(())) => {}
                Ended::Done(Err(e)) => {
                    tracing::debug!(error = %e, "connection ended with an error")
                }
                Ended::Closed(Closed::Commanded) => {}
                Ended::Closed(why) => tracing::debug!(conn = state.id, ?why, "connection closed"),
            }
        });
    }

    drop(listener);
    on_stop();
    tracing::info!("shutting down: draining in-flight requests");
    registry.broadcast(Command::Graceful);
    tokio::select! {
        () = registry.emptied() => tracing::info!("drained"),
        () = tokio::time::sleep(DRAIN_DEADLINE) => {
            tracing::warn!(open = registry.len(), "drain deadline passed; closing the rest");
            registry.broadcast(Command::Close);
            let _ = tokio::time::timeout(Duration::from_secs(1), registry.emptied()).await;
        }
    }
    Ok(())
}

/// Accept errors: a refused handshake is skipped at once; anything else
/// (out of descriptors, above all) backs off, and is logged at most every
/// few seconds.
#[derive(Default)]
struct AcceptFailures {
    in_a_row: u32,
    log: Throttle,
}

impl AcceptFailures {
    fn reset(&mut self) {
        self.in_a_row = 0;
    }

    /// How long to back off, or `None` to accept again at once.
    fn record(&mut self, e: &std::io::Error, registry: &Registry) -> Option<Duration> {
        use std::io::ErrorKind::{
            ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted,
        };
        if matches!(
            e.kind(),
            ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
        ) {
            return None;
        }
        if let Some(failures) = self.log.tick() {
            tracing::warn!(error = %e, failures, open = registry.len(), "accept failed");
        }
        self.in_a_row = self.in_a_row.saturating_add(1);
        let exp = self.in_a_row.min(7);
        Some((Duration::from_millis(10) * (1 << exp)).min(MAX_ACCEPT_BACKOFF))
    }
}

/// Counts events that a flood repeats, for one log line every few seconds.
#[derive(Default)]
struct Throttle {
    unlogged: u64,
    logged_at: Option<Instant>,
}

impl Throttle {
    /// Counts one; when it is time to log, how many since the last line.
    fn tick(&mut self) -> Option<u64> {
        self.unlogged += 1;
        if self.logged_at.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return None;
        }
        self.logged_at = Some(Instant::now());
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
