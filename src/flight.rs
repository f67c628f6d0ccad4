//! The cache lock: concurrent misses for one key share one upstream fetch.
//!
//! The fetch runs as its own task (the leader), not inside the first caller's
//! future, so a caller that disconnects cannot starve the others. Each caller
//! holds a receiver; when the last one is gone while the fetch still waits in
//! the queue, [`Leader::abandoned`] fires and the place in the queue is given back.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

type Slot<V> = Arc<watch::Sender<Option<V>>>;

/// In-flight fetches by key, each with the epoch it started at (see
/// `cache::invalidate`) and whatever its callers share about it (`M`: for
/// reads, the queue lane it waits in, which a joining caller can lift).
pub struct Flights<K, V, M = ()> {
    map: Mutex<HashMap<K, Flight<V, M>>>,
}

struct Flight<V, M> {
    tx: Slot<V>,
    epoch: u64,
    meta: Arc<M>,
}

impl<K: Hash + Eq + Clone, V: Clone, M> Default for Flights<K, V, M> {
    fn default() -> Self {
        Flights {
            map: Mutex::new(HashMap::new()),
        }
    }
}

/// A caller's claim on a flight's result.
pub struct Ticket<V> {
    rx: watch::Receiver<Option<V>>,
    /// False when the caller joined a flight another caller started.
    pub leader: bool,
}

impl<V: Clone> Ticket<V> {
    /// The flight's result; `None` if the leader ended without one (it panicked
    /// or was abandoned, which cannot happen while this ticket lives).
    pub async fn wait(mut self) -> Option<V> {
        match self.rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone(),
            Err(_) => None,
        }
    }
}

/// What joining gives: the caller's ticket, the leader's duty when the
/// caller started the flight, and the flight's shared value.
pub type Joined<K, V, M> = (Ticket<V>, Option<Leader<K, V, M>>, Arc<M>);

/// The right and duty to fetch a key and publish the result.
pub struct Leader<K: Hash + Eq + Clone, V, M = ()> {
    flights: Arc<Flights<K, V, M>>,
    key: K,
    tx: Slot<V>,
}

impl<K: Hash + Eq + Clone, V: Clone, M: Default> Flights<K, V, M> {
    /// Joins the flight for `key`, or starts one: then the caller must hand the
    /// returned [`Leader`] to a task that fetches and calls [`Leader::finish`].
    pub fn join(self: &Arc<Self>, key: K) -> (Ticket<V>, Option<Leader<K, V, M>>) {
        let (ticket, leader, _) = self.join_unless(key, 0, |_| false, M::default);
        (ticket, leader)
    }
}

impl<K: Hash + Eq + Clone, V: Clone, M> Flights<K, V, M> {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<K, Flight<V, M>>> {
        // Every critical section is one map operation, so poison carries no broken state.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins the flight for `key`, or starts one (at `epoch`, sharing the
    /// value `meta` makes); a flight for which `stale(its epoch)` holds is
    /// not joined: a new one takes its place for later callers, while the
    /// old one finishes for its own. Returns the flight's shared value too.
    pub fn join_unless(
        self: &Arc<Self>,
        key: K,
        epoch: u64,
        stale: impl Fn(u64) -> bool,
        meta: impl FnOnce() -> M,
    ) -> Joined<K, V, M> {
        let mut map = self.map();
        if let Some(f) = map.get(&key)
            && !stale(f.epoch)
        {
            return (
                Ticket {
                    rx: f.tx.subscribe(),
                    leader: false,
                },
                None,
                Arc::clone(&f.meta),
            );
        }
        let (tx, rx) = watch::channel(None);
        let tx = Arc::new(tx);
        let meta = Arc::new(meta());
        map.insert(
            key.clone(),
            Flight {
                tx: Arc::clone(&tx),
                epoch,
                meta: Arc::clone(&meta),
            },
        );
        (
            Ticket { rx, leader: true },
            Some(Leader {
                flights: Arc::clone(self),
                key,
                tx,
            }),
            meta,
        )
    }

    /// Number of flights under way.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq + Clone, V: Clone, M> Leader<K, V, M> {
    /// Resolves once no caller waits for this flight any more. The flight is
    /// then closed: later callers start a new one.
    pub async fn abandoned(&self) {
        loop {
            self.tx.closed().await;
            let mut map = self.flights.map();
            // A caller may have joined between the wake-up and the lock.
            if self.tx.receiver_count() == 0 {
                if map
                    .get(&self.key)
                    .is_some_and(|f| Arc::ptr_eq(&f.tx, &self.tx))
                {
                    map.remove(&self.key);
                }
                return;
            }
        }
    }

    /// Publishes the result to every caller and closes the flight.
    pub fn finish(self, value: V) {
        self.tx.send_replace(Some(value));
        // Drop removes the entry.
    }
}

impl<K: Hash + Eq + Clone, V, M> Drop for Leader<K, V, M> {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&self.key)
            .is_some_and(|f| Arc::ptr_eq(&f.tx, &self.tx))
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leader_many_followers() {
        let f: Arc<Flights<u32, u32>> = Arc::default();
        let (t1, l1) = f.join(1);
        let (t2, l2) = f.join(1);
        assert!(t1.leader && !t2.leader && l2.is_none());
        l1.expect("leader").finish(7);
        assert_eq!(t1.wait().await, Some(7));
        assert_eq!(t2.wait().await, Some(7));
        assert!(f.is_empty());
    }

    #[tokio::test]
    async fn a_stale_flight_is_not_joined_and_finishes_for_its_own() {
        let f: Arc<Flights<u32, u32>> = Arc::default();
        let (old, l_old, _) = f.join_unless(1, 5, |_| false, || ());
        let (new, l_new, _) = f.join_unless(1, 9, |started| started < 7, || ());
        assert!(new.leader, "the flight from epoch 5 is stale");
        let (joined, none, _) = f.join_unless(1, 10, |started| started < 7, || ());
        assert!(!joined.leader && none.is_none(), "the new one is joined");
        l_old.expect("leader").finish(1);
        assert_eq!(old.wait().await, Some(1));
        assert_eq!(f.len(), 1, "finishing the old flight leaves the new one");
        l_new.expect("leader").finish(2);
        assert_eq!(new.wait().await, Some(2));
        assert_eq!(joined.wait().await, Some(2));
    }

    #[tokio::test]
    async fn abandoned_when_every_caller_left() {
        let f: Arc<Flights<u32, u32>> = Arc::default();
        let (t1, l1) = f.join(1);
        let (t2, _) = f.join(1);
        let leader = l1.expect("leader");
        drop(t1);
        let still =
            tokio::time::timeout(std::time::Duration::from_millis(20), leader.abandoned()).await;
        assert!(still.is_err(), "one caller still waits");
        drop(t2);
        leader.abandoned().await;
        assert!(f.is_empty());
        let (t3, l3) = f.join(1);
        assert!(t3.leader && l3.is_some(), "a new flight starts");
    }
}
