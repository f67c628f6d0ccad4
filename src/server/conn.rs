//! One connection's watchdog: what the connection is doing (waiting for a
//! request head, running a handler, writing a response, idle), learnt from the
//! service, the response body and the socket, and the future that closes it
//! when a `server.*` limit passes.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

use super::Limits;

mod signals;

pub(super) use signals::{InFlight, Metered};

/// "Not set", for the millisecond stamps below.
const UNSET: u64 = u64::MAX;
/// One running handler in [`ConnState::work`]; open response bodies count in
/// the low 32 bits.
const RUNNING: u64 = 1 << 32;
const BODY: u64 = 1;
/// An idle connection closed gracefully (HTTP/2 GOAWAY) gets this long to
/// finish before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What another task asks of a connection (eviction, shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Command {
    None = 0,
    /// Finish what is in flight, then close (SIGTERM).
    Graceful = 1,
    /// Close now (eviction, the drain deadline).
    Close = 2,
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closed {
    /// No complete request head within `header_timeout`.
    HeadTimeout,
    /// No request in flight for `idle_timeout`.
    Idle,
    /// A response made no progress towards the client for `idle_timeout`.
    Stalled,
    /// Asked to by another task.
    Commanded,
}

/// The shared record of one connection. Times are milliseconds since accept.
#[derive(Debug)]
pub(super) struct ConnState {
    pub(super) id: u64,
    accepted: Instant,
    /// Handlers running (high 32 bits) and response bodies not yet finished
    /// (low 32 bits), in one word so that one load sees both.
    work: AtomicU64,
    /// A complete request head has arrived at least once.
    served: AtomicBool,
    http2: AtomicBool,
    /// The end of the last response.
    idle_since: AtomicU64,
    /// First byte read while no request was in flight (HTTP/1.1's next head).
    head_since: AtomicU64,
    /// The last time a response body was polled by hyper.
    body_progress: AtomicU64,
    /// Since when a socket write has been refused (client not reading).
    write_blocked: AtomicU64,
    command: AtomicU8,
    waker: Mutex<Option<Waker>>,
}

impl ConnState {
    pub(super) fn new(id: u64, accepted: Instant) -> ConnState {
        ConnState {
            id,
            accepted,
            work: AtomicU64::new(0),
            served: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(UNSET),
            body_progress: AtomicU64::new(0),
            write_blocked: AtomicU64::new(UNSET),
            command: AtomicU8::new(Command::None as u8),
            waker: Mutex::new(None),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(UNSET - 1)
    }

    fn at(&self, ms: u64, plus: Duration) -> Instant {
        self.accepted + Duration::from_millis(ms) + plus
    }

    /// Nothing in flight: no handler running, no response being written.
    /// Such a connection may be evicted; `served` says which kind it is.
    pub(super) fn waiting(&self) -> bool {
        self.work.load(Ordering::Acquire) == 0
    }

    pub(super) fn served(&self) -> bool {
        self.served.load(Ordering::Relaxed)
    }

    /// Told to close now.
    pub(super) fn closing(&self) -> bool {
        self.command.load(Ordering::Acquire) == Command::Close as u8
    }

    pub(super) fn command(&self, command: Command) {
        let current = self.command.load(Ordering::Acquire);
        if (command as u8) > current {
            self.command.store(command as u8, Ordering::Release);
            self.wake();
        }
    }

    fn pending_command(&self) -> Command {
        match self.command.load(Ordering::Acquire) {
            1 => Command::Graceful,
            2 => Command::Close,
            _ => Command::None,
        }
    }

    fn wake(&self) {
        if let Ok(slot) = self.waker.lock()
            && let Some(w) = slot.as_ref()
        {
            w.wake_by_ref();
        }
    }

    fn register(&self, waker: &Waker) {
        if let Ok(mut slot) = self.waker.lock() {
            match slot.as_ref() {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
    }

    /// Hyper handed over a request: its head is complete.
    pub(super) fn request_started(self: &Arc<Self>, http2: bool) -> InFlight {
        if !self.served.load(Ordering::Relaxed) {
            self.served.store(true, Ordering::Relaxed);
        }
        if http2 && !self.http2.load(Ordering::Relaxed) {
            self.http2.store(true, Ordering::Relaxed);
        }
        if self.head_since.load(Ordering::Relaxed) != UNSET {
            self.head_since.store(UNSET, Ordering::Relaxed);
        }
        self.work.fetch_add(RUNNING, Ordering::AcqRel);
        InFlight(Some(Arc::clone(self)))
    }

    fn handler_done(&self) {
        self.body_progress.store(self.now_ms(), Ordering::Relaxed);
        // One step from "running" to "body open", so no load sees neither.
        self.work
            .fetch_add(BODY.wrapping_sub(RUNNING), Ordering::AcqRel);
        self.wake_other_task();
    }

    /// A handler or a body is gone; `unit` is what it held in `work`.
    fn finished(&self, unit: u64) {
        self.idle_since.fetch_max(self.now_ms(), Ordering::Release);
        if self.work.fetch_sub(unit, Ordering::AcqRel) == unit {
            self.wake_other_task();
        }
    }

    /// HTTP/2 runs handlers and bodies in tasks of their own, so the
    /// connection's task must be told when its deadline moves. HTTP/1.1 runs
    /// them inside the connection's own poll, which re-reads the state after.
    fn wake_other_task(&self) {
        if self.http2.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    fn on_read(&self) {
        if self.head_since.load(Ordering::Relaxed) == UNSET && self.waiting() {
            self.head_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    fn on_write(&self, progressed: bool) {
        let blocked = self.write_blocked.load(Ordering::Relaxed);
        if progressed && blocked != UNSET {
            self.write_blocked.store(UNSET, Ordering::Relaxed);
        } else if !progressed && blocked == UNSET {
            self.write_blocked.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// The earliest limit this connection can break now, if any.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Closed)> {
        let mut best: Option<(Instant, Closed)> = None;
        let mut consider = |at: Instant, why: Closed| {
            if best.is_none_or(|(b, _)| at < b) {
                best = Some((at, why));
            }
        };
        let work = self.work.load(Ordering::Acquire);
        let blocked = self.write_blocked.load(Ordering::Relaxed);
        if blocked != UNSET {
            consider(self.at(blocked, limits.idle_timeout), Closed::Stalled);
        }
        if work == 0 {
            let head = self.head_since.load(Ordering::Relaxed);
            if !self.served.load(Ordering::Relaxed) {
                // From accept, whatever arrived (protocol detection included).
                consider(self.at(0, limits.header_timeout), Closed::HeadTimeout);
            } else if head != UNSET && !self.http2.load(Ordering::Relaxed) {
                // HTTP/1.1's next head, from its first byte. (HTTP/2 bytes
                // may be PINGs, so HTTP/2 has only the idle limit.)
                consider(self.at(head, limits.header_timeout), Closed::HeadTimeout);
            } else {
                let idle = self.idle_since.load(Ordering::Acquire);
                consider(self.at(idle, limits.idle_timeout), Closed::Idle);
            }
        } else if work < RUNNING {
            // Only responses being written: hyper polls a body as the client
            // takes what came before (socket or HTTP/2 flow control).
            let progress = self.body_progress.load(Ordering::Relaxed);
            consider(self.at(progress, limits.idle_timeout), Closed::Stalled);
        }
        best
    }
}

/// How a connection ended.
pub(super) enum Ended<E> {
    /// Hyper finished it (client closed, error, or graceful shutdown done).
    Done(Result<(), E>),
    /// The watchdog dropped it.
    Closed(Closed),
}

/// Drives `conn` until it ends or a limit passes. `graceful` starts hyper's
/// graceful shutdown (HTTP/2 GOAWAY; HTTP/1.1 closes once idle).
pub(super) async fn drive<C, E>(
    conn: C,
    graceful: impl Fn(Pin<&mut C>),
    state: &ConnState,
    limits: &Limits,
) -> Ended<E>
where
    C: Future<Output = Result<(), E>>,
{
    let mut conn = pin!(conn);
    let mut armed = state.at(0, limits.header_timeout);
    let mut timer = pin!(tokio::time::sleep_until(armed));
    // Graceful shutdown started; for an idle close, the moment to give up.
    let mut shutting_down = false;
    let mut grace_until: Option<Instant> = None;

    poll_fn(|cx| {
        state.register(cx.waker());
        loop {
            if let Poll::Ready(done) = conn.as_mut().poll(cx) {
                return Poll::Ready(Ended::Done(done));
            }
            match state.pending_command() {
                Command::Close => return Poll::Ready(Ended::Closed(Closed::Commanded)),
                Command::Graceful if !shutting_down => {
                    shutting_down = true;
                    graceful(conn.as_mut());
                    continue;
                }
                _ => {}
            }
            let now = Instant::now();
            let mut next = match state.deadline(limits) {
                Some((at, Closed::Idle)) if at <= now => {
                    if !shutting_down {
                        shutting_down = true;
                        grace_until = Some(now + CLOSE_GRACE);
                        graceful(conn.as_mut());
                        continue;
                    }
                    None
                }
                Some((at, why)) if at <= now => return Poll::Ready(Ended::Closed(why)),
                Some((at, _)) => Some(at),
                None => None,
            };
            if let Some(until) = grace_until
                && state.waiting()
            {
                if until <= now {
                    return Poll::Ready(Ended::Closed(Closed::Idle));
                }
                next = Some(next.map_or(until, |n| n.min(until)));
            }
            // With nothing due, look again after a while anyway (a request in
            // flight is bounded by the gateway's own timeouts).
            let next = next.unwrap_or(now + limits.idle_timeout);
            // Re-arming costs a timer-wheel update: only when the new moment
            // is earlier, or the old one has passed. Waking early is harmless.
            if next < armed || armed <= now {
                armed = next;
                timer.as_mut().reset(next);
            }
            if timer.as_mut().poll(cx).is_ready() {
                // Re-armed on the next turn, whatever it finds.
                armed = now;
                continue;
            }
            return Poll::Pending;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(75),
        max_connections: 16,
    };

    fn after(state: &ConnState, secs: u64) -> Instant {
        state.accepted + Duration::from_secs(secs)
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_connection_through_a_request() {
        let state = Arc::new(ConnState::new(0, Instant::now()));
        let d = |s: &ConnState| s.deadline(&LIMITS);
        assert_eq!(d(&state), Some((after(&state, 10), Closed::HeadTimeout)));
        // Bytes alone change nothing before the first head: counted from accept.
        tokio::time::advance(Duration::from_secs(3)).await;
        state.on_read();
        assert_eq!(d(&state), Some((after(&state, 10), Closed::HeadTimeout)));

        let in_flight = state.request_started(false);
        assert_eq!(d(&state), None, "a running handler has no deadline here");
        assert!(!state.waiting() && state.served());

        tokio::time::advance(Duration::from_secs(2)).await;
        let resp = in_flight.respond(http::Response::new(()));
        assert_eq!(d(&state), Some((after(&state, 5 + 75), Closed::Stalled)));

        tokio::time::advance(Duration::from_secs(1)).await;
        drop(resp);
        assert!(state.waiting());
        assert_eq!(d(&state), Some((after(&state, 6 + 75), Closed::Idle)));

        // HTTP/1.1: the next head is timed from its first byte.
        tokio::time::advance(Duration::from_secs(20)).await;
        state.on_read();
        assert_eq!(
            d(&state),
            Some((after(&state, 26 + 10), Closed::HeadTimeout))
        );

        // A refused write bounds even a running handler.
        let _in_flight = state.request_started(false);
        state.on_write(false);
        assert_eq!(d(&state), Some((after(&state, 26 + 75), Closed::Stalled)));
        state.on_write(true);
        assert_eq!(d(&state), None);
    }

    #[tokio::test(start_paused = true)]
    async fn http2_bytes_do_not_start_a_head_and_a_cancelled_handler_ends_the_request() {
        let state = Arc::new(ConnState::new(0, Instant::now()));
        let in_flight = state.request_started(true);
        tokio::time::advance(Duration::from_secs(4)).await;
        drop(in_flight);
        assert!(state.waiting());
        assert_eq!(
            state.deadline(&LIMITS),
            Some((after(&state, 4 + 75), Closed::Idle))
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        state.on_read(); // a PING
        assert_eq!(
            state.deadline(&LIMITS),
            Some((after(&state, 4 + 75), Closed::Idle))
        );
    }
}
