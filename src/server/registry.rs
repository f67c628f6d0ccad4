//! The live connections, in accept order: the count held against
//! `max_connections`, eviction of the oldest with no request in flight, and
//! the broadcast that drains them all on shutdown.

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::conn::{Command, ConnState};

#[derive(Default)]
pub(super) struct Registry {
    /// Keyed by accept order, so the first entries are the oldest. An entry
    /// stays until its task has dropped the socket, so that the count is of
    /// descriptors really held.
    live: Mutex<BTreeMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
    /// A connection's task ended.
    released: Notify,
}

impl Registry {
    fn live(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<ConnState>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is one map call), so a poisoned lock is still good.
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a just-accepted connection, if fewer than `max` are held.
    pub(super) fn admit(&self, max: usize, accepted: Instant) -> Option<Arc<ConnState>> {
        let mut live = self.live();
        if live.len() >= max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new(id, accepted));
        live.insert(id, Arc::clone(&state));
        Some(state)
    }

    /// Asks the oldest connection with no request in flight to close: first
    /// the oldest that never sent a complete request (half-open, silent,
    /// slow), then the oldest idle keep-alive one, which HTTP lets a server
    /// close at any time. False if every one is busy (or already closing).
    pub(super) fn evict_one(&self) -> bool {
        let live = self.live();
        let mut idle = None;
        let mut victim = None;
        for c in live.values() {
            if !c.waiting() || c.closing() {
                continue;
            }
            if !c.served() {
                victim = Some(c);
                break;
            }
            if idle.is_none() {
                idle = Some(c);
            }
        }
        match victim.or(idle) {
            Some(c) => {
                tracing::debug!(
                    conn = c.id,
                    served = c.served(),
                    "closing a waiting connection to make room"
                );
                c.command(Command::Close);
                true
            }
            None => false,
        }
    }

    /// Evicts one connection (see [`Registry::evict_one`]) and waits, at most
    /// `within`, until some connection has released its socket.
    pub(super) async fn make_room(&self, within: std::time::Duration) -> bool {
        let mut released = pin!(self.released.notified());
        released.as_mut().enable();
        if !self.evict_one() {
            return false;
        }
        let _ = tokio::time::timeout(within, released).await;
        true
    }

    /// A connection's task ended.
    fn remove(&self, id: u64) {
        self.live().remove(&id);
        self.released.notify_waiters();
    }

    pub(super) fn len(&self) -> usize {
        self.live().len()
    }

    pub(super) fn broadcast(&self, command: Command) {
        for c in self.live().values() {
            c.command(command);
        }
    }

    /// Resolves once no connection is left.
    pub(super) async fn emptied(&self) {
        loop {
            let mut released = pin!(self.released.notified());
            released.as_mut().enable();
            if self.live().is_empty() {
                return;
            }
            released.await;
        }
    }
}

/// Removes its connection from the registry when the connection's task ends,
/// however it ends.
pub(super) struct Registered {
    pub(super) registry: Arc<Registry>,
    pub(super) id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}
