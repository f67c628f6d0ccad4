//! SIGHUP through the real binary: it re-reads the watched files at once,
//! says what changed, and never stops the process.

use std::time::{Duration, Instant};

use altur_gateway::sim::{SimConfig, Simulator};

use crate::binary::{Child, free_port, gateway, get, get_with, wait_until_serving};
use crate::helpers::{TempDir, caller};

const KEY: &str = "reload-key-1";

/// Polls a GET as `token` every 10 ms until it is 200, up to `within`;
/// returns when it was first 200.
async fn admitted_within(port: u16, token: &str, within: Duration) -> Option<Instant> {
    let bearer = format!("Bearer {token}");
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let (status, _) =
            get_with(port, "/api/v1.0/campaigns/1", &[("authorization", &bearer)]).await;
        if status == 200 {
            return Some(Instant::now());
        }
        assert_eq!(status, 401, "a token no caller has yet");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_re_reads_the_files_at_once_and_never_stops_the_process() {
    let sim = Simulator::start(SimConfig {
        key: KEY.into(),
        latency: Duration::ZERO,
        rate_limit: None,
    })
    .await
    .expect("sim");
    let dir = TempDir::new("sighup");
    let callers = dir.path().join("callers.toml");
    let key_file = dir.path().join("api-key");
    std::fs::write(&key_file, KEY).expect("write");
    let mut file = caller("billing", "tok-billing", &["read"], 1, None);
    std::fs::write(&callers, &file).expect("write");
    let port = free_port();
    let mut child = Child::spawn(
        gateway()
            .env("ALTUR_GATEWAY__UPSTREAM__API_KEY_FILE", &key_file)
            .env("ALTUR_GATEWAY__LOG__FORMAT", "json")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("ALTUR_GATEWAY__UPSTREAM__BASE_URL", sim.base_url())
            .env("ALTUR_GATEWAY__CALLERS__FILE", &callers),
    );
    wait_until_serving(port).await;
    // Serving means the handler is installed (it is, before the first accept).
    assert_eq!(get(port, "/healthz").await.0, 200);

    // Find the phase of the 1 s poll: the moment it takes a new caller in.
    file.push_str(&caller("ops", "tok-ops", &["read"], 1, None));
    std::fs::write(&callers, &file).expect("write");
    let polled = admitted_within(port, "tok-ops", Duration::from_secs(3))
        .await
        .expect("the poll takes the change within its second");

    // 300 ms later, well before the next poll (~1 s after the last), a
    // change and SIGHUP: in force within 200 ms, which only SIGHUP can do.
    tokio::time::sleep(Duration::from_millis(300).saturating_sub(polled.elapsed())).await;
    file.push_str(&caller("audit", "tok-audit", &["read"], 1, None));
    std::fs::write(&callers, &file).expect("write");
    std::fs::write(&key_file, "reload-key-2").expect("rotate");
    sim.set_key("reload-key-2");
    child.signal("HUP");
    let admitted = admitted_within(port, "tok-audit", Duration::from_millis(200)).await;
    assert!(
        admitted.is_some(),
        "SIGHUP put the callers file in force at once (the poll would take ~{:?} more)",
        Duration::from_secs(1).saturating_sub(polled.elapsed())
    );

    // More SIGHUPs, with nothing changed: still alive and serving.
    for _ in 0..3 {
        child.signal("HUP");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(child.exited(), None, "SIGHUP never stops the process");
    assert_eq!(get(port, "/healthz").await.0, 200);

    child.sigterm();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(10)))
            .await
            .expect("join");
    assert_eq!(code, 0, "{err}");
    let lines = crate::binary::json_lines(&out);
    let said = |file: &str, message: &str| {
        lines
            .iter()
            .find(|l| l["file"] == file && l["message"] == message)
            .cloned()
    };
    let callers_line =
        said("callers.file", "SIGHUP: re-read, changed").expect("the callers change is logged");
    assert!(
        callers_line["change"]
            .as_str()
            .is_some_and(|c| c.contains("added [\"audit\"]")),
        "{callers_line}"
    );
    assert!(
        said("upstream.api_key_file", "SIGHUP: re-read, changed").is_some(),
        "the new key is logged (not its value)"
    );
    assert!(
        said("callers.file", "SIGHUP: re-read, unchanged").is_some(),
        "a SIGHUP with nothing new says so"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "SIGHUP: every watched file re-read"),
        "a summary line"
    );
    assert!(
        !out.contains("reload-key-2") && !out.contains(KEY),
        "no key in the log"
    );
}
