//! What decides when an upstream request may start: the [`Budget`] trait, the
//! [`Slot`] it hands out, and the projection both budgets use to estimate a wait.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

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
    /// One attempt, without waiting, at a start that keeps every window
    /// within `cap` starts (`cap` below the limit: room kept for others).
    /// `Err`: how long until it is worth asking again.
    fn try_acquire(&self, cap: usize) -> BoxFuture<'_, Result<Slot, Duration>>;
    /// The slot's request was sent at `sent`.
    fn stamp(&self, slot: Slot, sent: Instant);
    /// The slot's request was never sent: give the start back.
    fn release(&self, slot: Slot);
    /// Expected wait before the `k`-th next start (0-based) if starts run back to back.
    fn projected_wait(&self, k: usize) -> BoxFuture<'_, Duration>;
    /// Stops all starts until `until` (an upstream 429 pauses everyone: the budget is shared).
    fn pause(&self, until: Instant) -> BoxFuture<'_, ()>;
}

/// When the `k`-th next start (0-based) could happen if starts ran back to
/// back from `now`, given the sends that matter (ascending; pending starts
/// counted as sent `now`), a pause lasting until `paused` (`now` for none),
/// at most `limit` starts in any `window`. Shared by the local budget
/// (instants) and the Redis one (microseconds of Redis's clock).
pub fn project<T, D>(now: T, paused: T, mut sent: Vec<T>, limit: usize, window: D, k: usize) -> T
where
    T: Copy + Ord + std::ops::Add<D, Output = T>,
    D: Copy,
{
    let mut t = now;
    for _ in 0..=k {
        let mut next = t.max(paused);
        if sent.len() >= limit {
            next = next.max(sent[sent.len() - limit] + window);
        }
        sent.push(next);
        t = next;
    }
    t
}
