//! `GET /status`, a live page for people, and `GET /status.json`, what it
//! polls: the budget spent per second over the last two minutes against the
//! limit, the queue by caller, the hit ratio by route, refusals, background
//! refreshes, stale answers, and the state of Redis, the key and the callers
//! file.
//!
//! Every number but the per-second chart is read back from the gateway's
//! own `/metrics` text ([`exposition`]), so the page and Prometheus never
//! disagree. [`page`] is the HTML, self-contained.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::metrics::starts::SLOTS;
use crate::routes::RouteId;

pub mod exposition;
pub mod page;

/// Cache outcomes answered without spending budget: the hit ratio's hits.
pub const HIT_OUTCOMES: [&str; 3] = ["hit", "revalidate", "shared_hit"];
const REFUSAL_REASONS: [&str; 4] = [
    "queue_full",
    "caller_rate_limited",
    "unauthenticated",
    "forbidden",
];
const TRIGGERS: [&str; 2] = ["revalidate", "ahead"];
const RESULTS: [&str; 4] = ["stored", "not_stored", "failed", "refused"];
const STALE_KINDS: [&str; 3] = ["revalidate", "error", "busy"];

/// What the snapshot is made of, gathered by the gateway at request time.
pub struct Inputs<'a> {
    /// The `/metrics` text, encoded just now.
    pub exposition: &'a str,
    /// Upstream starts per second, oldest first, the current second last.
    pub starts: [u32; SLOTS],
    pub limit: u32,
    pub window_ms: u64,
    /// `local` or `redis`.
    pub backend: &'static str,
    pub shared_cache: bool,
    pub key_reload_failing: bool,
    /// Why the callers file failed to reload, while it does.
    pub callers_failing: Option<String>,
}

/// The numbers shown on the page, as JSON.
pub fn snapshot(i: &Inputs<'_>) -> Value {
    let samples = exposition::parse(i.exposition);
    let named = |name: &'static str| samples.iter().filter(move |s| s.name == name);
    let total = |name: &'static str| named(name).map(|s| s.value).sum::<f64>();
    let count = |v: f64| v.max(0.0).round() as u64;

    // Hit ratio by read route.
    let mut routes: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for s in named("altur_gateway_requests_total") {
        let (Some(route), Some(cache)) = (s.label("route"), s.label("cache")) else {
            continue;
        };
        let Some(id) = RouteId::from_name(route).filter(|r| r.spec().is_read()) else {
            continue;
        };
        let e = routes.entry(id.as_str()).or_default();
        e.0 += s.value;
        if HIT_OUTCOMES.contains(&cache) {
            e.1 += s.value;
        }
    }
    let routes: Vec<Value> = routes
        .into_iter()
        .map(|(route, (requests, hits))| {
            json!({
                "route": route,
                "requests": count(requests),
                "hits": count(hits),
                "hit_ratio": (requests > 0.0).then(|| hits / requests),
            })
        })
        .collect();

    // The queue and the budget, by caller.
    let mut callers: BTreeMap<String, CallerRow> = BTreeMap::new();
    for s in &samples {
        let field: fn(&mut CallerRow, f64) = match s.name.as_str() {
            "altur_gateway_caller_queue_depth" => |r: &mut CallerRow, v| r.depth += v,
            "altur_gateway_caller_queue_wait_seconds_sum" => |r: &mut CallerRow, v| r.wait_sum += v,
            "altur_gateway_caller_queue_wait_seconds_count" => |r: &mut CallerRow, v| r.waits += v,
            "altur_gateway_upstream_starts_total" => |r: &mut CallerRow, v| r.starts += v,
            _ => continue,
        };
        if let Some(c) = s.label("caller") {
            field(callers.entry(c.to_string()).or_default(), s.value);
        }
    }
    let callers: Vec<Value> = callers
        .into_iter()
        .map(|(caller, r)| {
            json!({
                "caller": caller,
                "depth": count(r.depth),
                "waits": count(r.waits),
                "mean_wait_ms": (r.waits > 0.0).then(|| 1000.0 * r.wait_sum / r.waits),
                "upstream_starts": count(r.starts),
            })
        })
        .collect();

    let by = |name: &'static str, key: &str, value: &str| {
        named(name)
            .filter(|s| s.label(key) == Some(value))
            .map(|s| s.value)
            .sum::<f64>()
    };
    let refusals: Vec<Value> = REFUSAL_REASONS
        .iter()
        .map(|r| json!({"reason": r, "count": count(by("altur_gateway_refusals_total", "reason", r))}))
        .collect();
    let stale: Vec<Value> = STALE_KINDS
        .iter()
        .map(|k| json!({"kind": k, "count": count(by("altur_gateway_stale_served_total", "kind", k))}))
        .collect();
    let refreshes: Vec<Value> = TRIGGERS
        .iter()
        .flat_map(|t| RESULTS.iter().map(move |r| (*t, *r)))
        .map(|(t, r)| {
            let n = named("altur_gateway_background_refreshes_total")
                .filter(|s| s.label("trigger") == Some(t) && s.label("result") == Some(r))
                .map(|s| s.value)
                .sum::<f64>();
            json!({"trigger": t, "result": r, "count": count(n)})
        })
        .collect();

    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "budget": {
            "limit": i.limit,
            "window_ms": i.window_ms,
            "backend": i.backend,
            "per_second": i.starts.to_vec(),
            "last_two_minutes": i.starts.iter().map(|&n| u64::from(n)).sum::<u64>(),
            "upstream_starts_total": count(total("altur_gateway_upstream_starts_total")),
        },
        "queue": {
            "depth": count(total("altur_gateway_queue_depth")),
            "by_caller": callers,
        },
        "routes": routes,
        "refusals": refusals,
        "stale": stale,
        "refreshes": refreshes,
        "state": {
            "backend": i.backend,
            "shared_cache": i.shared_cache,
            "rate_limit_fallback": total("altur_gateway_rate_limit_fallback") > 0.0,
            "upstream_auth_failing": total("altur_gateway_upstream_auth_failing") > 0.0,
            "key_reload_failing": i.key_reload_failing,
            "key_reload_failures": count(total("altur_gateway_key_reload_failures_total")),
            "callers_reload_failing": i.callers_failing,
            "callers_reload_failures": count(total("altur_gateway_callers_reload_failures_total")),
        },
    })
}

#[derive(Default)]
struct CallerRow {
    depth: f64,
    wait_sum: f64,
    waits: f64,
    starts: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_sums_what_metrics_say() {
        let text = "\
altur_gateway_requests_total{route=\"campaign\",status=\"200\",cache=\"hit\",caller=\"a\"} 3
altur_gateway_requests_total{route=\"campaign\",status=\"200\",cache=\"miss\",caller=\"b\"} 1
altur_gateway_requests_total{route=\"campaign_create\",status=\"201\",cache=\"bypass\",caller=\"a\"} 2
altur_gateway_requests_total{route=\"metrics\",status=\"200\",cache=\"none\",caller=\"anonymous\"} 9
altur_gateway_refusals_total{caller=\"a\",reason=\"forbidden\"} 2
altur_gateway_refusals_total{caller=\"b\",reason=\"forbidden\"} 1
altur_gateway_upstream_starts_total{route=\"campaign\",caller=\"b\"} 4
altur_gateway_caller_queue_wait_seconds_sum{caller=\"b\"} 0.5
altur_gateway_caller_queue_wait_seconds_count{caller=\"b\"} 4
altur_gateway_caller_queue_depth{caller=\"b\"} 2
altur_gateway_rate_limit_fallback 1
";
        let mut starts = [0; SLOTS];
        starts[SLOTS - 1] = 4;
        let v = snapshot(&Inputs {
            exposition: text,
            starts,
            limit: 12,
            window_ms: 1020,
            backend: "local",
            shared_cache: false,
            key_reload_failing: false,
            callers_failing: None,
        });
        assert_eq!(
            v["routes"].as_array().map(Vec::len),
            Some(1),
            "read routes only"
        );
        assert_eq!(v["routes"][0]["requests"], 4);
        assert_eq!(v["routes"][0]["hits"], 3);
        assert_eq!(v["routes"][0]["hit_ratio"], 0.75);
        assert_eq!(v["refusals"][3], json!({"reason": "forbidden", "count": 3}));
        assert_eq!(v["budget"]["upstream_starts_total"], 4);
        assert_eq!(v["budget"]["last_two_minutes"], 4);
        let b = &v["queue"]["by_caller"][0];
        assert_eq!(
            (b["caller"].as_str(), &b["depth"], &b["waits"]),
            (Some("b"), &json!(2), &json!(4))
        );
        assert_eq!(b["mean_wait_ms"], 125.0);
        assert_eq!(v["state"]["rate_limit_fallback"], true);
        assert_eq!(v["refreshes"].as_array().map(Vec::len), Some(8));
    }
}
