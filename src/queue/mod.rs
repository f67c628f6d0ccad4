//! The shared upstream budget: one queue, drained by one dispatcher task, in
//! front of a [`Budget`] that decides when the next upstream request may
//! start; [`schedule`] decides which waiting request it is (first come,
//! first served within a caller, shared by weight across callers).
//!
//! Why not `governor`: its GCRA lets a full burst through and then keeps
//! admitting at the steady rate, so with burst 12 a window can hold up to 23
//! starts; with burst 1 it is correct but spaces every start 85 ms apart even
//! when the queue was idle. The guarantee we sell is a sliding window ("at most
//! N starts in any window of 1 s + margin"), and the exact way to keep it is to
//! remember the last N starts: the next may begin no earlier than the N-th last
//! one plus the window. That is [`LocalBudget`] (`local.rs`), twenty lines with no clock of
//! its own (it uses tokio's, so tests run under a paused clock).
//!
//! Why a dispatcher: waiters that poll a limiter themselves are not served in
//! order. Here callers enqueue a oneshot and sleep; the dispatcher grants each
//! start to the request the schedule names, skips callers that went away
//! (their place is given back), and never idles while a live waiter exists
//! and the budget allows a start.
//!
//! A request is refused at once when its expected start (the budget's
//! projection for the requests the schedule puts ahead of it) lies past
//! `max_wait`; and a request admitted on that estimate still never waits past
//! `max_wait` (a 429 pause or a busier fleet can push a start later than
//! estimated): it is refused then, so a caller is always answered in time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

pub mod budget;
pub mod local;
pub mod redis_budget;
pub mod schedule;

pub use budget::{BoxFuture, Budget, Slot};
pub use local::LocalBudget;
pub use redis_budget::RedisBudget;
pub use schedule::Lane;

use schedule::Schedule;

/// A granted upstream start. Call [`Grant::sent`] right before the request
/// goes out; dropped unsent, the start is given back.
pub struct Grant {
    budget: Arc<dyn Budget>,
    slot: Slot,
    sent: bool,
    /// How long the request waited in the queue.
    pub waited: Duration,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("slot", &self.slot)
            .field("sent", &self.sent)
            .finish()
    }
}

impl Grant {
    /// When the start was granted.
    pub fn at(&self) -> Instant {
        self.slot.at
    }

    /// Grants of one budget in the order they were made (ties in time included).
    pub fn seq(&self) -> u64 {
        self.slot.id
    }

    /// Records that the request is being sent now.
    pub fn sent(&mut self) {
        if !self.sent {
            self.sent = true;
            self.budget.stamp(self.slot, Instant::now());
        }
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        if !self.sent {
            self.budget.release(self.slot);
        }
    }
}

/// Refused at once: the expected start lies past `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    /// The expected wait, for `Retry-After`.
    pub expected: Duration,
}

struct Waiter {
    enqueued: Instant,
    tx: oneshot::Sender<Grant>,
}

fn live(w: &Waiter) -> bool {
    !w.tx.is_closed()
}

struct Inner {
    waiters: Mutex<Schedule<Waiter>>,
    wake: Arc<Notify>,
    budget: Arc<dyn Budget>,
    max_wait: Duration,
    depth: Option<prometheus_client::metrics::gauge::Gauge>,
    /// Most starts of a window background refreshes may take
    /// (`requests_per_second - reserve_for_callers`).
    background_cap: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl Inner {
    fn waiters(&self) -> std::sync::MutexGuard<'_, Schedule<Waiter>> {
        // Every critical section is a whole push, pop or retain: a poisoned
        // lock still holds a consistent schedule.
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_depth(&self, q: &Schedule<Waiter>) {
        if let Some(g) = &self.depth {
            g.set(i64::try_from(q.len()).unwrap_or(i64::MAX));
        }
    }
}

/// The one queue every upstream request goes through. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

impl Queue {
    /// Starts the dispatcher task; it ends when the last `Queue` handle is dropped.
    pub fn start(
        budget: Arc<dyn Budget>,
        max_wait: Duration,
        depth: Option<prometheus_client::metrics::gauge::Gauge>,
    ) -> Queue {
        Self::start_with_reserve(budget, max_wait, depth, 0)
    }

    /// As [`Queue::start`], with background refreshes kept to `cap` starts
    /// of any window (the rest is reserved for callers).
    pub fn start_with_reserve(
        budget: Arc<dyn Budget>,
        max_wait: Duration,
        depth: Option<prometheus_client::metrics::gauge::Gauge>,
        background_cap: usize,
    ) -> Queue {
        let inner = Arc::new(Inner {
            waiters: Mutex::new(Schedule::default()),
            wake: Arc::new(Notify::new()),
            budget,
            max_wait,
            depth,
            background_cap,
        });
        tokio::spawn(dispatch(Arc::downgrade(&inner)));
        Queue { inner }
    }

    /// Waits for a turn to start one upstream request, as the anonymous caller.
    ///
    /// # Errors
    /// As [`Queue::acquire_in`].
    pub async fn acquire(&self) -> Result<Grant, Full> {
        self.acquire_in(&Lane::anonymous()).await
    }

    /// Waits for a turn to start one upstream request in `lane`.
    ///
    /// Dropping the future gives the place back.
    ///
    /// # Errors
    /// [`Full`] at once when the expected start lies past `max_wait`, or
    /// when `max_wait` has passed without a start.
    pub async fn acquire_in(&self, lane: &Lane) -> Result<Grant, Full> {
        let enqueued = Instant::now();
        // A background refresh is never refused: it waits for spare budget,
        // as long as `max_wait` at most.
        if !lane.is_background() {
            let ahead = {
                let mut q = self.inner.waiters();
                q.retain(live);
                q.ahead(lane, live)
            };
            let expected = self.inner.budget.projected_wait(ahead).await;
            if expected > self.inner.max_wait {
                return Err(Full { expected });
            }
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.inner.waiters();
            q.push(lane, Waiter { enqueued, tx });
            self.inner.set_depth(&q);
        }
        self.inner.wake.notify_one();
        let late = Full {
            expected: self.inner.max_wait,
        };
        match tokio::time::timeout_at(enqueued + self.inner.max_wait, rx).await {
            Ok(Ok(grant)) => Ok(grant),
            // The dispatcher only drops a sender when the queue itself is gone.
            Ok(Err(_)) => Err(late),
            // Dropping `rx` marks the waiter dead; a grant racing with this is
            // dropped unsent and so given back.
            Err(_) => Err(late),
        }
    }

    /// Pauses every start until `until` (an upstream 429 with its `Retry-After`).
    pub async fn pause(&self, until: Instant) {
        self.inner.budget.pause(until).await;
        self.inner.wake.notify_one();
    }

    /// Live waiters right now.
    pub fn depth(&self) -> usize {
        let q = self.inner.waiters();
        q.depth_by_lane(live).iter().map(|(_, n)| n).sum()
    }

    /// Live waiters right now, by lane (caller).
    pub fn depth_by_lane(&self) -> Vec<(Arc<str>, usize)> {
        self.inner.waiters().depth_by_lane(live)
    }
}

async fn dispatch(inner: std::sync::Weak<Inner>) {
    loop {
        let Some(inner) = inner.upgrade() else { return };
        let (callers, anyone) = {
            let mut q = inner.waiters();
            q.retain(live);
            inner.set_depth(&q);
            (q.has_callers(), !q.is_empty())
        };
        if !anyone {
            // Hold no strong reference while idle: dropping the last `Queue`
            // wakes us (see `Drop for Inner`) and the upgrade above fails.
            // `notify_one` stores a permit, so a wake between the check and
            // here is not lost.
            let wake = Arc::clone(&inner.wake);
            drop(inner);
            wake.notified().await;
            continue;
        }
        let slot = if callers {
            inner.budget.acquire().await
        } else {
            // Only refreshes wait: one attempt within their cap, never a
            // wait that a caller arriving meanwhile would sit behind.
            match inner.budget.try_acquire(inner.background_cap).await {
                Ok(slot) => slot,
                Err(wait) => {
                    let wake = Arc::clone(&inner.wake);
                    drop(inner);
                    tokio::select! {
                        () = tokio::time::sleep(wait.clamp(Duration::from_millis(1), Duration::from_millis(100))) => {}
                        () = wake.notified() => {}
                    }
                    continue;
                }
            }
        };
        let mut grant = Some(Grant {
            budget: Arc::clone(&inner.budget),
            slot,
            sent: false,
            waited: Duration::ZERO,
        });
        {
            let mut q = inner.waiters();
            loop {
                // A start taken for callers goes to a caller: if they all
                // left, it is given back rather than spent past the reserve.
                let next = if callers {
                    q.pop(live)
                } else {
                    q.pop(live).or_else(|| q.pop_background(live))
                };
                let Some(w) = next else { break };
                let Some(mut g) = grant.take() else { break };
                g.waited = slot.at.saturating_duration_since(w.enqueued);
                match w.tx.send(g) {
                    Ok(()) => break,
                    // That caller left while we waited for the budget: next one.
                    Err(g) => grant = Some(g),
                }
            }
            inner.set_depth(&q);
        }
        // Dropping an unsent grant (everyone left) gives the start back.
        drop(grant);
    }
}

#[cfg(test)]
mod tests;
