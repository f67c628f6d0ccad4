//! Operating it: metrics that agree with what upstream received, and key
//! rotation through the key file without a restart.

use std::path::Path;
use std::time::Duration;

use altur_gateway::sim::{FIRST_MISSING_ID, Fault};
use futures_util::future::join_all;

use crate::helpers::TestApp;

/// The value of one sample line, e.g. `altur_gateway_requests_total{...} 3`.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        })
        .map_or(0, |v| v as u64)
}

fn sum(text: &str, prefix: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[tokio::test(start_paused = true)]
async fn metrics_agree_exactly_with_what_upstream_received() {
    let app = TestApp::builder()
        // The v1 rule under test: without stale-while-revalidate (and with no
        // refresh ahead of expiry) an expired entry waits for upstream.
        .set("cache.stale_while_revalidate_seconds", "0")
        .set("cache.refresh_ahead", "false")
        .sim_latency(Duration::from_millis(100))
        .set("cache.ttl_seconds", "10")
        .set("rate_limit.requests_per_second", "3")
        .set("rate_limit.max_wait_ms", "500")
        .start()
        .await;
    // 1 miss + 9 collapsed on id 1, then 2 hits.
    join_all((0..10).map(|_| app.get("/api/v1.0/campaigns/1"))).await;
    app.get("/api/v1.0/campaigns/1").await;
    app.get("/api/v1.0/campaigns/1").await;
    // An upstream 404 (stored), an upstream 500 (not stored, not retried).
    app.get(&format!("/api/v1.0/campaigns/{FIRST_MISSING_ID}"))
        .await;
    app.sim.fault_for(2, Some(Fault::Status(500)));
    app.get("/api/v1.0/campaigns/2").await;
    // Budget of 3 per second spent (ids 1, missing, 2): the next is refused.
    let refused = app.get("/api/v1.0/campaigns/3").await;
    assert_eq!(refused.status, 503);
    // Id 1 expires; upstream fails; served stale.
    tokio::time::sleep(Duration::from_secs(11)).await;
    app.sim.fault_for(1, Some(Fault::Status(500)));
    let stale = app.get("/api/v1.0/campaigns/1").await;
    assert_eq!(
        stale.header("cache-status"),
        Some("altur-gateway; fwd=stale; fwd-status=500")
    );
    app.get("/api/v1.0/campaigns/abc").await;

    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    let received = app.upstream().len() as u64;
    assert_eq!(received, 4);
    assert_eq!(
        sum(&text, "altur_gateway_upstream_requests_total{"),
        received,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "altur_gateway_upstream_requests_total{status=\"200\"}"
        ),
        1
    );
    assert_eq!(
        sample(
            &text,
            "altur_gateway_upstream_requests_total{status=\"404\"}"
        ),
        1
    );
    assert_eq!(
        sample(
            &text,
            "altur_gateway_upstream_requests_total{status=\"500\"}"
        ),
        2
    );
    let req = |status: u16, cache: &str| {
        sample(
            &text,
            &format!(
                "altur_gateway_requests_total{{route=\"campaign\",status=\"{status}\",cache=\"{cache}\",caller=\"anonymous\"}}"
            ),
        )
    };
    assert_eq!(req(200, "miss"), 1);
    assert_eq!(req(200, "collapsed"), 9);
    assert_eq!(req(200, "hit"), 2);
    assert_eq!(req(404, "miss"), 1);
    assert_eq!(req(500, "miss"), 1);
    assert_eq!(req(503, "refused"), 1);
    assert_eq!(req(200, "stale"), 1);
    assert_eq!(
        sample(
            &text,
            "altur_gateway_requests_total{route=\"other\",status=\"400\",cache=\"none\",caller=\"anonymous\"}"
        ),
        1
    );
    assert_eq!(
        sample(&text, "altur_gateway_stale_served_total{kind=\"error\"}"),
        1
    );
    assert_eq!(
        sample(&text, "altur_gateway_cache_entries"),
        2,
        "ids 1 and the 404"
    );
    assert!(sample(&text, "altur_gateway_cache_bytes") > 1000);
    assert_eq!(
        sample(&text, "altur_gateway_queue_wait_seconds_count"),
        received
    );
    assert_eq!(
        sample(&text, "altur_gateway_upstream_duration_seconds_count"),
        received
    );
    assert_eq!(sample(&text, "altur_gateway_queue_depth"), 0);
    assert_eq!(sample(&text, "altur_gateway_rate_limit_pauses_total"), 0);
    assert!(text.contains("# TYPE altur_gateway_queue_wait_seconds histogram"));
    // Who spent the budget: every upstream start, by route and caller.
    assert_eq!(
        sample(
            &text,
            "altur_gateway_upstream_starts_total{route=\"campaign\",caller=\"anonymous\"}"
        ),
        received
    );
    assert_eq!(
        sample(
            &text,
            "altur_gateway_refusals_total{caller=\"anonymous\",reason=\"queue_full\"}"
        ),
        1
    );
    assert!(!text.contains(crate::helpers::KEY));
}

/// Kubernetes updates a Secret volume by writing a new `..<timestamp>`
/// directory and renaming a `..data` symlink onto it; the key file itself is
/// a symlink through `..data`.
fn k8s_write(dir: &Path, version: u32, key: &str) {
    let versioned = dir.join(format!("..v{version}"));
    std::fs::create_dir_all(&versioned).expect("dir");
    std::fs::write(versioned.join("api-key"), format!("{key}\n")).expect("write");
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(format!("..v{version}"), &tmp).expect("symlink");
    std::fs::rename(&tmp, dir.join("..data")).expect("atomic swap");
    let link = dir.join("api-key");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("..data/api-key", &link).expect("symlink");
    }
}

#[tokio::test]
async fn a_rotated_key_file_is_used_by_the_next_request_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("altur-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    k8s_write(&dir, 1, crate::helpers::KEY);
    let app = TestApp::builder()
        .key_file(&dir.join("api-key"))
        .start()
        .await;
    assert_eq!(app.get("/api/v1.0/campaigns/1").await.status, 200);

    // Symlink swap, as a Kubernetes Secret volume does.
    app.sim.set_key("rotated-key-2");
    k8s_write(&dir, 2, "rotated-key-2");
    assert_eq!(app.get("/api/v1.0/campaigns/2").await.status, 200);
    // Rewritten in place, as an editor or a secret agent does.
    app.sim.set_key("rotated-key-3");
    std::fs::write(dir.join("..v2/api-key"), "rotated-key-3").expect("rewrite");
    assert_eq!(app.get("/api/v1.0/campaigns/3").await.status, 200);
    let keys: Vec<_> = app
        .upstream()
        .iter()
        .map(|r| {
            r.headers["authorization"]
                .to_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        keys,
        [
            format!("api-key {}", crate::helpers::KEY),
            "api-key rotated-key-2".into(),
            "api-key rotated-key-3".into()
        ]
    );

    // The file disappears: the last good key is kept, and the failure counted.
    std::fs::remove_file(dir.join("..v2/api-key")).expect("rm");
    assert_eq!(app.get("/api/v1.0/campaigns/4").await.status, 200);
    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    assert_eq!(
        sample(&text, "altur_gateway_key_reload_failures_total"),
        1,
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_key_file_replaced_by_a_pipe_or_a_huge_file_never_stalls_the_gateway() {
    let dir = std::env::temp_dir().join(format!("altur-fifo-key-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let key = dir.join("api-key");
    std::fs::write(&key, crate::helpers::KEY).expect("write");
    let app = TestApp::builder().key_file(&key).start().await;
    assert_eq!(app.get("/api/v1.0/campaigns/1").await.status, 200);

    // A named pipe nobody writes to: opening it for reading would block.
    std::fs::remove_file(&key).expect("rm");
    let made = std::process::Command::new("mkfifo")
        .arg(&key)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let miss = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        app.get("/api/v1.0/campaigns/2"),
    )
    .await
    .expect("a miss is served, not stuck on the pipe");
    assert_eq!(miss.status, 200, "the last good key is used");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert!(
        ready.json()["api_key"]
            .as_str()
            .is_some_and(|n| n.contains("last good")),
        "{:?}",
        ready.json()
    );

    // A 100 MB file is refused, not turned into a 100 MB header.
    std::fs::remove_file(&key).expect("rm");
    let big = std::fs::File::create(&key).expect("create");
    big.set_len(100 * 1024 * 1024).expect("sparse 100 MB");
    assert_eq!(app.get("/api/v1.0/campaigns/3").await.status, 200);
    let auth: Vec<_> = app
        .upstream()
        .iter()
        .map(|r| r.headers["authorization"].len())
        .collect();
    assert_eq!(
        auth,
        [8 + crate::helpers::KEY.len(); 3],
        "the same key every time"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn latency_by_route_and_cache_build_info_and_process_metrics_are_exported() {
    let app = TestApp::builder()
        .sim_latency(Duration::from_millis(50))
        .start()
        .await;
    assert_eq!(app.get("/api/v1.0/campaigns/1").await.status, 200);
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1.0/campaigns/1").await.status, 200);
    }
    app.get("/api/v1.0/campaigns/abc").await;
    let text = String::from_utf8_lossy(&app.get("/metrics").await.body).to_string();
    let h = "altur_gateway_request_duration_seconds";
    assert!(text.contains(&format!("# TYPE {h} histogram")), "{text}");
    assert_eq!(
        sample(
            &text,
            &format!("{h}_count{{route=\"campaign\",cache=\"hit\"}}")
        ),
        3
    );
    assert_eq!(
        sample(
            &text,
            &format!("{h}_count{{route=\"campaign\",cache=\"miss\"}}")
        ),
        1
    );
    assert_eq!(
        sample(
            &text,
            &format!("{h}_count{{route=\"other\",cache=\"none\"}}")
        ),
        1
    );
    // The miss waited on a 50 ms upstream; hits take far less.
    for (cache, within_25ms) in [("miss", 0), ("hit", 3)] {
        let line = format!(
            "{h}_bucket{{le=\"0.025\",route=\"campaign\",cache=\"{cache}\"}} {within_25ms}"
        );
        assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
    }
    assert!(!text.contains("route=\"campaign_create\",cache=\"hit\""));
    assert!(
        text.contains(&format!(
            "altur_gateway_build_info{{version=\"{}\",arch=\"{}\",os=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
            std::env::consts::OS
        )),
        "{text}"
    );
    if cfg!(target_os = "linux") {
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(&format!("{name} "))),
                "{name} missing:\n{text}"
            );
        }
        assert!(sample(&text, "process_resident_memory_bytes") > 1 << 20);
        assert!(sample(&text, "process_open_fds") >= 3);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let started = sample(&text, "process_start_time_seconds");
        assert!(started <= now && started + 3600 > now, "{started} vs {now}");
    }
    assert!(text.ends_with("# EOF\n") && text.matches("# EOF").count() == 1);
}
