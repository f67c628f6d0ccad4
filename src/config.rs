//! Settings: compiled defaults -> TOML file -> environment, validated into typed values.
//!
//! The compiled defaults are `config/default.toml` itself (`include_str!`), so the
//! documented defaults and the real ones cannot drift apart. Everything is
//! validated here, before the listener is bound, and every error names its key.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The repository's `config/default.toml`: every key with its default.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of the environment variables that override settings
/// (`ALTUR_GATEWAY__CACHE__TTL_SECONDS`). The double underscore keeps out
/// `ALTUR_GATEWAY_SERVICE_HOST`, which Kubernetes injects for a Service of that name.
const ENV_PREFIX: &str = "ALTUR_GATEWAY";

/// Every key a user may set. Anything else is an error naming the key.
const KNOWN_KEYS: &[&str] = &[
    "listen",
    "upstream.base_url",
    "upstream.api_key_file",
    "upstream.timeout_ms",
    "upstream.max_retries",
    "rate_limit.requests_per_second",
    "rate_limit.margin_ms",
    "rate_limit.max_wait_ms",
    "rate_limit.backend",
    "rate_limit.redis_url",
    "rate_limit.fallback_requests_per_second",
    "cache.ttl_seconds",
    "cache.negative_ttl_seconds",
    "cache.stale_if_error_seconds",
    "cache.max_bytes",
    "cache.redis_url",
    "server.header_timeout_ms",
    "server.idle_timeout_ms",
    "server.max_connections",
    "log.format",
];

/// A configuration problem; the message names the key and is one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key `{0}`")]
    UnknownKey(String),
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("{0}")]
    Load(String),
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// The settings as written by the user, before validation. Serialized back by
/// `check-config`; it never holds the secret.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub listen: String,
    pub upstream: RawUpstream,
    pub rate_limit: RawRateLimit,
    pub cache: RawCache,
    pub server: RawServer,
    pub log: RawLog,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<String>,
    pub timeout_ms: u64,
    pub max_retries: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub requests_per_second: u32,
    pub margin_ms: u64,
    pub max_wait_ms: u64,
    pub backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    pub fallback_requests_per_second: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub ttl_seconds: u64,
    pub negative_ttl_seconds: u64,
    pub stale_if_error_seconds: u64,
    pub max_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub header_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// Absent: derived from the open-file limit at start-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: String,
}

/// Validated settings, in the types the gateway uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub upstream: UpstreamSettings,
    pub rate_limit: RateLimitSettings,
    pub cache: CacheSettings,
    pub server: ServerSettings,
    pub log: LogFormat,
    /// What the user wrote, for `check-config`.
    pub raw: RawSettings,
}

#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Base URL without a trailing slash, e.g. `https://api.altur.io/api/v1.0`.
    pub base_url: String,
    pub api_key_file: Option<PathBuf>,
    pub timeout: Duration,
    pub max_retries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Redis,
}

#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub requests_per_second: NonZeroU32,
    pub margin: Duration,
    pub max_wait: Duration,
    pub backend: Backend,
    pub redis_url: Option<String>,
    pub fallback_requests_per_second: NonZeroU32,
}

impl RateLimitSettings {
    /// The sliding window the limit applies to: one second plus the margin.
    pub fn window(&self) -> Duration {
        Duration::from_secs(1) + self.margin
    }
}

#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub ttl: Duration,
    pub negative_ttl: Duration,
    pub stale_if_error: Duration,
    pub max_bytes: u64,
    pub redis_url: Option<String>,
}

/// Connection limits (see `server.*` in `config/default.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// `None`: derived from the open-file limit when the server starts.
    pub max_connections: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Loads defaults, then `file` (if any), then `ALTUR_GATEWAY__*` variables
    /// from the process environment, and validates the result.
    ///
    /// # Errors
    /// A one-line [`ConfigError`] naming the offending key.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    ///
    /// # Errors
    /// A one-line [`ConfigError`] naming the offending key.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        use config::{Config, Environment, File, FileFormat};

        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
            .collect();
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "configuration file {} does not exist or is not a file",
                    path.display()
                )));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        let builder = builder.add_source(
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        let merged = builder
            .build()
            .map_err(|e| ConfigError::Load(one_line(&e.to_string())))?;

        check_known_keys(&merged)?;
        let raw: RawSettings = merged
            .try_deserialize()
            .map_err(|e| ConfigError::Load(one_line(&e.to_string())))?;
        raw.validate()
    }

    /// The effective configuration as TOML (the secret is never part of it).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.raw).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_known_keys(merged: &config::Config) -> Result<(), ConfigError> {
    let table = merged
        .clone()
        .try_deserialize::<config::Map<String, config::Value>>()
        .map_err(|e| ConfigError::Load(one_line(&e.to_string())))?;
    for (section, value) in table {
        match value.into_table() {
            Ok(inner) if section != "listen" => {
                for key in inner.keys() {
                    let path = format!("{section}.{key}");
                    if !KNOWN_KEYS.contains(&path.as_str()) {
                        return Err(ConfigError::UnknownKey(path));
                    }
                }
                if !KNOWN_KEYS
                    .iter()
                    .any(|k| k.starts_with(&format!("{section}.")))
                {
                    return Err(ConfigError::UnknownKey(section));
                }
            }
            _ => {
                if !KNOWN_KEYS.contains(&section.as_str()) {
                    return Err(ConfigError::UnknownKey(section));
                }
            }
        }
    }
    Ok(())
}

impl RawSettings {
    /// Turns strings and numbers into typed values.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|_| invalid("listen", "expected an address such as 0.0.0.0:8080"))?;

        let base_url = validate_base_url(&self.upstream.base_url)?;
        if self.upstream.timeout_ms == 0 {
            return Err(invalid("upstream.timeout_ms", "must be at least 1"));
        }
        if self.upstream.max_retries > 10 {
            return Err(invalid("upstream.max_retries", "must be at most 10"));
        }
        let api_key_file = match &self.upstream.api_key_file {
            Some(p) if p.trim().is_empty() => {
                return Err(invalid("upstream.api_key_file", "must not be empty"));
            }
            Some(p) => Some(PathBuf::from(p)),
            None => None,
        };

        let rl = &self.rate_limit;
        let requests_per_second = NonZeroU32::new(rl.requests_per_second)
            .ok_or_else(|| invalid("rate_limit.requests_per_second", "must be at least 1"))?;
        let fallback_requests_per_second = NonZeroU32::new(rl.fallback_requests_per_second)
            .ok_or_else(|| {
                invalid(
                    "rate_limit.fallback_requests_per_second",
                    "must be at least 1",
                )
            })?;
        if rl.margin_ms > 1000 {
            return Err(invalid("rate_limit.margin_ms", "must be at most 1000"));
        }
        let backend = match rl.backend.as_str() {
            "local" => Backend::Local,
            "redis" => Backend::Redis,
            _ => {
                return Err(invalid(
                    "rate_limit.backend",
                    "expected \"local\" or \"redis\"",
                ));
            }
        };
        let redis_url = validate_redis_url("rate_limit.redis_url", rl.redis_url.as_deref())?;
        if backend == Backend::Redis && redis_url.is_none() {
            return Err(invalid(
                "rate_limit.redis_url",
                "required when rate_limit.backend is \"redis\"",
            ));
        }

        let c = &self.cache;
        if c.max_bytes == 0 {
            return Err(invalid("cache.max_bytes", "must be at least 1"));
        }
        let cache_redis = validate_redis_url("cache.redis_url", c.redis_url.as_deref())?;

        let server = validate_server(&self.server)?;

        let log = match self.log.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(invalid("log.format", "expected \"text\" or \"json\"")),
        };

        Ok(Settings {
            listen,
            upstream: UpstreamSettings {
                base_url,
                api_key_file,
                timeout: Duration::from_millis(self.upstream.timeout_ms),
                max_retries: self.upstream.max_retries,
            },
            rate_limit: RateLimitSettings {
                requests_per_second,
                margin: Duration::from_millis(rl.margin_ms),
                max_wait: Duration::from_millis(rl.max_wait_ms),
                backend,
                redis_url,
                fallback_requests_per_second,
            },
            cache: CacheSettings {
                ttl: Duration::from_secs(c.ttl_seconds),
                negative_ttl: Duration::from_secs(c.negative_ttl_seconds),
                stale_if_error: Duration::from_secs(c.stale_if_error_seconds),
                max_bytes: c.max_bytes,
                redis_url: cache_redis,
            },
            server,
            log,
            raw: self,
        })
    }
}

fn validate_server(s: &RawServer) -> Result<ServerSettings, ConfigError> {
    const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;
    let timeout = |key: &'static str, ms: u64| {
        if (1..=YEAR_MS).contains(&ms) {
            Ok(Duration::from_millis(ms))
        } else {
            Err(invalid(key, "must be between 1 ms and one year"))
        }
    };
    let max_connections = match s.max_connections {
        None => None,
        Some(0) => return Err(invalid("server.max_connections", "must be at least 1")),
        Some(n) => {
            Some(usize::try_from(n).map_err(|_| invalid("server.max_connections", "too large"))?)
        }
    };
    Ok(ServerSettings {
        header_timeout: timeout("server.header_timeout_ms", s.header_timeout_ms)?,
        idle_timeout: timeout("server.idle_timeout_ms", s.idle_timeout_ms)?,
        max_connections,
    })
}

fn validate_base_url(s: &str) -> Result<String, ConfigError> {
    const KEY: &str = "upstream.base_url";
    let uri: http::Uri = s.parse().map_err(|_| invalid(KEY, "not a valid URL"))?;
    match uri.scheme_str() {
        Some("https") | Some("http") => {}
        _ => {
            return Err(invalid(
                KEY,
                "must start with https:// (or http:// for local use)",
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid(KEY, "has no host"));
    }
    if uri.query().is_some() {
        return Err(invalid(KEY, "must not have a query string"));
    }
    Ok(s.trim_end_matches('/').to_string())
}

fn validate_redis_url(key: &'static str, s: Option<&str>) -> Result<Option<String>, ConfigError> {
    let Some(s) = s else { return Ok(None) };
    let uri: http::Uri = s.parse().map_err(|_| invalid(key, "not a valid URL"))?;
    match uri.scheme_str() {
        Some("redis") | Some("rediss") if uri.host().is_some() => Ok(Some(s.to_string())),
        _ => Err(invalid(
            key,
            "expected a URL such as redis://127.0.0.1:6379",
        )),
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(s.server.header_timeout, Duration::from_secs(10));
        assert_eq!(s.server.idle_timeout, Duration::from_secs(75));
        assert_eq!(s.server.max_connections, None, "derived at start-up");
    }

    #[test]
    fn server_limits_are_validated() {
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
            ("IDLE_TIMEOUT_MS", "31536000001", "server.idle_timeout_ms"),
            ("MAX_CONNECTIONS", "0", "server.max_connections"),
            ("MAX_CONNECTIONS", "-3", "max_connections"),
            ("BACKLOG", "1", "server.backlog"),
        ] {
            let e = err_of(&[(&format!("ALTUR_GATEWAY__SERVER__{k}"), v)]);
            assert!(e.contains(needle), "{k}={v}: {e}");
        }
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
}
