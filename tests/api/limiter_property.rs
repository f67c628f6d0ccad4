//! Property test of the limiter under tokio's paused clock: random arrival
//! patterns, random departures, 429 pauses and random connect times between a
//! grant and its send. No window of 1 s + margin ever holds more than the
//! limit of sends; with pooled connections, grants are first come first served
//! and while a backlog exists every start happens at the earliest instant the
//! window allows.

use std::sync::Arc;
use std::time::Duration;

use altur_gateway::queue::{LocalBudget, Queue};
use proptest::prelude::*;
use tokio::time::Instant;

#[derive(Debug, Clone)]
struct Arrival {
    /// Milliseconds after the previous arrival.
    gap_ms: u64,
    /// Leaves after this many ms in the queue (if it has not started by then).
    leaves_after_ms: Option<u64>,
    /// Time from grant to send (a new connection's handshake); 0 for a pooled one.
    connect_ms: u64,
}

fn arrivals() -> impl Strategy<Value = Vec<Arrival>> {
    prop::collection::vec(
        (
            prop_oneof![Just(0u64), 0u64..50, 0u64..1500],
            prop::option::weighted(0.15, 1u64..3000),
            prop_oneof![3 => Just(0u64), 1 => 1u64..400],
        )
            .prop_map(|(gap_ms, leaves_after_ms, connect_ms)| Arrival {
                gap_ms,
                leaves_after_ms,
                connect_ms,
            }),
        1..120,
    )
}

fn run(
    limit: usize,
    margin_ms: u64,
    mut pattern: Vec<Arrival>,
    pause_at: Option<(u64, u64)>,
    pooled: bool,
) {
    if pooled {
        pattern.iter_mut().for_each(|a| a.connect_ms = 0);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let window = Duration::from_millis(1000 + margin_ms);
        let q = Queue::start(
            Arc::new(LocalBudget::new(limit, window)),
            Duration::from_secs(3600),
            None,
        );
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        let mut at = t0;
        for (i, a) in pattern.iter().enumerate() {
            at += Duration::from_millis(a.gap_ms);
            let q = q.clone();
            let leaves = a.leaves_after_ms.map(Duration::from_millis);
            let connect = Duration::from_millis(a.connect_ms);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let enq = Instant::now();
                let acquire = q.acquire();
                let granted = match leaves {
                    Some(d) => tokio::time::timeout(d, acquire).await.ok(),
                    None => Some(acquire.await),
                };
                let sent = match granted {
                    Some(g) => {
                        let mut g = g.expect("never full");
                        tokio::time::sleep(connect).await;
                        g.sent();
                        Some((g.at(), Instant::now()))
                    }
                    None => None,
                };
                (i, enq, sent)
            }));
        }
        if let Some((after, len)) = pause_at {
            let q = q.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(t0 + Duration::from_millis(after)).await;
                q.pause(Instant::now() + Duration::from_millis(len)).await;
            });
        }
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.expect("join"));
        }
        let mut sends: Vec<Instant> = done.iter().filter_map(|(_, _, g)| g.map(|g| g.1)).collect();
        sends.sort();
        let mut grants: Vec<(Instant, Instant, usize)> = done
            .iter()
            .filter_map(|(i, enq, g)| g.map(|g| (g.0, *enq, *i)))
            .collect();
        grants.sort();

        // 1. No window of `window` holds more than `limit` sends, however long
        //    each took to connect.
        for k in limit..sends.len() {
            let span = sends[k] - sends[k - limit];
            assert!(span >= window, "{} sends within {:?}", limit + 1, span);
        }
        if !pooled {
            return;
        }
        // 2. First come, first served: grant order follows enqueue order.
        for w in grants.windows(2) {
            assert!(w[0].1 <= w[1].1, "served out of order: {w:?}");
        }
        // 3. Full rate: a start that waited happened exactly when the window (or
        //    a pause, or its predecessor) allowed it, never later.
        let pause_end = pause_at.map(|(a, l)| t0 + Duration::from_millis(a + l));
        for k in 0..grants.len() {
            let (g, enq, _) = grants[k];
            if g == enq {
                continue;
            }
            let by_window = (k >= limit).then(|| grants[k - limit].0 + window);
            let by_pred = (k >= 1).then(|| grants[k - 1].0);
            let earliest = [by_window, by_pred, pause_end, Some(enq)]
                .into_iter()
                .flatten()
                .filter(|t| *t <= g)
                .max()
                .unwrap_or(enq);
            assert!(
                g - earliest <= Duration::from_millis(1),
                "start {k} idled: granted {:?} after it was allowed",
                g - earliest
            );
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_window_holds_and_a_backlog_drains_at_full_rate(
        limit in 1usize..15,
        margin_ms in 0u64..50,
        pattern in arrivals(),
        pause in prop::option::weighted(0.3, (0u64..5000, 1u64..3000)),
        pooled in any::<bool>(),
    ) {
        run(limit, margin_ms, pattern, pause, pooled);
    }
}

#[test]
fn the_default_twelve_with_a_burst_then_steady_flow() {
    // The trap of a token bucket: 12 at once, then one every 83 ms.
    let a = |gap_ms| Arrival {
        gap_ms,
        leaves_after_ms: None,
        connect_ms: 0,
    };
    let mut pattern = vec![a(0); 12];
    pattern.extend(std::iter::repeat_n(a(83), 48));
    run(12, 20, pattern, None, true);
}
