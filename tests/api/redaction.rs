//! No secret of any kind (the API key, a caller token and its hash, a
//! password in either Redis URL) appears in `check-config`, in any log line
//! at the most verbose level, in `/metrics`, `/readyz` or an error body:
//! through the real binary, against Redis servers that require the passwords.

use std::time::Duration;

use altur_gateway::sim::{SimConfig, Simulator};

use crate::binary::{Child, free_port, gateway, get, get_with, output, wait_until_serving};
use crate::helpers::{TempDir, caller};
use crate::redis_server::RedisServer;

const KEY: &str = "redact-key-5f1c0a";
const TOKEN: &str = "redact-token-8e2b77";
const RL_PASSWORD: &str = "rlpw-hunter2-41d9";
const CACHE_PASSWORD: &str = "cachepw-hunter3-7a0e";

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{s} in {what}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_any_kind_in_check_config_logs_or_metrics() {
    let rl_redis = RedisServer::start_with_password(RL_PASSWORD);
    let mut cache_redis = RedisServer::start_with_password(CACHE_PASSWORD);
    let sim = Simulator::start(SimConfig {
        key: KEY.into(),
        latency: Duration::ZERO,
        rate_limit: Some(12),
    })
    .await
    .expect("sim");
    let dir = TempDir::new("redaction");
    let callers = dir.path().join("callers.toml");
    let entry = caller("billing", TOKEN, &["read"], 1, None);
    let hash = entry
        .lines()
        .find_map(|l| l.strip_prefix("token_sha256 = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("hash")
        .to_string();
    std::fs::write(&callers, &entry).expect("write");
    let secrets = [KEY, TOKEN, &hash, RL_PASSWORD, CACHE_PASSWORD];
    let port = free_port();
    let configured = |c: &mut std::process::Command| {
        c.env("ALTUR_API_KEY", KEY)
            .env("RUST_LOG", "trace")
            .env("ALTUR_GATEWAY__LOG__FORMAT", "json")
            .env("ALTUR_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("ALTUR_GATEWAY__UPSTREAM__BASE_URL", sim.base_url())
            .env("ALTUR_GATEWAY__CALLERS__FILE", &callers)
            .env("ALTUR_GATEWAY__RATE_LIMIT__BACKEND", "redis")
            .env("ALTUR_GATEWAY__RATE_LIMIT__REDIS_URL", rl_redis.url())
            .env("ALTUR_GATEWAY__CACHE__REDIS_URL", cache_redis.url());
    };

    // check-config: the URLs are shown, their passwords are not.
    let mut check = gateway();
    configured(&mut check);
    let (code, out, err) = output(check.arg("check-config"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("redis://[REDACTED]@127.0.0.1:"), "{out}");
    assert_clean("check-config", &out, &secrets);
    assert_clean("check-config's stderr", &err, &secrets);

    // A configuration file that does not parse is never quoted back.
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        format!("[cache]\nredis_url = \"redis://:{CACHE_PASSWORD}@127.0.0.1:1\n"),
    )
    .expect("write");
    let (code, out, err) = output(
        gateway()
            .env("ALTUR_API_KEY", KEY)
            .arg("--config")
            .arg(&broken),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("broken.toml"), "names the file: {err}");
    assert_clean("a config error", &format!("{out}{err}"), &secrets);

    // Serving, at RUST_LOG=trace: the key upstream, both Redis in use.
    let mut serve = gateway();
    configured(&mut serve);
    let child = Child::spawn(&mut serve);
    wait_until_serving(port).await;
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("authorization", bearer.as_str())];
    let mut bodies = String::new();
    for path in ["/api/v1.0/campaigns/4", "/api/v1.0/campaigns/4"] {
        let (status, body) = get_with(port, path, &auth).await;
        assert_eq!(status, 200, "{body}");
    }
    let stranger = [("authorization", "Bearer redact-stranger-0c1d")];
    let (status, body) = get_with(port, "/api/v1.0/campaigns/5", &stranger).await;
    assert_eq!(status, 401);
    bodies.push_str(&body);
    let (_, metrics) = get(port, "/metrics").await;
    assert!(
        metrics.contains("altur_gateway_rate_limit_fallback 0"),
        "the shared limiter is in use: {metrics}"
    );
    // Redis going away makes the error paths log too.
    cache_redis.kill();
    let (status, _) = get_with(port, "/api/v1.0/campaigns/6", &auth).await;
    assert_eq!(status, 200);
    // Altur rejecting the key: logged as an error, named in /readyz.
    sim.set_key("another-key");
    let (status, body) = get_with(port, "/api/v1.0/campaigns/7", &auth).await;
    assert_eq!(status, 502);
    bodies.push_str(&body);
    let (_, ready) = get(port, "/readyz").await;
    bodies.push_str(&ready);
    child.sigterm();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || child.finish(Duration::from_secs(10)))
            .await
            .expect("join");
    assert_eq!(code, 0, "{err}");
    let lines = crate::binary::json_lines(&out);
    assert!(
        lines.iter().any(|l| l["level"] == "TRACE"),
        "trace is on, so every module had its say"
    );
    assert_clean("the log", &out, &secrets);
    assert_clean("stderr", &err, &secrets);
    assert_clean("/metrics", &metrics, &secrets);
    assert_clean("bodies and /readyz", &bodies, &secrets);
    for r in sim.requests() {
        assert_eq!(
            r.headers["authorization"].to_str().unwrap_or_default(),
            format!("api-key {KEY}"),
            "the key went where the SPEC sends it"
        );
    }
}
