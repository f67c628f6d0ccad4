//! The shared budget's Lua scripts and switch-overs against a real Redis:
//! several `RedisBudget`s on one Redis stand for the replicas of a fleet.
//! Real time (Redis has its own clock), short windows.

use std::sync::Arc;
use std::time::Duration;

use altur_gateway::health::Readiness;
use altur_gateway::metrics::Metrics;
use altur_gateway::queue::redis_budget::{Mode, RedisBudgetConfig};
use altur_gateway::queue::{Budget, RedisBudget};
use tokio::time::Instant;

use crate::helpers::max_in_window;
use crate::redis_server::RedisServer;

const WINDOW: Duration = Duration::from_millis(500);

struct Replica {
    budget: Arc<RedisBudget>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

fn replica(redis: &RedisServer, limit: usize, fallback_limit: usize) -> Replica {
    let metrics = Arc::new(Metrics::new());
    let readiness = Arc::new(Readiness::default());
    let budget = RedisBudget::new(
        &redis.url(),
        RedisBudgetConfig {
            limit,
            window: WINDOW,
            fallback_limit,
            max_send_delay: Duration::from_secs(2),
            name: "test".into(),
        },
        Arc::clone(&metrics),
        Arc::clone(&readiness),
    )
    .expect("budget");
    Replica {
        budget: Arc::new(budget),
        metrics,
        readiness,
    }
}

/// One start, sent at once; returns when it was sent.
async fn start(b: &RedisBudget) -> Instant {
    let slot = b.acquire().await;
    let now = Instant::now();
    b.stamp(slot, now);
    now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_window_exactly() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis, 4, 2), replica(&redis, 4, 2));
    let first = start(&a.budget).await;
    start(&a.budget).await;
    start(&b.budget).await;
    start(&b.budget).await;
    // The fifth start, on either replica, waits for the first to leave the window.
    let fifth = start(&b.budget).await;
    let gap = fifth - first;
    assert!(gap >= WINDOW, "no fifth start inside the window: {gap:?}");
    assert!(
        gap < WINDOW + Duration::from_millis(150),
        "and no longer than needed: {gap:?}"
    );
    assert_eq!(a.budget.mode(), Mode::Shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_replicas_never_exceed_the_limit_in_any_window() {
    let redis = RedisServer::start();
    let replicas: Vec<_> = (0..3).map(|_| replica(&redis, 5, 2)).collect();
    let t0 = Instant::now();
    let tasks = replicas.iter().map(|r| {
        let b = Arc::clone(&r.budget);
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for _ in 0..10 {
                sent.push(start(&b).await);
            }
            sent
        })
    });
    let mut sent = Vec::new();
    for t in futures_util::future::join_all(tasks).await {
        sent.extend(t.expect("join"));
    }
    let took = t0.elapsed();
    assert_eq!(sent.len(), 30);
    assert!(
        max_in_window(&sent, WINDOW) <= 5,
        "{:?}",
        max_in_window(&sent, WINDOW)
    );
    // 30 starts at 5 per window: the last can start after 5 windows.
    assert!(took >= WINDOW * 5, "{took:?}");
    assert!(
        took < WINDOW * 5 + Duration::from_millis(700),
        "full rate: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_start_holds_its_slot_until_sent() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis, 1, 1), replica(&redis, 1, 1));
    let slot = a.budget.acquire().await;
    let waiting = {
        let b = Arc::clone(&b.budget);
        tokio::spawn(async move { start(&b).await })
    };
    // Granted but unsent for longer than a window: it still counts as sending now.
    tokio::time::sleep(WINDOW + Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the pending start keeps its slot");
    let sent = Instant::now();
    a.budget.stamp(slot, sent);
    let next = waiting.await.expect("join");
    assert!(
        next - sent >= WINDOW,
        "counted from the send: {:?}",
        next - sent
    );
    assert!(
        next - sent < WINDOW * 2 + Duration::from_millis(100),
        "{:?}",
        next - sent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_start_is_given_back() {
    let redis = RedisServer::start();
    let a = replica(&redis, 1, 1);
    let slot = a.budget.acquire().await;
    let t = Instant::now();
    let waiting = {
        let b = Arc::clone(&a.budget);
        tokio::spawn(async move { start(&b).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.budget.release(slot);
    let next = waiting.await.expect("join");
    assert!(
        next - t < Duration::from_millis(250),
        "the freed slot went at once: {:?}",
        next - t
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_every_replica() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis, 10, 5), replica(&redis, 10, 5));
    let t = Instant::now();
    a.budget.pause(t + Duration::from_millis(400)).await;
    let projected = b.budget.projected_wait(0).await;
    assert!(
        projected > Duration::from_millis(300) && projected <= Duration::from_millis(400),
        "{projected:?}"
    );
    let at = start(&b.budget).await;
    assert!(at - t >= Duration::from_millis(395), "{:?}", at - t);
    assert!(at - t < Duration::from_millis(500), "{:?}", at - t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projection_sees_the_whole_fleet() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis, 2, 1), replica(&redis, 2, 1));
    assert_eq!(b.budget.projected_wait(0).await, Duration::ZERO);
    let first = start(&a.budget).await;
    start(&a.budget).await;
    let w0 = b.budget.projected_wait(0).await;
    let w2 = b.budget.projected_wait(2).await;
    let left = WINDOW.saturating_sub(first.elapsed());
    assert!(
        w0 <= left + Duration::from_millis(100) && w0 + Duration::from_millis(100) >= left,
        "{w0:?} vs {left:?}"
    );
    assert!(w2 >= w0 + WINDOW - Duration::from_millis(100), "{w2:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_while_redis_is_away_and_comes_back_by_itself() {
    let mut redis = RedisServer::start();
    let a = replica(&redis, 10, 2);
    start(&a.budget).await;
    // From before the kill: under load a background task can see Redis gone
    // while `kill` still waits for the process, starting the quiet window early.
    let t = Instant::now();
    redis.kill();
    // The first start after the failure: at the fallback, after a quiet window.
    let mut sent = vec![start(&a.budget).await];
    let switched = t.elapsed();
    assert_eq!(a.budget.mode(), Mode::Fallback);
    assert_eq!(a.metrics.rate_limit_fallback.get(), 1);
    let ready = a.readiness.check().expect("still ready");
    assert!(ready.contains("fallback: redis unreachable"), "{ready}");
    assert!(switched >= WINDOW, "quiet window first: {switched:?}");
    assert!(
        switched < WINDOW + Duration::from_millis(700),
        "fails fast: {switched:?}"
    );
    for _ in 0..5 {
        sent.push(start(&a.budget).await);
    }
    assert!(
        max_in_window(&sent, WINDOW) <= 2,
        "the fallback limit holds"
    );

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.budget.mode() != Mode::Shared {
        assert!(Instant::now() < deadline, "back to shared by itself");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.metrics.rate_limit_fallback.get(), 0);
    let ready = a.readiness.check().expect("ready");
    assert!(!ready.contains("fallback"), "{ready}");
    // Redis came back empty; the shared limit applies again.
    let t = Instant::now();
    for _ in 0..10 {
        start(&a.budget).await;
    }
    assert!(t.elapsed() < WINDOW / 2, "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_attempt_leaves_the_reserve_to_the_whole_fleet() {
    let redis = RedisServer::start();
    let a = replica(&redis, 6, 2);
    let b = replica(&redis, 6, 2);
    // Refreshes on both replicas may take 4 of the fleet's 6 starts.
    let mut granted = 0;
    for budget in [
        &a.budget, &b.budget, &a.budget, &b.budget, &a.budget, &b.budget,
    ] {
        if let Ok(slot) = budget.try_acquire(4).await {
            budget.stamp(slot, Instant::now());
            granted += 1;
        }
    }
    assert_eq!(granted, 4, "the cap holds across replicas");
    // The last two of the window are still there for callers.
    let t = Instant::now();
    start(&a.budget).await;
    start(&b.budget).await;
    assert!(t.elapsed() < WINDOW / 2, "callers were not kept waiting");
    assert!(
        b.budget.try_acquire(6).await.is_err(),
        "and now the window is full"
    );
}
