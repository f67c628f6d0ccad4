//! Connections: the accept loop, and a registry that knows which connections
//! have a request in flight, so idle ones can be closed on demand (a
//! client's pooled keep-alive connection found dead, as after a server's
//! idle timeout or restart).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use super::{Shared, pipeline};

/// One accepted connection.
#[derive(Debug)]
pub(super) struct Slot {
    pub id: u64,
    in_flight: AtomicUsize,
    close: Notify,
    ended: watch::Sender<bool>,
}

impl Slot {
    /// Marks a request in flight until the guard drops.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(self))
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }
}

/// A request in flight on its connection.
pub(super) struct Busy(Arc<Slot>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The live connections.
#[derive(Debug, Default)]
pub(super) struct Conns {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self) -> Arc<Slot> {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let slot = Arc::new(Slot {
            id,
            in_flight: AtomicUsize::new(0),
            close: Notify::new(),
            ended: watch::channel(false).0,
        });
        self.lock().insert(id, Arc::clone(&slot));
        slot
    }

    /// Asks every connection without a request in flight to close; returns
    /// a way to wait for each to be gone.
    pub fn close_idle(&self) -> Vec<watch::Receiver<bool>> {
        self.lock()
            .values()
            .filter(|s| s.idle())
            .map(|s| {
                s.close.notify_one();
                s.ended.subscribe()
            })
            .collect()
    }

    /// Asks every connection to close once its requests are answered.
    pub fn close_all(&self) {
        for s in self.lock().values() {
            s.close.notify_one();
        }
    }
}

/// How long a closing connection with nothing in flight may take to go.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

pub(super) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let slot = shared.conns.register();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let (svc_shared, svc_slot) = (Arc::clone(&shared), Arc::clone(&slot));
            let service = service_fn(move |req| {
                pipeline::handle(Arc::clone(&svc_shared), Arc::clone(&svc_slot), req)
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = slot.close.notified() => {
                    // Graceful: a request that raced in is still answered.
                    conn.as_mut().graceful_shutdown();
                    loop {
                        match tokio::time::timeout(CLOSE_GRACE, conn.as_mut()).await {
                            Err(_) if !slot.idle() => continue,
                            _ => break,
                        }
                    }
                }
            }
            shared.conns.lock().remove(&slot.id);
            slot.ended.send_replace(true);
        });
    }
}
