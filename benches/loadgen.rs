//! A small load generator for the gateway benchmarks (`benches/run`).
//!
//! N concurrent callers, each a closed loop over one keep-alive connection
//! pool (hyper-util's legacy client), ask `GET {target}{id}` for campaign ids
//! drawn from a Zipf-like (`--dist zipf`, weight 1/rank^s), uniform or
//! sequential distribution. The run is bounded by both `--requests` and
//! `--duration-s`, whichever comes first. Every answer's latency and its
//! `Cache-Status` header are recorded; a JSON summary goes to stdout:
//! requests, statuses, cache outcomes (hit, miss, collapsed, stale = `fwd=stale`,
//! refused = status 503 or `detail=busy`), latency percentiles.
//!
//! The PRNG is a per-caller xorshift64* seeded from `--seed`, so runs repeat.
//!
//! `cargo run --release --example loadgen -- --target http://127.0.0.1:8080/api/v1.0/campaigns/`

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::{HeaderName, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Dist {
    /// Weight of the k-th most popular id is 1/k^s.
    Zipf,
    Uniform,
    /// first-id, first-id+1, ... shared by all callers (fills a cache).
    Sequential,
}

#[derive(Parser, Debug)]
struct Args {
    /// URL prefix the id is appended to; loopback only.
    #[arg(long)]
    target: String,
    /// Number of distinct ids.
    #[arg(long, default_value_t = 1000)]
    ids: u64,
    /// The smallest id (the most popular one for zipf).
    #[arg(long, default_value_t = 1)]
    first_id: u64,
    #[arg(long, value_enum, default_value_t = Dist::Zipf)]
    dist: Dist,
    /// Zipf exponent.
    #[arg(long, default_value_t = 1.0)]
    zipf_s: f64,
    /// Concurrent callers (and at most as many connections).
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Hard bound on wall time, in seconds.
    #[arg(long, default_value_t = 60.0)]
    duration_s: f64,
    /// Hard bound on requests started (sequential: defaults to --ids).
    #[arg(long)]
    requests: Option<u64>,
    /// Mean pause of each caller between its answer and its next request;
    /// each pause is drawn uniformly from [0, 2 x think-ms] so that callers
    /// do not move in lock step.
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    /// One request's deadline; past it the request counts as a timeout.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Free text copied into the summary.
    #[arg(long, default_value = "")]
    label: String,
}

/// xorshift64*: small, fast, good enough to pick ids.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Never zero; spread nearby seeds apart.
        XorShift((seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1)
    }
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Picks id indexes (0-based).
enum Picker {
    /// Cumulative weights, last = 1.0.
    Zipf(Vec<f64>),
    Uniform(u64),
    Sequential(u64),
}

impl Picker {
    fn new(args: &Args) -> Picker {
        match args.dist {
            Dist::Zipf => {
                let mut cdf = Vec::with_capacity(args.ids as usize);
                let mut total = 0.0;
                for k in 1..=args.ids {
                    total += 1.0 / (k as f64).powf(args.zipf_s);
                    cdf.push(total);
                }
                for c in &mut cdf {
                    *c /= total;
                }
                Picker::Zipf(cdf)
            }
            Dist::Uniform => Picker::Uniform(args.ids),
            Dist::Sequential => Picker::Sequential(args.ids),
        }
    }

    /// `seq` is the global sequence number of the request.
    fn pick(&self, rng: &mut XorShift, seq: u64) -> u64 {
        match self {
            Picker::Zipf(cdf) => {
                let u = rng.next_f64();
                (cdf.partition_point(|c| *c <= u) as u64).min(cdf.len() as u64 - 1)
            }
            Picker::Uniform(n) => rng.next_u64() % n,
            Picker::Sequential(n) => seq % n,
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    hit: u64,
    miss: u64,
    collapsed: u64,
    stale: u64,
    refused: u64,
    none: u64,
    transport_errors: u64,
    timeouts: u64,
    body_bytes: u64,
    ids: HashSet<u64>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.latencies_us.extend(o.latencies_us);
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.hit += o.hit;
        self.miss += o.miss;
        self.collapsed += o.collapsed;
        self.stale += o.stale;
        self.refused += o.refused;
        self.none += o.none;
        self.transport_errors += o.transport_errors;
        self.timeouts += o.timeouts;
        self.body_bytes += o.body_bytes;
        self.ids.extend(o.ids);
    }

    /// Sorts cache outcomes: `fwd=stale` first (a stale answer is a 200),
    /// then refusals (503 or `detail=busy`), collapsed, hit, miss.
    fn classify(&mut self, status: u16, cache_status: Option<&[u8]>) {
        let cs = cache_status
            .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
            .unwrap_or_default();
        if cs.contains("fwd=stale") {
            self.stale += 1;
        } else if status == 503 || cs.contains("detail=busy") {
            self.refused += 1;
        } else if cs.contains("collapsed") {
            self.collapsed += 1;
        } else if cs.split(';').any(|t| t.trim() == "hit") {
            self.hit += 1;
        } else if cs.contains("miss") {
            self.miss += 1;
        } else {
            self.none += 1;
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let summary = rt.block_on(run(args));
    println!("{summary}");
}

async fn run(args: Args) -> serde_json::Value {
    let target: Uri = args.target.parse().expect("--target is a URL");
    let host = target.host().unwrap_or_default();
    assert!(
        host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "::1",
        "--target must be a loopback address, not {host}"
    );
    let uris: Arc<Vec<Uri>> = Arc::new(
        (0..args.ids)
            .map(|i| {
                format!("{}{}", args.target, args.first_id + i)
                    .parse()
                    .expect("target + id is a URI")
            })
            .collect(),
    );
    let max_requests = args.requests.unwrap_or(match args.dist {
        Dist::Sequential => args.ids,
        _ => 50_000_000,
    });
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(args.concurrency)
        .build(http);

    let picker = Arc::new(Picker::new(&args));
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration_s);
    let timeout = Duration::from_millis(args.timeout_ms);
    let think_us = args.think_ms * 1000;

    let mut tasks = Vec::with_capacity(args.concurrency);
    for caller in 0..args.concurrency {
        let client = client.clone();
        let uris = Arc::clone(&uris);
        let picker = Arc::clone(&picker);
        let issued = Arc::clone(&issued);
        let mut rng = XorShift::new(args.seed.wrapping_add(caller as u64 * 0x9E37_79B9));
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::default();
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let seq = issued.fetch_add(1, Ordering::Relaxed);
                if seq >= max_requests {
                    break;
                }
                let idx = picker.pick(&mut rng, seq);
                t.ids.insert(idx);
                let req = Request::get(uris[idx as usize].clone())
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let exchange = async {
                    let resp = client.request(req).await?;
                    let status = resp.status().as_u16();
                    let cs = resp
                        .headers()
                        .get(&CACHE_STATUS)
                        .map(|v| v.as_bytes().to_vec());
                    let body = resp.into_body().collect().await?.to_bytes();
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, cs, body.len()))
                };
                // A run ends at most one request timeout past its deadline.
                match tokio::time::timeout(timeout, exchange).await {
                    Ok(Ok((status, cs, len))) => {
                        let us = now.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                        t.latencies_us.push(us);
                        *t.statuses.entry(status).or_default() += 1;
                        t.classify(status, cs.as_deref());
                        t.body_bytes += len as u64;
                    }
                    Ok(Err(_)) => t.transport_errors += 1,
                    Err(_) => t.timeouts += 1,
                }
                if think_us > 0 {
                    let pause = rng.next_u64() % (2 * think_us + 1);
                    tokio::time::sleep(Duration::from_micros(pause)).await;
                }
            }
            t
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        if let Ok(t) = task.await {
            all.merge(t);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let lat = &all.latencies_us;
    let answered = lat.len() as u64;
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().map(|v| u64::from(*v)).sum::<u64>() as f64 / lat.len() as f64 / 1000.0
    };
    serde_json::json!({
        "label": args.label,
        "target": args.target,
        "dist": format!("{:?}", args.dist).to_lowercase(),
        "zipf_s": args.zipf_s,
        "ids": args.ids,
        "first_id": args.first_id,
        "concurrency": args.concurrency,
        "think_ms": args.think_ms,
        "elapsed_s": elapsed,
        "requests": answered,
        "rps": answered as f64 / elapsed,
        "transport_errors": all.transport_errors,
        "timeouts": all.timeouts,
        "statuses": all.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
        "cache": {
            "hit": all.hit,
            "miss": all.miss,
            "collapsed": all.collapsed,
            "stale": all.stale,
            "refused": all.refused,
            "none": all.none,
        },
        "hit_ratio": if answered == 0 { 0.0 } else { all.hit as f64 / answered as f64 },
        "distinct_ids": all.ids.len(),
        "body_bytes": all.body_bytes,
        "latency_ms": {
            "mean": mean,
            "p50": percentile(lat, 50.0),
            "p90": percentile(lat, 90.0),
            "p99": percentile(lat, 99.0),
            "p999": percentile(lat, 99.9),
            "max": percentile(lat, 100.0),
        },
    })
}
