//! What the shared limiter adds to a cache miss: the latency of one upstream
//! start (`Budget::acquire` + `stamp`, and the whole `Queue::acquire` +
//! `sent()` a miss goes through) with the local budget and with the Redis one,
//! side by side, the limit set so high that nothing waits.
//!
//! `cargo run --release --example redis_miss_cost [-- ITERATIONS]`. Uses
//! `REDIS_URL` if set, else starts its own `redis-server` on a free loopback
//! port (no persistence) and stops it at the end.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use altur_gateway::health::Readiness;
use altur_gateway::metrics::Metrics;
use altur_gateway::queue::redis_budget::{Mode, RedisBudgetConfig};
use altur_gateway::queue::{Budget, LocalBudget, Queue, RedisBudget};
use tokio::time::Instant;

const HIGH: usize = 1_000_000;
const WINDOW: Duration = Duration::from_millis(1020);

/// A redis-server child, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Result<(String, Server), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot run redis-server ({e}); install it: apt-get install -y redis-server")
        })?;
    let server = Server(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err("redis-server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((format!("redis://127.0.0.1:{port}"), server))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (percentile(&v, 0.5), percentile(&v, 0.99))
}

async fn budget_cost(b: &dyn Budget, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let slot = b.acquire().await;
        b.stamp(slot, Instant::now());
        out.push(t.elapsed());
    }
    out
}

async fn queue_cost(q: &Queue, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut g = q.acquire().await.expect("nothing waits at this limit");
        g.sent();
        out.push(t.elapsed());
        drop(g);
    }
    out
}

fn redis_budget(url: &str) -> Result<Arc<RedisBudget>, String> {
    RedisBudget::new(
        url,
        RedisBudgetConfig {
            limit: HIGH,
            window: WINDOW,
            fallback_limit: 4,
            max_send_delay: Duration::from_secs(10),
            name: format!("bench-{}", std::process::id()),
        },
        Arc::new(Metrics::new()),
        Arc::new(Readiness::default()),
    )
    .map(Arc::new)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().map_err(|_| format!("not a number: {a}"))?,
        None => 1000,
    };
    let (url, _server) = match std::env::var("REDIS_URL") {
        Ok(u) => (u, None),
        Err(_) => {
            let (u, s) = start_redis()?;
            (u, Some(s))
        }
    };

    let local: Arc<dyn Budget> = Arc::new(LocalBudget::new(HIGH, WINDOW));
    let shared = redis_budget(&url)?;
    // Warm up: connection, script load (EVALSHA after the first EVAL).
    budget_cost(&*local, 100).await;
    budget_cost(&*shared, 100).await;
    if shared.mode() != Mode::Shared {
        return Err("the Redis budget fell back: is Redis reachable?".into());
    }
    let local_b = summary(budget_cost(&*local, n).await);
    let shared_b = summary(budget_cost(&*shared, n).await);

    let shared_dyn: Arc<dyn Budget> = Arc::clone(&shared) as Arc<dyn Budget>;
    let lq = Queue::start(local, Duration::from_secs(10), None);
    let rq = Queue::start(shared_dyn, Duration::from_secs(10), None);
    queue_cost(&lq, 100).await;
    queue_cost(&rq, 100).await;
    let local_q = summary(queue_cost(&lq, n).await);
    let shared_q = summary(queue_cost(&rq, n).await);
    if shared.mode() != Mode::Shared {
        return Err("the Redis budget fell back during the run".into());
    }

    println!("{n} iterations each, limit {HIGH}/window (nothing waits), Redis on loopback\n");
    println!(
        "{:<34} {:>12} {:>12} {:>12} {:>12}",
        "", "local p50", "local p99", "redis p50", "redis p99"
    );
    println!(
        "{:<34} {:>12} {:>12} {:>12} {:>12}",
        "Budget::acquire + stamp",
        us(local_b.0),
        us(local_b.1),
        us(shared_b.0),
        us(shared_b.1)
    );
    println!(
        "{:<34} {:>12} {:>12} {:>12} {:>12}",
        "Queue::acquire + sent (a miss)",
        us(local_q.0),
        us(local_q.1),
        us(shared_q.0),
        us(shared_q.1)
    );
    Ok(())
}
