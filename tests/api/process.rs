//! The binary as operators run it: exit codes, check-config, logs, signals, demo.
//! Every process started here is killed by the test (see `Child` below).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use altur_gateway::sim::{SimConfig, Simulator};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_altur-gateway");
pub(crate) const SECRET: &str = "proc-secret-9d2e71";

pub(crate) fn gateway() -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

pub(crate) fn output(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A started gateway process; killed on drop if the test did not stop it.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Child {
    fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success());
    }

    /// Waits for exit (bounded) and returns code, stdout, stderr.
    fn finish(mut self, within: Duration) -> (i32, String, String) {
        let deadline = std::time::Instant::now() + within;
        let code = loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                break status.code().unwrap_or(-1);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "did not exit in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut s) = self.0.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        if let Some(mut s) = self.0.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        (code, out, err)
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn wait_until_serving(port: u16) {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gateway did not start listening on {port}");
}

async fn get(port: u16, path: &str) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let uri: http::Uri = format!("http://127.0.0.1:{port}{path}")
        .parse()
        .expect("uri");
    let resp = client.get(uri).await.expect("answer");
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn check_config_prints_the_effective_settings_with_the_secret_redacted() {
    let (code, out, err) = output(
        gateway()
            .arg("check-config")
            .env("ALTUR_API_KEY", SECRET)
            .env("ALTUR_GATEWAY__CACHE__TTL_SECONDS", "45")
            .env("ALTUR_GATEWAY_SERVICE_HOST", "10.0.0.7")
            .env("ALTUR_GATEWAY_SERVICE_PORT", "80"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ttl_seconds = 45"), "{out}");
    assert!(out.contains("requests_per_second = 12"), "{out}");
    assert!(out.contains("[REDACTED]"), "{out}");
    assert!(!out.contains(SECRET) && !err.contains(SECRET));
}

#[test]
fn invalid_configuration_exits_2_with_one_line_naming_the_key() {
    for (var, value, needle) in [
        (
            "ALTUR_GATEWAY__RATE_LIMIT__REQUESTS_PER_SECOND",
            "0",
            "rate_limit.requests_per_second",
        ),
        (
            "ALTUR_GATEWAY__UPSTREAM__BASE_URL",
            "::nope",
            "upstream.base_url",
        ),
        ("ALTUR_GATEWAY__CACHE__TTL_SECONDS", "soon", "ttl_seconds"),
        ("ALTUR_GATEWAY__CACHE__TTL", "1", "cache.ttl"),
    ] {
        for args in [&["check-config"][..], &[][..]] {
            let (code, _, err) = output(
                gateway()
                    .args(args)
                    .env("ALTUR_API_KEY", SECRET)
                    .env(var, value),
            );
            assert_eq!(code, 2, "{var}={value} {args:?}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }
    let dir = std::env::temp_dir().join(format!("altur-proc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[upstream]\nbase_url = \"https://x\"\nretries = 3\n").expect("write");
    let (code, _, err) = output(
        gateway()
            .arg("--config")
            .arg(&file)
            .env("ALTUR_API_KEY", SECRET),
    );
    assert_eq!(code, 2);
    assert!(err.contains("upstream.retries"), "{err}");
    let (code, _, err) = output(
        gateway()
            .env("ALTUR_GATEWAY_CONFIG", &file)
            .env("ALTUR_API_KEY", SECRET),
    );
    assert_eq!(code, 2, "ALTUR_GATEWAY_CONFIG is read too: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_or_doubled_secret_exits_2_saying_how_to_set_it() {
    let (code, _, err) = output(&mut gateway());
    assert_eq!(code, 2);
    assert!(
        err.contains("ALTUR_API_KEY") && err.contains("upstream.api_key_file"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("altur-proc2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = dir.join("key");
    std::fs::write(&key, format!("{SECRET}\n")).expect("write");
    let (code, _, err) = output(
        gateway()
            .env("ALTUR_API_KEY", SECRET)
            .env("ALTUR_GATEWAY__UPSTREAM__API_KEY_FILE", &key),
    );
    assert_eq!(code, 2);
    assert!(err.contains("pick one"), "{err}");
    std::fs::write(&key, "  \n").expect("write");
    let (code, _, err) = output(gateway().env("ALTUR_GATEWAY__UPSTREAM__API_KEY_FILE", &key));
    assert_eq!(code, 2, "empty key file: {err}");
    let (code, _, err) =
        output(gateway().env("ALTUR_GATEWAY__UPSTREAM__API_KEY_FILE", dir.join("missing")));
    assert_eq!(code, 2, "unreadable key file: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_logs_json_without_the_secret_and_drains_on_sigterm() {
    let sim = Simulator::start(SimConfig {
        key: "not-the-gateways-key".into(),
        latency: Duration::from_millis(600),
        rate_limit: Some(12),
    })
    .await
    .expect("sim");
    let port = free_port();
    let child = Child(
        gateway()
            .env("ALTUR_API_KEY", SECRET)
            .env("RUST_LOG", "debug")
            .env("ALTUR_GATEWAY__LOG__FORMAT", "json")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("ALTUR_GATEWAY__UPSTREAM__BASE_URL", sim.base_url())
            .spawn()
            .expect("starts"),
    );
    wait_until_serving(port).await;
    // Upstream rejects our key: the error path logs, and must not log the key.
    let (status, body) = get(port, "/api/v1.0/campaigns/1").await;
    assert_eq!(status, 502);
    assert!(!body.contains(SECRET));
    let (_, metrics) = get(port, "/metrics").await;
    assert!(!metrics.contains(SECRET));

    // A request in flight when SIGTERM arrives still completes.
    sim.set_key(SECRET);
    let in_flight = tokio::spawn(get(port, "/api/v1.0/campaigns/2"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.sigterm();
    let (status, _) = in_flight.await.expect("join");
    assert_eq!(status, 200, "drained, not dropped");
    let (code, out, err) =
        tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(10)))
            .await
            .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "stopped accepting"
    );

    assert!(
        !out.contains(SECRET) && !err.contains(SECRET),
        "the secret leaked into the logs"
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["message"] == "request" && l["path"] == "/api/v1.0/campaigns/2")
        .expect("a request line");
    assert_eq!(request["status"], 200);
    assert_eq!(request["cache"], "miss");
    assert!(request["timestamp"].is_string() && request["level"] == "INFO");
    assert!(
        request["request_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(request["upstream_wait_ms"].is_u64() && request["latency_us"].is_u64());
    assert!(
        lines.iter().any(|l| l["level"] == "ERROR"),
        "the 401 was logged as an error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_with_no_key_and_no_network() {
    let port = free_port();
    let child = Child(
        gateway()
            .arg("demo")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .spawn()
            .expect("starts"),
    );
    wait_until_serving(port).await;
    let (status, body) = get(port, "/api/v1.0/campaigns/42").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["campaign"]["analytics"]["type"], "phone_call");
    let (status, body) = get(port, "/api/v1.0/campaigns/7").await;
    assert_eq!(status, 200);
    assert!(body.contains("whatsapp"));
    child.sigterm();
    let (code, out, _) = tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(10)))
        .await
        .expect("join");
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!(
            "curl -i http://127.0.0.1:{port}/api/v1.0/campaigns/42"
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_tokens_and_their_hashes_appear_nowhere() {
    const TOKEN: &str = "tok-billing-2b9f1e";
    const STRANGER: &str = "tok-stranger-5d0c";
    let sim = Simulator::start(SimConfig {
        key: SECRET.into(),
        latency: Duration::ZERO,
        rate_limit: Some(12),
    })
    .await
    .expect("sim");
    let dir = crate::helpers::TempDir::new("proc-callers");
    let callers = dir.path().join("callers.toml");
    let entry = crate::helpers::caller("billing", TOKEN, &["read"], 3, Some(50));
    let hash = entry
        .lines()
        .find_map(|l| l.strip_prefix("token_sha256 = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("hash")
        .to_string();
    std::fs::write(&callers, &entry).expect("write");

    let (code, out, err) = output(
        gateway()
            .env("ALTUR_API_KEY", SECRET)
            .env("ALTUR_GATEWAY__CALLERS__FILE", &callers)
            .arg("check-config"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("billing") && out.contains("weight = 3"),
        "{out}"
    );
    assert!(out.contains("requests_per_second = 50"), "{out}");
    assert!(!out.contains(&hash) && !out.contains(TOKEN), "{out}");

    let port = free_port();
    let child = Child(
        gateway()
            .env("ALTUR_API_KEY", SECRET)
            .env("RUST_LOG", "trace")
            .env("ALTUR_GATEWAY__LOG__FORMAT", "json")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("ALTUR_GATEWAY__UPSTREAM__BASE_URL", sim.base_url())
            .env("ALTUR_GATEWAY__CALLERS__FILE", &callers)
            .spawn()
            .expect("starts"),
    );
    wait_until_serving(port).await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    for (token, want) in [(TOKEN, 200), (STRANGER, 401)] {
        let req = http::Request::get(format!("http://127.0.0.1:{port}/api/v1.0/campaigns/4"))
            .header("authorization", format!("Bearer {token}"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        let resp = client.request(req).await.expect("answer");
        assert_eq!(resp.status().as_u16(), want);
    }
    let (_, metrics) = get(port, "/metrics").await;
    child.sigterm();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(10)))
            .await
            .expect("join");
    assert_eq!(code, 0, "{err}");
    for secret in [TOKEN, STRANGER, hash.as_str(), SECRET] {
        assert!(!out.contains(secret), "{secret} in the log");
        assert!(!err.contains(secret), "{secret} in stderr");
        assert!(!metrics.contains(secret), "{secret} in /metrics");
    }
    for r in sim.requests() {
        let auth = r.headers["authorization"]
            .to_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            auth,
            format!("api-key {SECRET}"),
            "only the gateway's key upstream"
        );
    }
    let line = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "request" && l["status"] == 200)
        .expect("an access line");
    assert_eq!(line["caller"], "billing", "who spent the budget is logged");
}
