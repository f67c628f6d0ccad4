//! Who starts next: first come, first served within a lane (one caller); across
//! lanes with requests waiting, starts shared in proportion to their weights.
//!
//! Self-clocked fair queueing (Golestani, 1994): each waiting request carries
//! a tag, its lane's previous tag (or the system's virtual time, whichever is
//! later) plus `1 / weight`; the smallest tag starts next, ties in arrival
//! order; the virtual time is the tag of the request that started last. So:
//!
//! - within a lane tags only grow: first come, first served;
//! - two backlogged lanes start in the ratio of their weights, each within
//!   about one request of its exact share at any moment;
//! - a lane that had nothing waiting starts from the virtual time, taking no
//!   credit for its idle time (a caller with nothing waiting takes no share);
//! - with a single lane the order is exactly arrival order, and the number of
//!   requests ahead of a new one is the queue's length, as a FIFO's.
//!
//! The tag also gives the refusal estimate: the requests ahead of a new one
//! are those with a smaller tag, so a caller flooding its own lane sees its
//! own backlog ahead of it, and another caller does not.
//!
//! Background refreshes wait apart, first come first served, and start only
//! when no caller's request waits (the dispatcher also keeps them off the
//! last `reserve_for_callers` starts of a window).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// The lane (and metric label) of requests without a caller token.
pub const ANONYMOUS: &str = "anonymous";
/// The lane (and metric label) of background refreshes.
pub const BACKGROUND: &str = "background";

/// Whose need a request serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A caller waits for it.
    Interactive,
    /// A refresh no one waits for (stale-while-revalidate, refresh-ahead).
    Background,
}

/// `1 / weight` in tag units; weights are 1-100, so rounding is negligible.
const SCALE: u128 = 1 << 40;

/// A lane: one caller's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The caller's name (the metric label).
    pub name: Arc<str>,
    /// Its share when callers compete, 1-100.
    pub weight: u32,
    pub class: Class,
}

impl Lane {
    pub fn new(name: Arc<str>, weight: u32) -> Lane {
        Lane {
            name,
            weight: weight.max(1),
            class: Class::Interactive,
        }
    }

    /// The lane of background refreshes.
    pub fn background() -> Lane {
        Lane {
            name: Arc::from(BACKGROUND),
            weight: 1,
            class: Class::Background,
        }
    }

    pub fn is_background(&self) -> bool {
        self.class == Class::Background
    }

    /// The lane of requests without a caller token.
    pub fn anonymous() -> Lane {
        Lane::new(Arc::from(ANONYMOUS), 1)
    }
}

struct Waiting<W> {
    lane: Arc<str>,
    item: W,
}

/// The waiting requests, ordered by tag.
pub struct Schedule<W> {
    vtime: u128,
    seq: u64,
    /// Each lane's latest tag; a lane whose tag the virtual time has passed
    /// needs no entry (it would start from the virtual time anyway).
    lanes: HashMap<Arc<str>, u128>,
    queue: BTreeMap<(u128, u64), Waiting<W>>,
    background: VecDeque<W>,
}

impl<W> Default for Schedule<W> {
    fn default() -> Self {
        Schedule {
            vtime: 0,
            seq: 0,
            lanes: HashMap::new(),
            queue: BTreeMap::new(),
            background: VecDeque::new(),
        }
    }
}

impl<W> Schedule<W> {
    /// The tag a request of `lane` would get now.
    pub fn tag_for(&self, lane: &Lane) -> u128 {
        let last = self.lanes.get(&lane.name).copied().unwrap_or(0);
        self.vtime.max(last) + SCALE / u128::from(lane.weight.max(1))
    }

    /// Live callers' requests that would start before one of `lane`
    /// arriving now (background refreshes never start before a caller's).
    pub fn ahead(&self, lane: &Lane, live: impl Fn(&W) -> bool) -> usize {
        let tag = self.tag_for(lane);
        self.queue
            .range(..=(tag, u64::MAX))
            .filter(|(_, w)| live(&w.item))
            .count()
    }

    /// Queues a request of `lane`.
    pub fn push(&mut self, lane: &Lane, item: W) {
        if lane.is_background() {
            self.background.push_back(item);
            return;
        }
        let tag = self.tag_for(lane);
        self.lanes.insert(Arc::clone(&lane.name), tag);
        self.seq += 1;
        self.queue.insert(
            (tag, self.seq),
            Waiting {
                lane: Arc::clone(&lane.name),
                item,
            },
        );
    }

    /// Takes the next live caller's request (dropping dead ones on the way)
    /// and advances the virtual time to its tag.
    pub fn pop(&mut self, live: impl Fn(&W) -> bool) -> Option<W> {
        while let Some(((tag, _), w)) = self.queue.pop_first() {
            if live(&w.item) {
                self.vtime = tag;
                self.prune();
                return Some(w.item);
            }
        }
        None
    }

    /// Takes the next live background refresh.
    pub fn pop_background(&mut self, live: impl Fn(&W) -> bool) -> Option<W> {
        while let Some(w) = self.background.pop_front() {
            if live(&w) {
                return Some(w);
            }
        }
        None
    }

    /// Drops requests that are no longer wanted.
    pub fn retain(&mut self, live: impl Fn(&W) -> bool) {
        self.queue.retain(|_, w| live(&w.item));
        self.background.retain(|w| live(w));
    }

    /// Requests waiting (live or not), callers' and background.
    pub fn len(&self) -> usize {
        self.queue.len() + self.background.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a caller's request waits (after `retain`, any is live).
    pub fn has_callers(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Live requests waiting, by lane.
    pub fn depth_by_lane(&self, live: impl Fn(&W) -> bool) -> Vec<(Arc<str>, usize)> {
        let mut depth: HashMap<&Arc<str>, usize> = HashMap::new();
        for w in self.queue.values().filter(|w| live(&w.item)) {
            *depth.entry(&w.lane).or_default() += 1;
        }
        let mut out: Vec<_> = depth.into_iter().map(|(k, v)| (Arc::clone(k), v)).collect();
        out.sort();
        out
    }

    /// Forgets lanes the virtual time has passed: bounded by the callers
    /// with a tag still ahead.
    fn prune(&mut self) {
        if self.lanes.len() > 2 * self.queue.len() + 16 {
            let vtime = self.vtime;
            self.lanes.retain(|_, last| *last > vtime);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(name: &str, weight: u32) -> Lane {
        Lane::new(Arc::from(name), weight)
    }

    #[test]
    fn one_lane_is_first_come_first_served() {
        let mut s = Schedule::default();
        let a = lane("a", 3);
        for i in 0..10 {
            assert_eq!(s.ahead(&a, |_| true), i);
            s.push(&a, i);
        }
        let order: Vec<_> = std::iter::from_fn(|| s.pop(|_| true)).collect();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn two_backlogged_lanes_share_by_weight_and_a_newcomer_goes_first() {
        let mut s = Schedule::default();
        let (a, b) = (lane("a", 1), lane("b", 3));
        for i in 0..40 {
            s.push(&a, ('a', i));
        }
        // b arrives behind a's 40: only about one of them is ahead of it.
        assert!(s.ahead(&b, |_| true) <= 1);
        for i in 0..40 {
            s.push(&b, ('b', i));
        }
        let first: Vec<char> = (0..20)
            .filter_map(|_| s.pop(|_| true))
            .map(|x| x.0)
            .collect();
        let bs = first.iter().filter(|c| **c == 'b').count();
        assert!((14..=16).contains(&bs), "3:1 of 20 is 15 for b: {first:?}");
    }

    #[test]
    fn background_waits_behind_every_caller() {
        let mut s = Schedule::default();
        s.push(&Lane::background(), "refresh");
        s.push(&lane("a", 1), "a1");
        assert_eq!(
            s.ahead(&lane("b", 1), |_| true),
            1,
            "the refresh is not ahead of b"
        );
        assert!(s.has_callers());
        assert_eq!(s.pop(|_| true), Some("a1"));
        assert_eq!(s.pop(|_| true), None, "pop takes callers only");
        assert_eq!(s.pop_background(|_| true), Some("refresh"));
    }

    #[test]
    fn dead_requests_are_skipped_and_not_counted() {
        let mut s = Schedule::default();
        let a = lane("a", 1);
        for i in 0..5 {
            s.push(&a, i);
        }
        let live = |i: &i32| i % 2 == 0;
        assert_eq!(s.ahead(&a, live), 3);
        assert_eq!(s.pop(live), Some(0));
        assert_eq!(s.pop(live), Some(2));
        assert_eq!(s.depth_by_lane(live), vec![(Arc::from("a"), 1)]);
    }
}
