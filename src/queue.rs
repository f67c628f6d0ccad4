//! The shared upstream budget: one FIFO queue, drained by one dispatcher task,
//! in front of a [`Budget`] that decides when the next upstream request may start.
//!
//! Why not `governor`: its GCRA lets a full burst through and then keeps
//! admitting at the steady rate, so with burst 12 a window can hold up to 23
//! starts; with burst 1 it is correct but spaces every start 85 ms apart even
//! when the queue was idle. The guarantee we sell is a sliding window ("at most
//! N starts in any window of 1 s + margin"), and the exact way to keep it is to
//! remember the last N starts: the next may begin no earlier than the N-th last
//! one plus the window. That is [`LocalBudget`], twenty lines with no clock of
//! its own (it uses tokio's, so tests run under a paused clock).
//!
//! Why a dispatcher: waiters that poll a limiter themselves are not served in
//! order. Here callers enqueue a oneshot and sleep; the dispatcher grants starts
//! strictly in arrival order, skips callers that went away (their place is given
//! back), and never idles while a live waiter exists and the budget allows a start.
//! Later priority classes or per-service fairness change only which waiter the
//! dispatcher pops.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

pub mod redis_budget;

pub use redis_budget::RedisBudget;

/// A boxed future, so budgets can be trait objects (a Redis one does I/O).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One upstream start handed out by a [`Budget`]: pending until stamped with
/// the instant the request was really sent, or released if it never was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub id: u64,
    /// When the budget granted it.
    pub at: Instant,
}

/// Decides when upstream requests may start.
///
/// A start is counted from the moment it is *sent*, not granted: a request
/// that needs a new (TLS) connection is sent a few round trips after its
/// grant, and a window counted from grants would let the next batch arrive
/// upstream inside the previous one's second. So a granted slot counts as
/// "sending now" until [`Budget::stamp`] records when it was really sent; a
/// slot never used is [`Budget::release`]d. Only the dispatcher calls
/// [`Budget::acquire`], one at a time.
pub trait Budget: Send + Sync + 'static {
    /// Waits until one more start is allowed and hands out its slot.
    fn acquire(&self) -> BoxFuture<'_, Slot>;
    /// The slot's request was sent at `sent`.
    fn stamp(&self, slot: Slot, sent: Instant);
    /// The slot's request was never sent: give the start back.
    fn release(&self, slot: Slot);
    /// Expected wait before the `k`-th next start (0-based) if starts run back to back.
    fn projected_wait(&self, k: usize) -> BoxFuture<'_, Duration>;
    /// Stops all starts until `until` (an upstream 429 pauses everyone: the budget is shared).
    fn pause(&self, until: Instant) -> BoxFuture<'_, ()>;
}

/// The exact sliding-window budget for one process.
#[derive(Debug)]
pub struct LocalBudget {
    limit: usize,
    window: Duration,
    state: Mutex<LocalState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct LocalState {
    next_id: u64,
    /// Granted, not yet sent: each may be sent at any moment.
    pending: Vec<u64>,
    /// Send instants, ascending; only the last `limit` can matter.
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl LocalState {
    /// Earliest instant, not before `now`, at which one more start keeps
    /// every window within `limit`, counting pending starts as sent now;
    /// `None` while pending starts alone fill the budget.
    fn next_start(&self, now: Instant, limit: usize, window: Duration) -> Option<Instant> {
        let free = limit.checked_sub(self.pending.len()).filter(|f| *f > 0)?;
        let mut t = now;
        if let Some(p) = self.paused_until {
            t = t.max(p);
        }
        // At most `free - 1` sends may remain inside the window ending at t.
        if self.sent.len() >= free {
            t = t.max(self.sent[self.sent.len() - free] + window);
        }
        Some(t)
    }

    fn record_sent(&mut self, at: Instant, limit: usize) {
        let i = self.sent.partition_point(|t| *t <= at);
        self.sent.insert(i, at);
        while self.sent.len() > limit {
            self.sent.pop_front();
        }
    }
}

impl LocalBudget {
    /// At most `limit` starts in any sliding `window`.
    pub fn new(limit: usize, window: Duration) -> LocalBudget {
        LocalBudget {
            limit: limit.max(1),
            window,
            state: Mutex::new(LocalState::default()),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LocalState> {
        // Every mutation is a push, remove or insert that cannot be left
        // half done, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a start granted elsewhere (by a shared budget) as pending here,
    /// whatever this budget's own limit says, so that if this budget takes
    /// over, the start is counted once it is stamped (or given back if released).
    pub fn track(&self, now: Instant) -> Slot {
        let mut s = self.lock();
        s.next_id += 1;
        let id = s.next_id;
        s.pending.push(id);
        Slot { id, at: now }
    }

    /// Stops every start until `until` (or later, if already paused longer).
    pub fn pause_until(&self, until: Instant) {
        let mut s = self.lock();
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        drop(s);
        self.changed.notify_one();
    }

    /// Grants a slot at `now` if a start is allowed now; else says when one
    /// will be (`None`: when a pending start is stamped or released).
    pub fn try_start(&self, now: Instant) -> Result<Slot, Option<Instant>> {
        let mut s = self.lock();
        match s.next_start(now, self.limit, self.window) {
            Some(t) if t <= now => {
                s.next_id += 1;
                let id = s.next_id;
                s.pending.push(id);
                Ok(Slot { id, at: now })
            }
            other => Err(other),
        }
    }
}

impl Budget for LocalBudget {
    fn acquire(&self) -> BoxFuture<'_, Slot> {
        Box::pin(async move {
            loop {
                // Register for a change before looking, so none is missed.
                let changed = self.changed.notified();
                match self.try_start(Instant::now()) {
                    Ok(slot) => return slot,
                    Err(Some(next)) => {
                        tokio::select! {
                            () = tokio::time::sleep_until(next) => {}
                            () = changed => {}
                        }
                    }
                    Err(None) => changed.await,
                }
            }
        })
    }

    fn stamp(&self, slot: Slot, sent: Instant) {
        let mut s = self.lock();
        if let Some(i) = s.pending.iter().position(|id| *id == slot.id) {
            s.pending.swap_remove(i);
            s.record_sent(sent, self.limit);
        }
        drop(s);
        self.changed.notify_one();
    }

    fn release(&self, slot: Slot) {
        let mut s = self.lock();
        if let Some(i) = s.pending.iter().position(|id| *id == slot.id) {
            s.pending.swap_remove(i);
        }
        drop(s);
        self.changed.notify_one();
    }

    fn projected_wait(&self, k: usize) -> BoxFuture<'_, Duration> {
        let now = Instant::now();
        let s = self.lock();
        // Simulate k+1 back-to-back starts on a copy of the log, pending
        // starts taken as sent now.
        let mut sim: Vec<Instant> = s.sent.iter().copied().collect();
        sim.extend(std::iter::repeat_n(now, s.pending.len()));
        let mut t = now;
        for _ in 0..=k {
            let mut next = t;
            if let Some(p) = s.paused_until {
                next = next.max(p);
            }
            if sim.len() >= self.limit {
                next = next.max(sim[sim.len() - self.limit] + self.window);
            }
            sim.push(next);
            t = next;
        }
        drop(s);
        Box::pin(std::future::ready(t.saturating_duration_since(now)))
    }

    fn pause(&self, until: Instant) -> BoxFuture<'_, ()> {
        self.pause_until(until);
        Box::pin(std::future::ready(()))
    }
}

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

struct Inner {
    waiters: Mutex<VecDeque<Waiter>>,
    wake: Arc<Notify>,
    budget: Arc<dyn Budget>,
    max_wait: Duration,
    depth: Option<prometheus_client::metrics::gauge::Gauge>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl Inner {
    fn waiters(&self) -> std::sync::MutexGuard<'_, VecDeque<Waiter>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_depth(&self, q: &VecDeque<Waiter>) {
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
        let inner = Arc::new(Inner {
            waiters: Mutex::new(VecDeque::new()),
            wake: Arc::new(Notify::new()),
            budget,
            max_wait,
            depth,
        });
        tokio::spawn(dispatch(Arc::downgrade(&inner)));
        Queue { inner }
    }

    /// Waits for a turn to start one upstream request.
    ///
    /// Dropping the future gives the place back.
    ///
    /// # Errors
    /// [`Full`] at once when the expected start lies past `max_wait`.
    pub async fn acquire(&self) -> Result<Grant, Full> {
        let enqueued = Instant::now();
        let ahead = {
            let mut q = self.inner.waiters();
            q.retain(|w| !w.tx.is_closed());
            q.len()
        };
        let expected = self.inner.budget.projected_wait(ahead).await;
        if expected > self.inner.max_wait {
            return Err(Full { expected });
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.inner.waiters();
            q.push_back(Waiter { enqueued, tx });
            self.inner.set_depth(&q);
        }
        self.inner.wake.notify_one();
        // The dispatcher only drops a sender when the queue itself is gone.
        rx.await.map_err(|_| Full {
            expected: self.inner.max_wait,
        })
    }

    /// Pauses every start until `until` (an upstream 429 with its `Retry-After`).
    pub async fn pause(&self, until: Instant) {
        self.inner.budget.pause(until).await;
        self.inner.wake.notify_one();
    }

    /// Live waiters right now.
    pub fn depth(&self) -> usize {
        let q = self.inner.waiters();
        q.iter().filter(|w| !w.tx.is_closed()).count()
    }
}

async fn dispatch(inner: std::sync::Weak<Inner>) {
    loop {
        let Some(inner) = inner.upgrade() else { return };
        let has_live = {
            let mut q = inner.waiters();
            while q.front().is_some_and(|w| w.tx.is_closed()) {
                q.pop_front();
            }
            inner.set_depth(&q);
            !q.is_empty()
        };
        if !has_live {
            // Hold no strong reference while idle: dropping the last `Queue`
            // wakes us (see `Drop for Inner`) and the upgrade above fails.
            // `notify_one` stores a permit, so a wake between the check and
            // here is not lost.
            let wake = Arc::clone(&inner.wake);
            drop(inner);
            wake.notified().await;
            continue;
        }
        let slot = inner.budget.acquire().await;
        let mut grant = Some(Grant {
            budget: Arc::clone(&inner.budget),
            slot,
            sent: false,
            waited: Duration::ZERO,
        });
        {
            let mut q = inner.waiters();
            while let Some(w) = q.pop_front() {
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
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_steady_never_exceeds_the_window() {
        let budget = Arc::new(LocalBudget::new(12, Duration::from_millis(1020)));
        let q = Queue::start(budget, Duration::from_secs(60), None);
        let t0 = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..36 {
            let q = q.clone();
            handles.push(tokio::spawn(async move {
                q.acquire().await.map(|mut g| {
                    g.sent();
                    g.at()
                })
            }));
            tokio::task::yield_now().await;
        }
        let mut at = Vec::new();
        for h in handles {
            at.push(h.await.expect("join").expect("granted") - t0);
        }
        // 12 at once, 12 at 1.02 s, 12 at 2.04 s: full rate, never more.
        assert!(at[..12].iter().all(|d| *d < Duration::from_millis(1)));
        assert!(
            at[12..24]
                .iter()
                .all(|d| *d >= Duration::from_millis(1020) && *d < Duration::from_millis(1022))
        );
        assert!(
            at[24..]
                .iter()
                .all(|d| *d >= Duration::from_millis(2040) && *d < Duration::from_millis(2042))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_at_once_past_max_wait() {
        let budget = Arc::new(LocalBudget::new(1, Duration::from_secs(10)));
        let q = Queue::start(budget, Duration::from_secs(5), None);
        q.acquire().await.expect("first is free").sent();
        let t = Instant::now();
        let r = q.acquire().await;
        assert_eq!(Instant::now(), t, "refused without waiting");
        assert_eq!(r.expect_err("full").expected, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_leaves_gives_its_place_back() {
        let budget = Arc::new(LocalBudget::new(1, Duration::from_secs(1)));
        let q = Queue::start(budget, Duration::from_secs(5), None);
        let t0 = Instant::now();
        q.acquire().await.expect("first is free").sent();
        let (q2, q3) = (q.clone(), q.clone());
        let second = tokio::spawn(async move {
            q2.acquire().await.map(|mut g| {
                g.sent();
                g.at()
            })
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let third = tokio::spawn(async move {
            q3.acquire().await.map(|mut g| {
                g.sent();
                g.at()
            })
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(q.depth(), 2);
        second.abort();
        let at = third.await.expect("join").expect("granted");
        assert_eq!(
            at - t0,
            Duration::from_secs(1),
            "the third took the second's slot"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_counts_from_when_it_is_sent() {
        let budget = Arc::new(LocalBudget::new(2, Duration::from_secs(1)));
        let q = Queue::start(budget, Duration::from_secs(10), None);
        let t0 = Instant::now();
        let mut a = q.acquire().await.expect("a");
        let mut b = q.acquire().await.expect("b");
        // `a` needs 300 ms to connect before it is sent; `b` is sent at once.
        b.sent();
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.sent();
        let c = q.acquire().await.expect("c");
        assert_eq!(c.at() - t0, Duration::from_secs(1), "after b + 1 s");
        drop(c); // never sent: given back
        let mut d = q.acquire().await.expect("d");
        d.sent();
        assert_eq!(
            d.at() - t0,
            Duration::from_secs(1),
            "c's start was given back"
        );
        let e = q.acquire().await.expect("e");
        assert_eq!(
            e.at() - t0,
            Duration::from_millis(1300),
            "after a's send + 1 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_start() {
        let budget = Arc::new(LocalBudget::new(12, Duration::from_secs(1)));
        let q = Queue::start(budget, Duration::from_secs(5), None);
        let t0 = Instant::now();
        q.pause(t0 + Duration::from_secs(2)).await;
        let mut g = q.acquire().await.expect("granted after the pause");
        g.sent();
        assert_eq!(g.at() - t0, Duration::from_secs(2));
        q.pause(Instant::now() + Duration::from_secs(9)).await;
        assert_eq!(
            q.acquire().await.expect_err("past max wait").expected,
            Duration::from_secs(9)
        );
    }
}
