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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The lane (and metric label) of requests without a caller token.
pub const ANONYMOUS: &str = "anonymous";

/// `1 / weight` in tag units; weights are 1-100, so rounding is negligible.
const SCALE: u128 = 1 << 40;

/// A lane: one caller's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The caller's name (the metric label).
    pub name: Arc<str>,
    /// Its share when callers compete, 1-100.
    pub weight: u32,
}

impl Lane {
    pub fn new(name: Arc<str>, weight: u32) -> Lane {
        Lane {
            name,
            weight: weight.max(1),
        }
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
}

impl<W> Default for Schedule<W> {
    fn default() -> Self {
        Schedule {
            vtime: 0,
            seq: 0,
            lanes: HashMap::new(),
            queue: BTreeMap::new(),
        }
    }
}

impl<W> Schedule<W> {
    /// The tag a request of `lane` would get now.
    pub fn tag_for(&self, lane: &Lane) -> u128 {
        let last = self.lanes.get(&lane.name).copied().unwrap_or(0);
        self.vtime.max(last) + SCALE / u128::from(lane.weight.max(1))
    }

    /// Live requests that would start before one of `lane` arriving now.
    pub fn ahead(&self, lane: &Lane, live: impl Fn(&W) -> bool) -> usize {
        let tag = self.tag_for(lane);
        self.queue
            .range(..=(tag, u64::MAX))
            .filter(|(_, w)| live(&w.item))
            .count()
    }

    /// Queues a request of `lane`.
    pub fn push(&mut self, lane: &Lane, item: W) {
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

    /// Takes the next live request (dropping dead ones on the way) and
    /// advances the virtual time to its tag.
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

    /// Drops requests that are no longer wanted.
    pub fn retain(&mut self, live: impl Fn(&W) -> bool) {
        self.queue.retain(|_, w| live(&w.item));
    }

    /// Requests waiting (live or not).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
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
