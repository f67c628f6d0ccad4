//! [`LocalBudget`]: the exact sliding-window budget of one process.
//!
//! It remembers the last N sends; the next start may begin no earlier than
//! the N-th last one plus the window. It has no clock of its own (tokio's, so
//! tests run under a paused clock).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::budget::{BoxFuture, Budget, Slot, project};

/// When a capped attempt cannot tell when room comes (starts still pending).
const RETRY_SOON: Duration = Duration::from_millis(20);

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
        self.try_start_within(now, self.limit)
    }

    /// As [`LocalBudget::try_start`], keeping every window within `cap`.
    pub fn try_start_within(&self, now: Instant, cap: usize) -> Result<Slot, Option<Instant>> {
        let cap = cap.min(self.limit);
        if cap == 0 {
            return Err(None);
        }
        let mut s = self.lock();
        match s.next_start(now, cap, self.window) {
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

    fn try_acquire(&self, cap: usize) -> BoxFuture<'_, Result<Slot, Duration>> {
        let now = Instant::now();
        let r = self.try_start_within(now, cap).map_err(|next| match next {
            Some(t) => t.saturating_duration_since(now),
            // A pending start must be stamped or released first: soon.
            None => RETRY_SOON,
        });
        Box::pin(std::future::ready(r))
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
        // Pending starts are taken as sent now.
        let mut sent: Vec<Instant> = s.sent.iter().copied().collect();
        sent.extend(std::iter::repeat_n(now, s.pending.len()));
        let paused = s.paused_until.unwrap_or(now);
        drop(s);
        let t = project(now, paused, sent, self.limit, self.window, k);
        Box::pin(std::future::ready(t.saturating_duration_since(now)))
    }

    fn pause(&self, until: Instant) -> BoxFuture<'_, ()> {
        self.pause_until(until);
        Box::pin(std::future::ready(()))
    }
}
