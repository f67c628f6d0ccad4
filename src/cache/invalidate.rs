//! Invalidation: what a write or Altur's webhook changed is dropped from the
//! cache, and reads that were in flight across the change are fenced off.
//!
//! A cached read belongs to the *group* named by its path: a detail entry
//! (`/campaigns/7`) is a group of one; a list's entries, whatever their
//! query (`/campaigns/7/contacts?status=queue`, `...?pageIndex=3`), share
//! their path's group. A write names the groups it changed.
//!
//! One clock, the *epoch*, orders sends and invalidations: every upstream
//! send reads it, every invalidation advances it. Then
//!
//! - a detail entry is removed from moka; a list group's shared cell is set
//!   to the invalidation's epoch, and a list entry is valid only while it was
//!   sent after its cell's epoch (one atomic load on a hit of a list);
//! - an answer whose request was sent at or before an invalidation of its
//!   group is not stored: the store checks, under the same lock the
//!   invalidation takes, the group's last invalidation (kept for as long as a
//!   request can be in flight);
//! - a flight started before an invalidation of its group is not joined.
//!
//! So a write's own next read on this replica never sees pre-write data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A list group's shared cell: the epoch of its last invalidation.
pub type ListFence = Arc<AtomicU64>;

/// The epoch clock and the groups recently invalidated.
pub struct Fences {
    epoch: AtomicU64,
    /// Every send at or before this epoch is fenced (everything was dropped).
    floor: AtomicU64,
    state: Mutex<State>,
    /// How long an invalidation is remembered: longer than any request can
    /// be in flight (the upstream timeout, with room).
    horizon: Duration,
}

#[derive(Default)]
struct State {
    /// Group -> epoch and time of its last invalidation.
    recent: HashMap<Box<str>, (u64, Instant)>,
    /// List group -> the cell its entries hold.
    lists: HashMap<Box<str>, ListFence>,
    /// Size of `lists` after its last pruning.
    lists_kept: usize,
}

impl std::fmt::Debug for Fences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fences")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Fences {
    /// `longest_flight`: the longest a request can be in flight (upstream
    /// timeout); invalidations are remembered well past it.
    pub fn new(longest_flight: Duration) -> Fences {
        Fences {
            epoch: AtomicU64::new(1),
            floor: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            horizon: longest_flight + Duration::from_secs(30),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Each critical section is a few map operations: a poisoned lock
        // still holds consistent maps.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The epoch of a send happening now.
    pub fn now(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether `group` was invalidated at or after `epoch`.
    pub fn fenced(&self, group: &str, epoch: u64) -> bool {
        epoch <= self.floor.load(Ordering::Acquire)
            || self
                .state()
                .recent
                .get(group)
                .is_some_and(|(at, _)| *at >= epoch)
    }

    /// Runs `store` (given the list cell when `list`) unless `group` was
    /// invalidated at or after `sent`; `None` when fenced. Under the lock
    /// an invalidation takes, so none can slip between check and store.
    pub fn store_unless_fenced<R>(
        &self,
        group: &str,
        sent: u64,
        list: bool,
        store: impl FnOnce(Option<ListFence>) -> R,
    ) -> Option<R> {
        let mut s = self.state();
        if sent <= self.floor.load(Ordering::Acquire)
            || s.recent.get(group).is_some_and(|(at, _)| *at >= sent)
        {
            return None;
        }
        let cell = list.then(|| {
            if s.lists.len() > 2 * s.lists_kept + 64 {
                // Cells no entry holds any more.
                s.lists.retain(|_, c| Arc::strong_count(c) > 1);
                s.lists_kept = s.lists.len();
            }
            Arc::clone(
                s.lists
                    .entry(Box::from(group))
                    .or_insert_with(|| Arc::new(AtomicU64::new(0))),
            )
        });
        Some(store(cell))
    }

    /// Invalidates `groups`: advances the epoch, fences each group, and
    /// calls `drop` with each (to remove its detail entry), all under the
    /// lock. Returns the invalidation's epoch.
    pub fn invalidate<S: AsRef<str>>(&self, groups: &[S], drop: impl Fn(&str)) -> u64 {
        let mut s = self.state();
        let at = self.epoch.fetch_add(1, Ordering::AcqRel);
        let now = Instant::now();
        let horizon = self.horizon;
        s.recent
            .retain(|_, (_, when)| now.saturating_duration_since(*when) < horizon);
        for g in groups {
            let g = g.as_ref();
            s.recent.insert(Box::from(g), (at, now));
            if let Some(cell) = s.lists.get(g) {
                cell.fetch_max(at, Ordering::AcqRel);
            }
            drop(g);
        }
        at
    }
}

impl Fences {
    /// Fences every group at once (the caller drops every entry), under the
    /// lock; returns the epoch.
    pub fn invalidate_all(&self, drop_all: impl FnOnce()) -> u64 {
        let _s = self.state();
        let at = self.epoch.fetch_add(1, Ordering::AcqRel);
        self.floor.fetch_max(at, Ordering::AcqRel);
        drop_all();
        at
    }
}

/// Whether an entry sent at `sent` still stands against its list's cell.
pub fn valid(sent: u64, fence: Option<&ListFence>) -> bool {
    fence.is_none_or(|f| sent > f.load(Ordering::Acquire))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_before_an_invalidation_is_fenced_and_one_after_is_not() {
        let f = Fences::new(Duration::from_secs(10));
        let before = f.now();
        f.invalidate(&["/campaigns/7"], |_| {});
        let after = f.now();
        assert!(f.fenced("/campaigns/7", before));
        assert!(!f.fenced("/campaigns/7", after));
        assert!(!f.fenced("/campaigns/8", before));
        assert_eq!(
            f.store_unless_fenced("/campaigns/7", before, false, |_| 1),
            None
        );
        assert_eq!(
            f.store_unless_fenced("/campaigns/7", after, false, |_| 1),
            Some(1)
        );
    }

    #[test]
    fn list_entries_fall_with_their_cell() {
        let f = Fences::new(Duration::from_secs(10));
        let sent = f.now();
        let cell = f
            .store_unless_fenced("/campaigns", sent, true, |c| c)
            .flatten()
            .expect("a cell");
        assert!(valid(sent, Some(&cell)));
        f.invalidate(&["/campaigns"], |_| {});
        assert!(!valid(sent, Some(&cell)), "the stored page is gone");
        let later = f.now();
        let again = f
            .store_unless_fenced("/campaigns", later, true, |c| c)
            .flatten()
            .expect("a cell");
        assert!(Arc::ptr_eq(&cell, &again), "one cell per list");
        assert!(valid(later, Some(&again)));
    }
}
