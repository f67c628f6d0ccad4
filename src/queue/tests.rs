//! The queue with the local budget, under tokio's paused clock: the window,
//! refusal at once, places given back, send-time counting, pauses, and the
//! background class.

use super::*;

#[tokio::test(start_paused = true)]
async fn burst_then_steady_never_exceeds_the_window() {
    let budget = Arc::new(LocalBudget::new(12, Duration::from_millis(1020)));
    let q = Queue::start(budget, Duration::from_secs(60), None);
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..36 {
        let q = q.clone();
        handles.push(tokio::spawn(async move {
            q.acquire().await.map(|mut g| {
                g.sent();
                g.at()
            })
        }));
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
async fn refreshes_never_take_the_reserved_starts_and_wait_behind_callers() {
    let budget = Arc::new(LocalBudget::new(12, Duration::from_secs(1)));
    let q = Queue::start_with_reserve(budget, Duration::from_secs(60), None, 9);
    let t0 = Instant::now();
    let mut refreshes = Vec::new();
    for _ in 0..20 {
        let q = q.clone();
        refreshes.push(tokio::spawn(async move {
            let mut g = q.acquire_in(&Lane::background()).await.expect("granted");
            g.sent();
            g.at()
        }));
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Three starts of the first window are left for callers.
    let mut callers = Vec::new();
    for _ in 0..3 {
        let mut g = q.acquire().await.expect("a caller starts at once");
        g.sent();
        callers.push(g.at() - t0);
    }
    assert!(
        callers.iter().all(|d| *d <= Duration::from_millis(10)),
        "{callers:?}"
    );
    let mut at: Vec<Duration> = Vec::new();
    for r in refreshes {
        at.push(r.await.expect("join") - t0);
    }
    at.sort();
    let first_window = at.iter().filter(|d| **d < Duration::from_secs(1)).count();
    assert_eq!(first_window, 9, "refreshes keep off the reserve: {at:?}");
}

#[tokio::test(start_paused = true)]
async fn a_caller_arriving_goes_before_a_waiting_refresh() {
    let budget = Arc::new(LocalBudget::new(1, Duration::from_secs(1)));
    let q = Queue::start_with_reserve(budget, Duration::from_secs(60), None, 1);
    let t0 = Instant::now();
    q.acquire().await.expect("first").sent();
    let bg = {
        let q = q.clone();
        tokio::spawn(async move {
            let mut g = q.acquire_in(&Lane::background()).await.expect("granted");
            g.sent();
            g.at()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut caller = q.acquire().await.expect("the caller");
    caller.sent();
    assert_eq!(
        caller.at() - t0,
        Duration::from_secs(1),
        "the caller took the next start"
    );
    let refresh = bg.await.expect("join");
    assert_eq!(
        refresh - t0,
        Duration::from_secs(2),
        "the refresh waited behind it"
    );
}

#[tokio::test(start_paused = true)]
async fn refuses_at_once_past_max_wait() {
    let budget = Arc::new(LocalBudget::new(1, Duration::from_secs(10)));
    let q = Queue::start(budget, Duration::from_secs(5), None);
    q.acquire().await.expect("first is free").sent();
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
    q.acquire().await.expect("first is free").sent();
    let (q2, q3) = (q.clone(), q.clone());
    let second = tokio::spawn(async move {
        q2.acquire().await.map(|mut g| {
            g.sent();
            g.at()
        })
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let third = tokio::spawn(async move {
        q3.acquire().await.map(|mut g| {
            g.sent();
            g.at()
        })
    });
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
async fn a_start_counts_from_when_it_is_sent() {
    let budget = Arc::new(LocalBudget::new(2, Duration::from_secs(1)));
    let q = Queue::start(budget, Duration::from_secs(10), None);
    let t0 = Instant::now();
    let mut a = q.acquire().await.expect("a");
    let mut b = q.acquire().await.expect("b");
    // `a` needs 300 ms to connect before it is sent; `b` is sent at once.
    b.sent();
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.sent();
    let c = q.acquire().await.expect("c");
    assert_eq!(c.at() - t0, Duration::from_secs(1), "after b + 1 s");
    drop(c); // never sent: given back
    let mut d = q.acquire().await.expect("d");
    d.sent();
    assert_eq!(
        d.at() - t0,
        Duration::from_secs(1),
        "c's start was given back"
    );
    let e = q.acquire().await.expect("e");
    assert_eq!(
        e.at() - t0,
        Duration::from_millis(1300),
        "after a's send + 1 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pause_holds_every_start() {
    let budget = Arc::new(LocalBudget::new(12, Duration::from_secs(1)));
    let q = Queue::start(budget, Duration::from_secs(5), None);
    let t0 = Instant::now();
    q.pause(t0 + Duration::from_secs(2)).await;
    let mut g = q.acquire().await.expect("granted after the pause");
    g.sent();
    assert_eq!(g.at() - t0, Duration::from_secs(2));
    q.pause(Instant::now() + Duration::from_secs(9)).await;
    assert_eq!(
        q.acquire().await.expect_err("past max wait").expected,
        Duration::from_secs(9)
    );
}
