//! Fuzz properties of loading (`cargo test fuzz`; longer: `benches/fuzz`):
//! any file text and any `ALTUR_GATEWAY__*` values load without a panic; a
//! refusal is one line that repeats no value; what loads is within every
//! bound the gateway's arithmetic relies on.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

/// In values only: an error must never show it.
const MARK: &str = "SECRETX";
/// A Redis password: never in an error, `check-config` or `Debug`.
const PW: &str = "PWSECRET";
const YEAR: Duration = Duration::from_secs(366 * 24 * 3600);

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "4",
            "12",
            "1000",
            "1001",
            "31622400",
            "31622401",
            "31622400000",
            "31622400001",
            "4294967296",
            "9223372036854775807",
            "18446744073709551615",
            "-1",
            "12.5",
            "1e3",
            "-0.0",
            "nan",
            "true",
            "yes",
            "007",
            "",
            "local",
            "redis",
            "json",
            "text",
            "xml",
            "read",
            "read,calls:write",
            "127.0.0.1:0",
            "0.0.0.0:8080",
            "http://127.0.0.1:9/api/v1.0",
            "https://api.altur.io/api/v1.0",
            "ftp://x",
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1:99999",
            "redis://:PWSECRET@h:6379/1",
            "redis://:PWSECRET@h:0",
            "rediss://:PWSECRET@h",
            "redis://:PWSECRET@/x",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,12}".prop_map(|s| format!("{MARK}{s}")),
        "(?s:.{0,12})",
    ]
}

/// `(section, key)`: every key of the schema, and near misses.
fn key() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        8 => prop::sample::select(vec![
            ("", "listen"), ("upstream", "base_url"), ("upstream", "api_key_file"),
            ("upstream", "timeout_ms"), ("upstream", "max_retries"),
            ("upstream", "max_request_body_bytes"), ("rate_limit", "requests_per_second"),
            ("rate_limit", "margin_ms"), ("rate_limit", "max_wait_ms"), ("rate_limit", "backend"),
            ("rate_limit", "redis_url"), ("rate_limit", "fallback_requests_per_second"),
            ("cache", "ttl_seconds"), ("cache", "negative_ttl_seconds"),
            ("cache", "stale_if_error_seconds"), ("cache", "max_bytes"), ("cache", "redis_url"),
            ("cache.routes.call", "ttl_seconds"), ("cache.routes.enduser", "negative_ttl_seconds"),
            ("cache.routes.recording", "ttl_seconds"), ("cache.routes.calls", "ttl_seconds"),
            ("callers", "file"), ("callers", "anonymous_scopes"), ("server", "header_timeout_ms"),
            ("server", "idle_timeout_ms"), ("server", "max_connections"), ("log", "format"),
            ("telemetry", "otlp_endpoint"),
            ("cache", "bogus"), ("nope", "x"),
        ])
        .prop_map(|(s, k)| (s.to_string(), k.to_string())),
        1 => ("[a-z_.]{0,10}", "[a-z_]{1,8}"),
    ]
}

/// A whole number, often in range, for the keys that take one.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1u64..40_000).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ]
}

/// A TOML value for `v`: bare when it is a TOML literal, quoted otherwise.
fn toml_value(v: &str) -> String {
    let bare =
        v.parse::<i64>().is_ok() || v.parse::<f64>().is_ok_and(f64::is_finite) || v == "true";
    if bare {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace(['"', '\\', '\n', '\r'], ""))
    }
}

fn file() -> impl Strategy<Value = String> {
    let entry = (key(), prop_oneof![2 => value(), 1 => number()], 0u8..20);
    prop::collection::vec(entry, 0..10).prop_map(|entries| {
        // TOML forbids a table twice: one header per section.
        let mut sections: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut noise = Vec::new();
        for ((section, key), v, shape) in entries {
            let line = match shape {
                0 => format!("{key} = [{}]", toml_value(&v)),
                1 => v,
                _ => format!("{key} = {}", toml_value(&v)),
            };
            if shape == 1 {
                noise.push(line);
            } else {
                sections.entry(section).or_default().push(line);
            }
        }
        let mut out = sections.remove("").unwrap_or_default().join("\n");
        for (section, lines) in sections {
            out.push_str(&format!("\n[{section}]\n{}", lines.join("\n")));
        }
        for n in noise {
            out.push('\n');
            out.push_str(&n);
        }
        out
    })
}

fn env() -> impl Strategy<Value = Vec<(String, String)>> {
    let var = key().prop_map(|(s, k)| {
        let path = if s.is_empty() { k } else { format!("{s}.{k}") };
        format!("ALTUR_GATEWAY__{}", path.replace('.', "__")).to_uppercase()
    });
    prop::collection::vec((var, prop_oneof![value(), number()]), 0..5)
}

proptest! {
    #![proptest_config(crate::fuzzing::cases(512))]

    #[test]
    fn fuzz_load_refuses_in_one_line_and_loads_only_bounded_settings(
        text in file(),
        env in env(),
        with_file in any::<bool>(),
    ) {
        let file = with_file.then_some((Path::new("/fuzz/gw.toml"), text.as_str()));
        match Settings::load_text(file, env) {
            Err(e) => {
                let e = e.to_string();
                prop_assert!(!e.contains('\n'), "{}", e);
                prop_assert!(!e.contains(MARK) && !e.contains(PW), "{}", e);
            }
            Ok(s) => {
                prop_assert!(s.upstream.timeout >= Duration::from_millis(1));
                prop_assert!(s.upstream.timeout <= YEAR && s.rate_limit.max_wait <= YEAR);
                prop_assert!(s.rate_limit.margin <= Duration::from_secs(1));
                prop_assert!(s.upstream.max_retries <= 10);
                prop_assert!(s.cache.ttl <= YEAR && s.cache.negative_ttl <= YEAR);
                prop_assert!(s.cache.stale_if_error <= YEAR);
                prop_assert!(s.server.header_timeout <= YEAR && s.server.idle_timeout <= YEAR);
                for f in s.cache.routes {
                    prop_assert!(f.ttl <= YEAR && f.negative_ttl <= YEAR);
                }
                for url in [&s.rate_limit.redis_url, &s.cache.redis_url].into_iter().flatten() {
                    prop_assert!(redis::Client::open(&**url).is_ok());
                }
                // A Redis URL's password is shown nowhere (the same text
                // elsewhere, say as a file path, is no password).
                let urls = format!("{:?} {:?}", s.rate_limit.redis_url, s.cache.redis_url);
                let toml = s.to_toml();
                let lines = toml.lines().filter(|l| l.starts_with("redis_url"));
                prop_assert!(!urls.contains(PW), "{}", urls);
                for l in lines {
                    prop_assert!(!l.contains(PW), "{}", l);
                }
            }
        }
    }
}
