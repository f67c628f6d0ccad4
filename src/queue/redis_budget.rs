//! The fleet's shared budget: one sliding window in Redis for every replica
//! (`rate_limit.backend = "redis"`), with a local fallback while Redis is away.
//!
//! # The window in Redis
//!
//! Two keys: a sorted set of upstream starts (member `<replica>:<slot>`, score
//! the start in microseconds of *Redis's* clock, from `TIME` inside the
//! scripts, so replica clocks never matter) and a string holding the time,
//! also in Redis microseconds, until which an upstream 429 paused the fleet.
//!
//! - `acquire` runs one script: if a pause is in force it answers the time
//!   left; else it drops starts older than the window, and if fewer than the
//!   limit remain it adds this start and answers "go". Otherwise it answers
//!   the wait until the oldest start that matters leaves the window, and the
//!   dispatcher sleeps exactly that long (or until this replica stamps or
//!   releases a slot) and asks again: no busy polling.
//! - A granted start is *pending* until its request is really sent (see
//!   [`Budget`]): it is added with a score in the future (grant + lease), so
//!   it stays in every window and sorts last; a blocking pending start counts
//!   as sent "now", so the answer is a full window. The lease (the upstream
//!   timeout plus a second) only matters if a replica dies between grant and
//!   send: its slot comes back after lease + window, not never.
//! - `stamp` re-scores the member to its send time, converted to Redis time
//!   as the grant's Redis time plus the local time elapsed since the grant
//!   (the grant instant is taken *before* the script ran, so the conversion
//!   errs late, which keeps the count conservative). `release` removes it.
//!   Both are plain atomic commands sent by a writer task, so `stamp` and
//!   `release` never block.
//! - `projected_wait(k)` is one read-only script returning Redis's now, the
//!   pause and the last `limit` starts in the window; the k+1 back-to-back
//!   starts are simulated here. It sees the whole fleet's starts but only this
//!   replica's queue: other replicas' waiters are not in Redis, so under a
//!   fleet-wide backlog a caller can wait longer than the estimate.
//! - `pause` writes the resume time (keeping a later one) and also pauses the
//!   local budget, so the pause survives a switch to the fallback.
//!
//! This is exact in the same sense as [`LocalBudget`]: at most `limit` sends
//! in any window of 1 s + margin, fleet-wide, with no burst allowance.
//!
//! # When Redis is unreachable
//!
//! Every operation has a short timeout ([`crate::redis_conn::OP_TIMEOUT`]).
//! On the first failure the replica switches to its [`LocalBudget`] at
//! `fallback_requests_per_second` (gauge `rate_limit_fallback` = 1, a note in
//! `/readyz`, one warning). The limit holds across the switches:
//!
//! - *Into the fallback.* The local budget has seen every start of this
//!   replica (shared grants are tracked there as pending and recorded when
//!   stamped), but not the other replicas' shared starts of the last window,
//!   which may already fill the budget; seeding with our own starts alone
//!   would allow `limit + replicas * fallback` in a window. So the fallback
//!   starts with a *quiet window*: no start until one window after the
//!   failure was seen. Every shared start was granted before Redis died, so
//!   none shares a window with a fallback start (only a start whose send lags
//!   its grant across the whole window could; sends follow grants by a
//!   connection set-up at most).
//! - *Back to shared.* A prober pings with backoff (100 ms doubling to
//!   [`PROBE_MAX`]). When Redis answers, the replica first replays the stamps
//!   and releases it could not write, then *rejoins*: for [`PROBE_MAX`] + one
//!   window every start needs both the local fallback limit and the shared
//!   script (so it is in Redis), and only then does the shared limit alone
//!   apply. Every replica notices Redis within [`PROBE_MAX`] of its return, so
//!   by the time any replica leaves the rejoin phase, all fallback starts not
//!   recorded in Redis are older than a window. Redis may come back empty:
//!   nothing here relies on what it held.
//!
//! # What is read back
//!
//! Redis is shared, so its answers are checked ([`reply`]): a pause is cut
//! to [`crate::upstream::MAX_RETRY_AFTER`] (in Redis too, by the acquire
//! script), a start scored past the longest lease is dropped (no replica
//! records one, and it would hold a slot for ever), a key of the wrong type
//! is replaced, and a wait is never longer than the window or that pause.
//!
//! Limits of this design, written down: a network partition in which some
//! replicas reach Redis and others do not can exceed the budget by the
//! fallback rates of the cut-off replicas (they cannot know); the fallback
//! rates must add up to at most the budget (`fallback = budget / replicas`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::{BoxFuture, Budget, LocalBudget, Slot};
use crate::health::Readiness;
use crate::metrics::Metrics;
use crate::redis_conn::{self, KEY_PREFIX, RedisFailure};

mod acquire;
mod modes;
mod reply;
mod scripts;
mod tasks;

use reply::Answer;
use scripts::{ACQUIRE, PAUSE, PROJECT};
use tasks::{prober, writer};

/// Longest pause between two probes of an unreachable Redis. Every replica
/// notices Redis's return within this, which the rejoin phase relies on.
pub const PROBE_MAX: Duration = Duration::from_secs(1);
const PROBE_MIN: Duration = Duration::from_millis(100);
/// Writes kept for replay while Redis is away; older ones are dropped (their
/// pending starts expire with the lease anyway).
const MAX_UNSYNCED: usize = 4096;
/// The budget's name inside [`KEY_PREFIX`]: one Altur key, one window.
pub const BUDGET_NAME: &str = "altur";
/// The `/readyz` note key.
const NOTE: &str = "rate_limit";

/// Where this replica's starts are counted right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The shared window in Redis alone.
    Shared,
    /// Redis is unreachable: the local fallback limit alone.
    Fallback,
    /// Redis is back: both limits, until `until`, then [`Mode::Shared`].
    Rejoining { until: Instant },
}

/// A write for the writer task.
#[derive(Debug, Clone)]
enum Op {
    Stamp { member: String, score_us: i64 },
    Release { member: String },
}

struct State {
    mode: Mode,
    /// Slots that Redis holds as pending: slot id -> the grant's Redis time (µs).
    granted: HashMap<u64, i64>,
    /// Writes that failed while Redis was away, replayed when it is back.
    unsynced: VecDeque<Op>,
}

struct Inner {
    conn: ConnectionManager,
    starts_key: String,
    pause_key: String,
    limit: usize,
    window: Duration,
    lease: Duration,
    fallback_limit: usize,
    replica: String,
    local: LocalBudget,
    state: Mutex<State>,
    /// Wakes `acquire`: a stamp, release, pause or mode change of this replica.
    changed: Notify,
    /// Wakes the prober.
    down: Arc<Notify>,
    ops: mpsc::UnboundedSender<Op>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    acquire: Script,
    project: Script,
    pause: Script,
}

/// The shared budget. See the module documentation.
pub struct RedisBudget {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the connection: its URL may hold a password.
        f.debug_struct("RedisBudget")
            .field("limit", &self.inner.limit)
            .field("window", &self.inner.window)
            .field("fallback_limit", &self.inner.fallback_limit)
            .field("mode", &self.mode())
            .finish()
    }
}

/// How a [`RedisBudget`] is set up.
#[derive(Debug, Clone)]
pub struct RedisBudgetConfig {
    /// Starts allowed in any window, fleet-wide.
    pub limit: usize,
    /// 1 s + margin.
    pub window: Duration,
    /// This replica's own limit while Redis is unreachable.
    pub fallback_limit: usize,
    /// Longest a granted start may stay unsent (the upstream timeout).
    pub max_send_delay: Duration,
    /// Namespace inside [`KEY_PREFIX`]; replicas sharing a budget share it.
    pub name: String,
}

impl RedisBudget {
    /// Sets up the budget and its background tasks; connects lazily, so a
    /// Redis that is down at start-up only means starting in the fallback.
    ///
    /// # Errors
    /// A Redis URL the client cannot use.
    pub fn new(
        url: &str,
        cfg: RedisBudgetConfig,
        metrics: Arc<Metrics>,
        readiness: Arc<Readiness>,
    ) -> Result<RedisBudget, String> {
        let conn = redis_conn::connect(url)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let limit = cfg.limit.max(1);
        let fallback_limit = cfg.fallback_limit.max(1);
        let (starts_key, pause_key) = window_keys(&cfg.name);
        let inner = Arc::new(Inner {
            conn,
            starts_key,
            pause_key,
            limit,
            window: cfg.window,
            lease: cfg.max_send_delay + Duration::from_secs(1),
            fallback_limit,
            replica: replica_id(),
            local: LocalBudget::new(fallback_limit, cfg.window),
            state: Mutex::new(State {
                mode: Mode::Shared,
                granted: HashMap::new(),
                unsynced: VecDeque::new(),
            }),
            changed: Notify::new(),
            down: Arc::new(Notify::new()),
            ops: tx,
            metrics,
            readiness,
            acquire: Script::new(ACQUIRE),
            project: Script::new(PROJECT),
            pause: Script::new(PAUSE),
        });
        inner.metrics.rate_limit_fallback.set(0);
        tokio::spawn(writer(Arc::downgrade(&inner), rx));
        tokio::spawn(prober(Arc::downgrade(&inner), Arc::clone(&inner.down)));
        Ok(RedisBudget { inner })
    }

    /// Where starts are counted right now.
    pub fn mode(&self) -> Mode {
        self.inner.state().mode
    }
}

/// The window's two keys, `(starts, pause)`. Every replica of a fleet, old
/// and new versions alike during a rolling deploy, must compute the same
/// strings, or the fleet runs two windows and spends twice the budget.
fn window_keys(name: &str) -> (String, String) {
    // The braces make both keys one cluster hash slot, as a script needs.
    let base = format!("{KEY_PREFIX}:rl:{{{name}}}");
    (format!("{base}:starts"), format!("{base}:pause"))
}

/// A random id for this process, so members of different replicas never clash.
fn replica_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:016x}", h.finish())
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Wait (µs) before the `k`-th next start if starts run back to back, given
/// the starts in the window (ascending, pending ones as `now`) and the pause.
fn project(now: i64, paused: i64, sent: Vec<i64>, limit: usize, window: i64, k: usize) -> i64 {
    super::budget::project(now, paused, sent, limit, window, k) - now
}

#[cfg(test)]
mod tests {
    use super::{project, window_keys};

    #[test]
    fn the_window_keys_are_the_ones_every_deployed_replica_uses() {
        // Pinned: a rename splits a rolling fleet into two windows (24 req/s).
        assert_eq!(
            window_keys(super::BUDGET_NAME),
            (
                "altur-gateway:v1:rl:{altur}:starts".to_string(),
                "altur-gateway:v1:rl:{altur}:pause".to_string()
            )
        );
    }

    #[test]
    fn projection_follows_the_window() {
        // Limit 2, window 1000: starts at 0 and 500, now 600.
        assert_eq!(project(600, 0, vec![0, 500], 2, 1000, 0), 400);
        assert_eq!(project(600, 0, vec![0, 500], 2, 1000, 1), 900);
        assert_eq!(project(600, 0, vec![0, 500], 2, 1000, 2), 1400);
        // Room now; a pause pushes everything back.
        assert_eq!(project(600, 0, vec![500], 2, 1000, 0), 0);
        assert_eq!(project(600, 900, vec![500], 2, 1000, 0), 300);
        assert_eq!(project(600, 900, vec![500], 2, 1000, 1), 900);
    }
}
