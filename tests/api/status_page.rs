//! `/status` in a real headless browser (Debian's chromium): after traffic
//! from several callers, the page's script has polled `status.json` and the
//! numbers it shows are those of `/metrics`.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http::Method;

use crate::helpers::{TempDir, TestApp, caller};

/// Longest a browser run may take before it is killed.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// Loads `url` in headless chromium, lets its scripts run for `virtual_ms`
/// of virtual time, and returns the DOM. The browser runs in its own
/// process group, killed whole when it is done or past [`BROWSER_LIMIT`].
pub fn dump_dom(url: &str, virtual_ms: u32) -> String {
    use std::os::unix::process::CommandExt;
    let dir = TempDir::new("chromium");
    let out = dir.path().join("dom.html");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
        ])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(format!("--virtual-time-budget={virtual_ms}"))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("dom file"))
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): install Debian's chromium (scripts/test does: apt-get install -y chromium)",
                chromium()
            )
        });
    let group = child.id();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > BROWSER_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The whole group: renderer and utility processes included.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let status = status.unwrap_or_else(|| panic!("chromium ran past {BROWSER_LIMIT:?}"));
    assert!(status.success(), "chromium failed: {status}");
    std::fs::read_to_string(&out).expect("dom")
}

/// The page's numbers: each `data-k` element's `data-v` if it has one, else its text.
fn shown(dom: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (i, _) in dom.match_indices("data-k=\"") {
        let rest = &dom[i + 8..];
        let Some(end) = rest.find('"') else { continue };
        let key = rest[..end].to_string();
        let tag_end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..tag_end];
        let value = match tag.find("data-v=\"") {
            Some(v) => tag[v + 8..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_string(),
            None => rest[tag_end + 1..]
                .split('<')
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        out.insert(key, value);
    }
    out
}

/// Sums the samples of `name` whose labels include every pair of `with`.
fn sum(metrics: &str, name: &str, with: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| {
            with.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_what_metrics_say_in_a_real_browser() {
    let callers = [
        caller("billing", "tok-billing", &["read"], 2, None),
        caller("reports", "tok-reports", &["campaigns:read"], 1, None),
        caller("cron", "tok-cron", &["read"], 1, Some(1)),
    ]
    .concat();
    let app = TestApp::builder().callers(&callers).start().await;

    for path in [
        "/campaigns/1",
        "/campaigns/1",
        "/campaigns/2",
        "/campaigns/1",
    ] {
        let r = app.get_as("tok-billing", &format!("/api/v1.0{path}")).await;
        assert_eq!(r.status, 200);
    }
    for _ in 0..3 {
        assert_eq!(
            app.get_as("tok-reports", "/api/v1.0/campaigns")
                .await
                .status,
            200
        );
    }
    // Refusals of three kinds.
    let r = app.get_as("tok-reports", "/api/v1.0/call/c1").await;
    assert_eq!(r.status, 403);
    let r = app.get_as("tok-nobody", "/api/v1.0/campaigns/1").await;
    assert_eq!(r.status, 401);
    app.get_as("tok-cron", "/api/v1.0/campaigns/9").await;
    let r = app.get_as("tok-cron", "/api/v1.0/campaigns/9").await;
    assert_eq!(r.status, 429);
    let r = app
        .write_as(
            "tok-billing",
            Method::POST,
            "/api/v1.0/campaigns",
            "{}",
            &[],
        )
        .await;
    assert_eq!(r.status, 403);

    // HEAD is served, with no caller token.
    let head = app.request(Method::HEAD, "/status", &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let url = app.url("/status");
    let dom = tokio::task::spawn_blocking(move || dump_dom(&url, 5000))
        .await
        .expect("browser");
    let metrics = String::from_utf8(app.get("/metrics").await.body.to_vec()).expect("utf-8");
    let page = shown(&dom);
    let polls: u32 = dom
        .split("data-polls=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(polls >= 1, "the page polled status.json: {dom}");

    let num = |key: &str| -> f64 {
        page.get(key)
            .unwrap_or_else(|| panic!("the page shows no {key}: {page:?}"))
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key} = {:?}", page[key]))
    };
    let requests = "altur_gateway_requests_total";
    for route in ["campaign", "campaign_list"] {
        let all = sum(&metrics, requests, &[("route", route)]);
        let hits: f64 = ["hit", "revalidate", "shared_hit"]
            .iter()
            .map(|c| sum(&metrics, requests, &[("route", route), ("cache", c)]))
            .sum();
        assert!(all > 0.0 && hits > 0.0, "{route}: traffic reached /metrics");
        assert_eq!(num(&format!("route.{route}.requests")), all, "{route}");
        assert_eq!(num(&format!("route.{route}.hits")), hits, "{route}");
        let ratio = num(&format!("route.{route}.hit_ratio"));
        assert!((ratio - hits / all).abs() < 1e-9, "{route}: {ratio}");
    }
    for reason in [
        "queue_full",
        "caller_rate_limited",
        "unauthenticated",
        "forbidden",
    ] {
        let n = sum(
            &metrics,
            "altur_gateway_refusals_total",
            &[("reason", reason)],
        );
        assert_eq!(num(&format!("refusal.{reason}")), n, "{reason}");
    }
    assert_eq!(num("refusal.forbidden"), 2.0);
    let starts = sum(&metrics, "altur_gateway_upstream_starts_total", &[]);
    assert!(starts >= 4.0, "{starts}");
    assert_eq!(num("budget.upstream_starts_total"), starts);
    assert_eq!(
        num("budget.last_two_minutes"),
        starts,
        "the test is younger than 2 minutes"
    );
    assert_eq!(
        num("budget.limit"),
        sum(
            &metrics,
            "altur_gateway_rate_limit_requests_per_second",
            &[]
        )
    );
    // The chart: 120 bars whose heights add up to the starts.
    let bars: Vec<f64> = dom
        .split("<rect ")
        .skip(1)
        .filter_map(|r| r.split("data-v=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect();
    assert_eq!(bars.len(), 120);
    assert_eq!(bars.iter().sum::<f64>(), starts);
    for who in ["billing", "reports"] {
        let c = [("caller", who)];
        let waits = sum(
            &metrics,
            "altur_gateway_caller_queue_wait_seconds_count",
            &c,
        );
        assert_eq!(num(&format!("queue.{who}.waits")), waits, "{who}");
        let spent = sum(&metrics, "altur_gateway_upstream_starts_total", &c);
        assert_eq!(num(&format!("queue.{who}.upstream_starts")), spent, "{who}");
        assert_eq!(num(&format!("queue.{who}.depth")), 0.0);
    }
    assert_eq!(
        num("queue.depth"),
        sum(&metrics, "altur_gateway_queue_depth", &[])
    );
    for (trigger, result) in [("revalidate", "stored"), ("ahead", "failed")] {
        let n = sum(
            &metrics,
            "altur_gateway_background_refreshes_total",
            &[("trigger", trigger), ("result", result)],
        );
        assert_eq!(num(&format!("refresh.{trigger}.{result}")), n);
    }
    for kind in ["revalidate", "error", "busy"] {
        let n = sum(
            &metrics,
            "altur_gateway_stale_served_total",
            &[("kind", kind)],
        );
        assert_eq!(num(&format!("stale.{kind}")), n);
    }
    assert_eq!(num("state.rate_limit_fallback"), 0.0);
    assert_eq!(num("state.key_reload_failing"), 0.0);
    assert_eq!(num("state.callers_reload_failing"), 0.0);
    assert_eq!(
        num("state.key_reload_failures"),
        sum(&metrics, "altur_gateway_key_reload_failures_total", &[])
    );
    // Self-contained: nothing external is loaded.
    for external in ["src=\"http", "href=\"http", "<link"] {
        assert!(!dom.contains(external), "{external}");
    }
    app.stop().await;
}
