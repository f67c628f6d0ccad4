//! Property test of the fair scheduler under tokio's paused clock: random
//! arrivals from random callers with random weights. No window of 1 s +
//! margin ever holds more than the limit; the queue never idles while a
//! request waits and the window allows a start; each caller is served first
//! come, first served; and over any stretch in which two callers both have
//! requests waiting, their starts stay within two of their weighted shares.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use altur_gateway::queue::{Lane, LocalBudget, Queue};
use proptest::prelude::*;
use tokio::time::Instant;

#[derive(Debug, Clone)]
struct Arrival {
    gap_ms: u64,
    lane: usize,
}

struct Done {
    lane: usize,
    enq: Instant,
    at: Instant,
    seq: u64,
}

fn arrivals(lanes: usize) -> impl Strategy<Value = Vec<Arrival>> {
    prop::collection::vec(
        (prop_oneof![3 => Just(0u64), 1 => 0u64..400], 0..lanes)
            .prop_map(|(gap_ms, lane)| Arrival { gap_ms, lane }),
        1..150,
    )
}

fn run(limit: usize, margin_ms: u64, weights: &[u32], pattern: &[Arrival]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let window = Duration::from_millis(1000 + margin_ms);
    let lanes: Vec<Lane> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| Lane::new(Arc::from(format!("c{i}")), *w))
        .collect();
    let done: Vec<Done> = rt.block_on(async {
        let q = Queue::start(
            Arc::new(LocalBudget::new(limit, window)),
            Duration::from_secs(36_000),
            None,
        );
        let t0 = Instant::now();
        let mut at = t0;
        let mut tasks = Vec::new();
        for a in pattern {
            at += Duration::from_millis(a.gap_ms);
            let (q, lane, i) = (q.clone(), lanes[a.lane].clone(), a.lane);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let enq = Instant::now();
                let mut g = q.acquire_in(&lane).await.expect("never full");
                g.sent();
                Done {
                    lane: i,
                    enq,
                    at: g.at(),
                    seq: g.seq(),
                }
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("join"));
        }
        out
    });
    let mut grants: Vec<&Done> = done.iter().collect();
    grants.sort_by_key(|d| d.seq);

    // 1. The window holds.
    for k in limit..grants.len() {
        let span = grants[k].at - grants[k - limit].at;
        assert!(span >= window, "{} starts within {span:?}", limit + 1);
    }
    // 2. Never idle: a start that waited happened as soon as the window allowed.
    for k in 0..grants.len() {
        let d = grants[k];
        if d.at == d.enq {
            continue;
        }
        let by_window = (k >= limit).then(|| grants[k - limit].at + window);
        let by_pred = (k >= 1).then(|| grants[k - 1].at);
        let earliest = [by_window, by_pred, Some(d.enq)]
            .into_iter()
            .flatten()
            .filter(|t| *t <= d.at)
            .max()
            .unwrap_or(d.enq);
        assert!(
            d.at - earliest <= Duration::from_millis(1),
            "start {k} idled {:?}",
            d.at - earliest
        );
    }
    // 3. First come, first served within a caller.
    let mut last: HashMap<usize, Instant> = HashMap::new();
    for d in &grants {
        if let Some(prev) = last.insert(d.lane, d.enq) {
            assert!(prev <= d.enq, "caller {} served out of order", d.lane);
        }
    }
    // 4. Shares: over every run of starts during which callers i and j both
    //    surely had a request waiting (enqueued strictly before that start,
    //    started after it), their starts follow their weights within two.
    let waiting = |lane: usize, k: usize| {
        let (t, s) = (grants[k].at, grants[k].seq);
        done.iter()
            .any(|d| d.lane == lane && d.enq < t && d.seq > s)
    };
    for i in 0..weights.len() {
        for j in i + 1..weights.len() {
            let (wi, wj) = (f64::from(weights[i]), f64::from(weights[j]));
            let mut k = 0;
            while k < grants.len() {
                if !(waiting(i, k) && waiting(j, k)) {
                    k += 1;
                    continue;
                }
                let (mut a, mut b) = (0.0, 0.0);
                while k < grants.len() && waiting(i, k) && waiting(j, k) {
                    if grants[k].lane == i {
                        a += 1.0;
                    } else if grants[k].lane == j {
                        b += 1.0;
                    }
                    k += 1;
                }
                let share = (a + b) * wi / (wi + wj);
                assert!(
                    (a - share).abs() <= 2.0,
                    "callers {i} (w{wi}) and {j} (w{wj}) both waiting: {a} and {b} starts"
                );
            }
        }
    }
}

fn callers_and_arrivals() -> impl Strategy<Value = (Vec<u32>, Vec<Arrival>)> {
    prop::collection::vec(1u32..6, 2..5).prop_flat_map(|weights| {
        let lanes = weights.len();
        (Just(weights), arrivals(lanes))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn fair_shares_within_the_window_and_never_idle(
        limit in 1usize..13,
        margin_ms in 0u64..50,
        (weights, pattern) in callers_and_arrivals(),
    ) {
        run(limit, margin_ms, &weights, &pattern);
    }
}

#[test]
fn a_heavy_and_a_light_caller_both_backlogged_share_three_to_one() {
    let mut pattern: Vec<Arrival> = (0..60).map(|_| Arrival { gap_ms: 0, lane: 0 }).collect();
    pattern.extend((0..60).map(|_| Arrival { gap_ms: 0, lane: 1 }));
    run(12, 20, &[3, 1], &pattern);
}
