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
//! Beyond that, for the sections of `benches/run`: `--suffix` (a list route:
//! `{target}{id}{suffix}`), `--header` (a caller token), `--method` and
//! `--body` (writes), the age of the data served (from `Age`, or from the
//! upstream's `Date` that nginx relays with `proxy_pass_header Date`), and,
//! per id, whether the key had an entry within its stale-while-revalidate
//! window when the request was sent (`--ttl-s`, `--swr-s`: learnt from the
//! answers' ages), and what the answers were once the id had been answered
//! once (spare-budget check).
//!
//! `cargo run --release --example loadgen -- --target http://127.0.0.1:8080/api/v1.0/campaigns/`

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::header::{AGE, CONTENT_TYPE, DATE};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
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
    /// Appended after the id, e.g. `/contacts?status=queue`.
    #[arg(long, default_value = "")]
    suffix: String,
    /// An extra request header, `name: value` (repeatable), e.g. a caller token.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Request method (a write: with `--body`, sent as `application/json`).
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request body (JSON) for a write; `{id}` is replaced by the id.
    #[arg(long)]
    body: Option<String>,
    /// Where the age of an answer comes from: `age` (the `Age` header) or
    /// `date` (now minus the `Date` header: nginx relaying the upstream's).
    #[arg(long, default_value = "age")]
    age_from: String,
    /// Freshness and stale-while-revalidate window of the target, in seconds:
    /// a request counts as "key had an entry within the window" when an
    /// earlier answer for its id proves one was stored less than ttl + swr ago.
    #[arg(long, default_value_t = 30.0)]
    ttl_s: f64,
    #[arg(long, default_value_t = 30.0)]
    swr_s: f64,
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
    /// Latencies of requests whose key had an entry within its
    /// stale-while-revalidate window when sent, and of the others.
    with_entry_us: Vec<u32>,
    without_entry_us: Vec<u32>,
    refused_with_entry: u64,
    refused_without_entry: u64,
    /// Answers to requests sent after their id had first been answered.
    after_first: BTreeMap<&'static str, u64>,
    /// Age of the data in each 200 answer, in milliseconds (estimated from
    /// whole-second readings: see `age_ms`).
    ages_ms: Vec<u32>,
    stale_revalidate: u64,
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
        self.with_entry_us.extend(o.with_entry_us);
        self.without_entry_us.extend(o.without_entry_us);
        self.refused_with_entry += o.refused_with_entry;
        self.refused_without_entry += o.refused_without_entry;
        for (k, v) in o.after_first {
            *self.after_first.entry(k).or_default() += v;
        }
        self.ages_ms.extend(o.ages_ms);
        self.stale_revalidate += o.stale_revalidate;
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

    /// Sorts cache outcomes: stale first (`fwd=stale`, or a hit with
    /// `detail=stale-while-revalidate`: a stale answer is a 200), then
    /// refusals (503 or `detail=busy`), collapsed, hit, miss. Returns the class.
    fn classify(&mut self, status: u16, cache_status: Option<&[u8]>) -> &'static str {
        let cs = cache_status
            .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
            .unwrap_or_default();
        if cs.contains("fwd=stale") {
            self.stale += 1;
            "stale"
        } else if cs.contains("stale-while-revalidate") {
            self.stale += 1;
            self.stale_revalidate += 1;
            "stale"
        } else if status == 503 || cs.contains("detail=busy") {
            self.refused += 1;
            "refused"
        } else if cs.contains("collapsed") {
            self.collapsed += 1;
            "collapsed"
        } else if cs.split(';').any(|t| t.trim() == "hit") {
            self.hit += 1;
            "hit"
        } else if cs.contains("miss") {
            self.miss += 1;
            "miss"
        } else {
            self.none += 1;
            "none"
        }
    }
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The age of an answer's data in milliseconds, and the earliest instant
/// (Unix ms) it can have been stored, from whole-second readings: `Age: n`
/// means n to n+1 s (midpoint n + 0.5 s); a `Date` is the upstream's clock
/// truncated to the second, so the data is (now - Date) - 0.5 s old on
/// average. `None` when the header is missing or unreadable.
fn age_ms(from_date: bool, headers: &http::HeaderMap, received_unix_ms: f64) -> Option<(f64, f64)> {
    if from_date {
        let date = headers.get(DATE)?.to_str().ok()?;
        let t = httpdate::parse_http_date(date).ok()?;
        let date_ms = t.duration_since(UNIX_EPOCH).ok()?.as_secs_f64() * 1000.0;
        let age = (received_unix_ms - date_ms - 500.0).max(0.0);
        Some((age, date_ms))
    } else {
        let n: f64 = headers.get(AGE)?.to_str().ok()?.parse().ok()?;
        Some((n * 1000.0 + 500.0, received_unix_ms - (n + 1.0) * 1000.0))
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

fn percentiles(sorted: &[u32]) -> serde_json::Value {
    serde_json::json!({
        "count": sorted.len(),
        "p50": percentile(sorted, 50.0),
        "p90": percentile(sorted, 90.0),
        "p99": percentile(sorted, 99.0),
        "p999": percentile(sorted, 99.9),
        "max": percentile(sorted, 100.0),
    })
}

/// What every caller task shares.
struct Plan {
    uris: Vec<Uri>,
    bodies: Vec<Bytes>,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    picker: Picker,
    from_date: bool,
    /// Window (ms) past an entry's stored-at within which it is still
    /// answered at once (TTL + stale-while-revalidate).
    window_ms: f64,
    /// Per id: the Unix ms until which an entry is known to be within its
    /// window (0: none known), and when (Unix ms) it was first answered.
    entry_until: Vec<AtomicU64>,
    first_answer: Vec<AtomicU64>,
}

async fn run(args: Args) -> serde_json::Value {
    let target: Uri = args.target.parse().expect("--target is a URL");
    let host = target.host().unwrap_or_default();
    assert!(
        host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "::1",
        "--target must be a loopback address, not {host}"
    );
    let n = usize::try_from(args.ids).expect("--ids fits in memory");
    let ids = (0..args.ids).map(|i| args.first_id + i);
    let uris = ids
        .clone()
        .map(|id| {
            format!("{}{}{}", args.target, id, args.suffix)
                .parse()
                .expect("target + id + suffix is a URI")
        })
        .collect();
    let bodies = match &args.body {
        Some(b) => ids
            .map(|id| Bytes::from(b.replace("{id}", &id.to_string())))
            .collect(),
        None => Vec::new(),
    };
    let headers = args
        .headers
        .iter()
        .map(|h| {
            let (k, v) = h.split_once(':').expect("--header is 'name: value'");
            (
                HeaderName::from_bytes(k.trim().as_bytes()).expect("header name"),
                HeaderValue::from_str(v.trim()).expect("header value"),
            )
        })
        .collect();
    let plan = Arc::new(Plan {
        uris,
        bodies,
        method: Method::from_bytes(args.method.as_bytes()).expect("--method"),
        headers,
        picker: Picker::new(&args),
        from_date: args.age_from == "date",
        window_ms: (args.ttl_s + args.swr_s) * 1000.0,
        entry_until: (0..n).map(|_| AtomicU64::new(0)).collect(),
        first_answer: (0..n).map(|_| AtomicU64::new(0)).collect(),
    });
    let max_requests = args.requests.unwrap_or(match args.dist {
        Dist::Sequential => args.ids,
        _ => 50_000_000,
    });
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(args.concurrency)
        .build(http);

    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration_s);
    let timeout = Duration::from_millis(args.timeout_ms);
    let think_us = args.think_ms * 1000;

    let mut tasks = Vec::with_capacity(args.concurrency);
    for caller in 0..args.concurrency {
        let client = client.clone();
        let plan = Arc::clone(&plan);
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
                let idx = plan.picker.pick(&mut rng, seq) as usize;
                t.ids.insert(idx as u64);
                let sent_unix = unix_ms();
                let had_entry = (sent_unix as u64) < plan.entry_until[idx].load(Ordering::Relaxed);
                let answered_before = plan.first_answer[idx].load(Ordering::Relaxed);
                let after_first = answered_before != 0 && answered_before <= sent_unix as u64;
                let body = plan.bodies.get(idx).cloned().unwrap_or_default();
                let mut req = Request::builder()
                    .method(plan.method.clone())
                    .uri(plan.uris[idx].clone());
                for (k, v) in &plan.headers {
                    req = req.header(k, v);
                }
                if !body.is_empty() {
                    req = req.header(CONTENT_TYPE, "application/json");
                }
                let req = req.body(Full::new(body)).expect("request");
                let exchange = async {
                    let resp = client.request(req).await?;
                    let status = resp.status().as_u16();
                    let cs = resp
                        .headers()
                        .get(&CACHE_STATUS)
                        .map(|v| v.as_bytes().to_vec());
                    let age = age_ms(plan.from_date, resp.headers(), unix_ms());
                    let body = resp.into_body().collect().await?.to_bytes();
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, cs, age, body.len()))
                };
                // A run ends at most one request timeout past its deadline.
                match tokio::time::timeout(timeout, exchange).await {
                    Ok(Ok((status, cs, age, len))) => {
                        let us = now.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                        t.latencies_us.push(us);
                        *t.statuses.entry(status).or_default() += 1;
                        let class = t.classify(status, cs.as_deref());
                        t.body_bytes += len as u64;
                        if had_entry {
                            t.with_entry_us.push(us);
                            t.refused_with_entry += u64::from(class == "refused");
                        } else {
                            t.without_entry_us.push(us);
                            t.refused_without_entry += u64::from(class == "refused");
                        }
                        if after_first {
                            *t.after_first.entry(class).or_default() += 1;
                        }
                        if status == 200 {
                            if let Some((age, stored_at)) = age {
                                t.ages_ms.push(age.min(f64::from(u32::MAX)) as u32);
                                let until = (stored_at + plan.window_ms) as u64;
                                plan.entry_until[idx].fetch_max(until, Ordering::Relaxed);
                            }
                            let _ = plan.first_answer[idx].compare_exchange(
                                0,
                                unix_ms() as u64,
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                        }
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
    all.with_entry_us.sort_unstable();
    all.without_entry_us.sort_unstable();
    all.ages_ms.sort_unstable();
    let lat = &all.latencies_us;
    let answered = lat.len() as u64;
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().map(|v| u64::from(*v)).sum::<u64>() as f64 / lat.len() as f64 / 1000.0
    };
    let ages = &all.ages_ms;
    let age_s = |p: f64| {
        if ages.is_empty() {
            0.0
        } else {
            let rank = ((p / 100.0) * ages.len() as f64).ceil() as usize;
            f64::from(ages[rank.clamp(1, ages.len()) - 1]) / 1000.0
        }
    };
    let age_mean = if ages.is_empty() {
        0.0
    } else {
        ages.iter().map(|v| u64::from(*v)).sum::<u64>() as f64 / ages.len() as f64 / 1000.0
    };
    serde_json::json!({
        "label": args.label,
        "target": args.target,
        "suffix": args.suffix,
        "method": args.method,
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
            "stale_revalidate": all.stale_revalidate,
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
        "with_entry": {
            "window_s": args.ttl_s + args.swr_s,
            "latency_ms": percentiles(&all.with_entry_us),
            "refused": all.refused_with_entry,
        },
        "without_entry": {
            "latency_ms": percentiles(&all.without_entry_us),
            "refused": all.refused_without_entry,
        },
        "after_first_answer": all.after_first,
        "age_s": {
            "from": args.age_from,
            "count": ages.len(),
            "mean": age_mean,
            "p50": age_s(50.0),
            "p99": age_s(99.0),
            "max": age_s(100.0),
        },
    })
}
