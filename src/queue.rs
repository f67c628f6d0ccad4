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

/// A boxed future, so budgets can be trait objects (a Redis one does I/O).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Decides when upstream requests may start. Only the dispatcher calls
/// [`Budget::acquire`], one at a time.
pub trait Budget: Send + Sync + 'static {
    /// Waits until one more start is allowed, records it, and returns its instant.
    fn acquire(&self) -> BoxFuture<'_, Instant>;
    /// Gives back a start recorded by `acquire` that no request used.
    fn release(&self, granted: Instant);
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
}

#[derive(Debug, Default)]
struct LocalState {
    /// The last `limit` starts, oldest first.
    starts: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl LocalState {
    /// Earliest instant, not before `now`, at which one more start keeps every
    /// window of `window` within `limit`.
    fn next_start(&self, now: Instant, limit: usize, window: Duration) -> Instant {
        let mut t = now;
        if let Some(p) = self.paused_until {
            t = t.max(p);
        }
        if self.starts.len() >= limit {
            t = t.max(self.starts[self.starts.len() - limit] + window);
        }
        t
    }
}

impl LocalBudget {
    /// At most `limit` starts in any sliding `window`.
    pub fn new(limit: usize, window: Duration) -> LocalBudget {
        LocalBudget {
            limit: limit.max(1),
            window,
            state: Mutex::new(LocalState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LocalState> {
        // A panic while holding this lock cannot leave the deque inconsistent
        // (every mutation is a single push/pop), so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a start at `now` if one is allowed now, else returns when one will be.
    pub fn try_start(&self, now: Instant) -> Result<Instant, Instant> {
        let mut s = self.lock();
        let next = s.next_start(now, self.limit, self.window);
        if next > now {
            return Err(next);
        }
        s.starts.push_back(now);
        while s.starts.len() > self.limit {
            s.starts.pop_front();
        }
        Ok(now)
    }
}

impl Budget for LocalBudget {
    fn acquire(&self) -> BoxFuture<'_, Instant> {
        Box::pin(async move {
            loop {
                match self.try_start(Instant::now()) {
                    Ok(at) => return at,
                    Err(next) => tokio::time::sleep_until(next).await,
                }
            }
        })
    }

    fn release(&self, granted: Instant) {
        let mut s = self.lock();
        if let Some(i) = s.starts.iter().rposition(|t| *t == granted) {
            s.starts.remove(i);
        }
    }

    fn projected_wait(&self, k: usize) -> BoxFuture<'_, Duration> {
        let now = Instant::now();
        let s = self.lock();
        // Simulate k+1 back-to-back starts on a copy of the log.
        let mut sim: Vec<Instant> = s.starts.iter().copied().collect();
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
        let mut s = self.lock();
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        Box::pin(std::future::ready(()))
    }
}

/// A granted upstream start.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    /// When the start was granted.
    pub at: Instant,
    /// How long the request waited in the queue.
    pub waited: Duration,
}

/// Refused at once: the expected start lies past `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    /// The expected wait, for `Retry-After`.
    pub expected: Duration,
}

struct Waiter {
    tx: oneshot::Sender<Instant>,
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
            q.push_back(Waiter { tx });
            self.inner.set_depth(&q);
        }
        self.inner.wake.notify_one();
        match rx.await {
            Ok(at) => Ok(Grant {
                at,
                waited: at.saturating_duration_since(enqueued),
            }),
            // The dispatcher only drops a sender when the queue itself is gone.
            Err(_) => Err(Full {
                expected: self.inner.max_wait,
            }),
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
        let at = inner.budget.acquire().await;
        let mut granted = false;
        {
            let mut q = inner.waiters();
            while let Some(w) = q.pop_front() {
                if w.tx.send(at).is_ok() {
                    granted = true;
                    break;
                }
            }
            inner.set_depth(&q);
        }
        if !granted {
            // Everyone left while we waited for the budget: give the start back.
            inner.budget.release(at);
        }
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
            handles.push(tokio::spawn(async move { q.acquire().await.map(|g| g.at) }));
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
        q.acquire().await.expect("first is free");
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
        q.acquire().await.expect("first is free");
        let (q2, q3) = (q.clone(), q.clone());
        let second = tokio::spawn(async move { q2.acquire().await.map(|g| g.at) });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let third = tokio::spawn(async move { q3.acquire().await.map(|g| g.at) });
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
    async fn a_pause_holds_every_start() {
        let budget = Arc::new(LocalBudget::new(12, Duration::from_secs(1)));
        let q = Queue::start(budget, Duration::from_secs(5), None);
        let t0 = Instant::now();
        q.pause(t0 + Duration::from_secs(2)).await;
        let g = q.acquire().await.expect("granted after the pause");
        assert_eq!(g.at - t0, Duration::from_secs(2));
        q.pause(Instant::now() + Duration::from_secs(9)).await;
        assert_eq!(
            q.acquire().await.expect_err("past max wait").expected,
            Duration::from_secs(9)
        );
    }
}
