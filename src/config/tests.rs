//! Layering, defaults and validation, through `Settings::load_from`.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_match_the_spec() {
    let s = Settings::load_from(None, env(&[])).expect("defaults are valid");
    assert_eq!(s.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(s.upstream.base_url, "https://api.altur.io/api/v1.0");
    assert_eq!(s.upstream.timeout, Duration::from_secs(10));
    assert_eq!(s.upstream.max_retries, 2);
    assert_eq!(s.rate_limit.requests_per_second.get(), 12);
    assert_eq!(s.rate_limit.window(), Duration::from_millis(1020));
    assert_eq!(s.rate_limit.max_wait, Duration::from_secs(10));
    assert_eq!(s.rate_limit.backend, Backend::Local);
    assert_eq!(s.rate_limit.fallback_requests_per_second.get(), 4);
    assert_eq!(s.cache.ttl, Duration::from_secs(30));
    assert_eq!(s.cache.negative_ttl, Duration::from_secs(5));
    assert_eq!(s.cache.stale_if_error, Duration::from_secs(300));
    assert_eq!(s.cache.max_bytes, 268_435_456);
    assert_eq!(s.log, LogFormat::Text);
}

#[test]
fn environment_overrides_nested_keys() {
    let s = Settings::load_from(
        None,
        env(&[
            (
                "ALTUR_GATEWAY__UPSTREAM__BASE_URL",
                "http://127.0.0.1:9/api/v1.0/",
            ),
            ("ALTUR_GATEWAY__CACHE__TTL_SECONDS", "7"),
            ("ALTUR_GATEWAY__RATE_LIMIT__REQUESTS_PER_SECOND", "3"),
            ("ALTUR_GATEWAY__LISTEN", "127.0.0.1:0"),
        ]),
    )
    .expect("valid");
    assert_eq!(s.upstream.base_url, "http://127.0.0.1:9/api/v1.0");
    assert_eq!(s.cache.ttl, Duration::from_secs(7));
    assert_eq!(s.rate_limit.requests_per_second.get(), 3);
    assert_eq!(s.listen.port(), 0);
}

#[test]
fn kubernetes_service_variables_do_not_break_start_up() {
    let s = Settings::load_from(
        None,
        env(&[
            ("ALTUR_GATEWAY_SERVICE_HOST", "10.0.0.1"),
            ("ALTUR_GATEWAY_SERVICE_PORT", "80"),
            ("ALTUR_GATEWAY_PORT", "tcp://10.0.0.1:80"),
            ("ALTUR_GATEWAY_PORT_80_TCP_ADDR", "10.0.0.1"),
            (
                "ALTUR_GATEWAY_CONFIG",
                "/nonexistent-is-read-by-main-not-here",
            ),
        ]),
    );
    assert!(s.is_ok(), "{:?}", s.err());
}

fn err_of(pairs: &[(&str, &str)]) -> String {
    Settings::load_from(None, env(pairs))
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn bad_values_name_their_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "ALTUR_GATEWAY__RATE_LIMIT__REQUESTS_PER_SECOND",
            "0",
            "rate_limit.requests_per_second",
        ),
        (
            "ALTUR_GATEWAY__RATE_LIMIT__REQUESTS_PER_SECOND",
            "abc",
            "requests_per_second",
        ),
        (
            "ALTUR_GATEWAY__UPSTREAM__BASE_URL",
            "not a url",
            "upstream.base_url",
        ),
        (
            "ALTUR_GATEWAY__UPSTREAM__BASE_URL",
            "ftp://x/y",
            "upstream.base_url",
        ),
        ("ALTUR_GATEWAY__CACHE__TTL_SECONDS", "ten", "ttl_seconds"),
        ("ALTUR_GATEWAY__LISTEN", "nowhere", "listen"),
        ("ALTUR_GATEWAY__LOG__FORMAT", "xml", "log.format"),
        (
            "ALTUR_GATEWAY__RATE_LIMIT__BACKEND",
            "redis",
            "rate_limit.redis_url",
        ),
        ("ALTUR_GATEWAY__CACHE__BOGUS", "1", "cache.bogus"),
        ("ALTUR_GATEWAY__NOPE", "1", "nope"),
    ];
    for (k, v, needle) in cases {
        let e = err_of(&[(k, v)]);
        assert!(e.contains(needle), "{k}={v}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
}

#[test]
fn file_layer_sits_between_defaults_and_environment() {
    let dir = std::env::temp_dir().join(format!("altur-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        "[cache]\nttl_seconds = 11\nnegative_ttl_seconds = 2\n",
    )
    .expect("write");
    let s = Settings::load_from(
        Some(&path),
        env(&[("ALTUR_GATEWAY__CACHE__TTL_SECONDS", "12")]),
    )
    .expect("valid");
    assert_eq!(s.cache.ttl, Duration::from_secs(12));
    assert_eq!(s.cache.negative_ttl, Duration::from_secs(2));

    std::fs::write(&path, "[cache]\nttl_secs = 11\n").expect("write");
    let e = Settings::load_from(Some(&path), env(&[])).expect_err("unknown key");
    assert!(e.to_string().contains("cache.ttl_secs"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn route_freshness_follows_the_spec_table_and_its_overrides() {
    use crate::routes::RouteId::*;
    let s = Settings::load_from(None, env(&[])).expect("defaults");
    let f = |r| {
        let f = s.cache.freshness(r);
        (f.ttl.as_secs(), f.negative_ttl.as_secs())
    };
    assert_eq!(f(Campaign), (30, 5));
    assert_eq!(f(Contact), (30, 5));
    for r in [CampaignList, ContactList, CallList, Call] {
        assert_eq!(f(r), (10, 5), "{r:?}");
    }
    assert_eq!(f(Thread), (5, 5));
    assert_eq!(f(Messages), (5, 5));
    assert_eq!(f(Enduser), (60, 5));

    let s = Settings::load_from(
        None,
        env(&[
            ("ALTUR_GATEWAY__CACHE__ROUTES__CALL_LIST__TTL_SECONDS", "7"),
            ("ALTUR_GATEWAY__CACHE__TTL_SECONDS", "40"),
            (
                "ALTUR_GATEWAY__CACHE__ROUTES__ENDUSER__NEGATIVE_TTL_SECONDS",
                "1",
            ),
        ]),
    )
    .expect("valid");
    let call_list = s.cache.freshness(CallList);
    assert_eq!(
        (call_list.ttl.as_secs(), call_list.negative_ttl.as_secs()),
        (7, 5)
    );
    assert_eq!(s.cache.freshness(Campaign).ttl.as_secs(), 40, "global");
    assert_eq!(s.cache.freshness(Enduser).negative_ttl.as_secs(), 1);
    assert!(
        s.to_toml().contains("[cache.routes.call_list]"),
        "{}",
        s.to_toml()
    );
}

#[test]
fn a_bad_route_entry_names_its_key() {
    for (k, v, needle) in [
        (
            "ALTUR_GATEWAY__CACHE__ROUTES__CALLS__TTL_SECONDS",
            "7",
            "cache.routes.calls",
        ),
        (
            "ALTUR_GATEWAY__CACHE__ROUTES__RECORDING__TTL_SECONDS",
            "7",
            "cache.routes.recording",
        ),
        (
            "ALTUR_GATEWAY__CACHE__ROUTES__CALL__TTL_SECONDS",
            "99999999999",
            "cache.routes.call.ttl_seconds",
        ),
        (
            "ALTUR_GATEWAY__CACHE__TTL_SECONDS",
            "99999999999",
            "cache.ttl_seconds",
        ),
        ("ALTUR_GATEWAY__CACHE__ROUTES__CALL__TTL", "7", "ttl"),
    ] {
        let e = err_of(&[(k, v)]);
        assert!(e.contains(needle), "{k}={v}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
}

#[test]
fn anonymous_scopes_from_the_environment() {
    let scopes = |v: &str| {
        Settings::load_from(
            None,
            env(&[("ALTUR_GATEWAY__CALLERS__ANONYMOUS_SCOPES", v)]),
        )
        .map(|s| s.callers.anonymous_scopes.names())
    };
    assert_eq!(scopes("read").expect("valid"), ["read"]);
    assert_eq!(
        scopes("campaigns:read,calls:read").expect("valid"),
        ["campaigns:read", "calls:read"]
    );
    assert_eq!(scopes("").expect("valid"), Vec::<String>::new());
    let e = scopes("admin").expect_err("unknown scope").to_string();
    assert!(e.contains("callers.anonymous_scopes"), "{e}");
    let d = Settings::load_from(None, env(&[])).expect("defaults");
    assert_eq!(d.callers.anonymous_scopes.names(), ["read"]);
    assert!(d.callers.file.is_none());
}

#[test]
fn server_limits_are_validated() {
    let d = Settings::load_from(None, env(&[])).expect("defaults");
    assert_eq!(d.server.header_timeout, Duration::from_secs(10));
    assert_eq!(d.server.idle_timeout, Duration::from_secs(75));
    assert_eq!(d.server.max_connections, None, "derived at start-up");
    let s = Settings::load_from(
        None,
        env(&[
            ("ALTUR_GATEWAY__SERVER__HEADER_TIMEOUT_MS", "500"),
            ("ALTUR_GATEWAY__SERVER__IDLE_TIMEOUT_MS", "1500"),
            ("ALTUR_GATEWAY__SERVER__MAX_CONNECTIONS", "100"),
        ]),
    )
    .expect("valid");
    assert_eq!(s.server.header_timeout, Duration::from_millis(500));
    assert_eq!(s.server.idle_timeout, Duration::from_millis(1500));
    assert_eq!(s.server.max_connections, Some(100));
    for (k, v, needle) in [
        ("HEADER_TIMEOUT_MS", "0", "server.header_timeout_ms"),
        ("IDLE_TIMEOUT_MS", "31636000001", "server.idle_timeout_ms"),
        ("MAX_CONNECTIONS", "0", "server.max_connections"),
        ("MAX_CONNECTIONS", "-3", "max_connections"),
        ("BACKLOG", "1", "server.backlog"),
    ] {
        let e = err_of(&[(&format!("ALTUR_GATEWAY__SERVER__{k}"), v)]);
        assert!(e.contains(needle), "{k}={v}: {e}");
    }
}

#[test]
fn otlp_endpoint_is_an_http_url_or_none() {
    let s = Settings::load_from(None, env(&[])).expect("defaults");
    assert_eq!(s.otlp_endpoint, None, "no export by default");
    let s = Settings::load_from(
        None,
        env(&[(
            "ALTUR_GATEWAY__TELEMETRY__OTLP_ENDPOINT",
            "http://127.0.0.1:4318/",
        )]),
    )
    .expect("valid");
    assert_eq!(s.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4318"));
    let s = Settings::load_from(
        None,
        env(&[("ALTUR_GATEWAY__TELEMETRY__OTLP_ENDPOINT", "")]),
    )
    .expect("empty is none");
    assert_eq!(s.otlp_endpoint, None);
    for bad in [
        "grpc://collector:4317",
        "http://",
        "not a url",
        "http://c:4318/?x=1",
        "https://user:s3cr3t@collector:4318",
    ] {
        let e = err_of(&[("ALTUR_GATEWAY__TELEMETRY__OTLP_ENDPOINT", bad)]);
        assert!(e.contains("telemetry.otlp_endpoint"), "{bad}: {e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }
    assert!(err_of(&[("ALTUR_GATEWAY__TELEMETRY__SAMPLER", "x")]).contains("telemetry.sampler"));
}
