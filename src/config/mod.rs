//! Settings: compiled defaults -> TOML file -> environment, validated into typed values.
//!
//! The compiled defaults are `config/default.toml` itself (`include_str!`), so the
//! documented defaults and the real ones cannot drift apart. Everything is
//! validated here, before the listener is bound, and every error names its key.
//!
//! [`raw`] is the file's shape (serde, `deny_unknown_fields`), [`validate`]
//! turns it into the typed [`Settings`] below.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod raw;
mod validate;

use crate::auth::scopes::Scopes;
use crate::redact::SecretUrl;
use crate::routes::RouteId;

pub use raw::*;

/// The repository's `config/default.toml`: every key with its default.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

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
    "upstream.max_request_body_bytes",
    "rate_limit.requests_per_second",
    "rate_limit.margin_ms",
    "rate_limit.max_wait_ms",
    "rate_limit.backend",
    "rate_limit.redis_url",
    "rate_limit.fallback_requests_per_second",
    "rate_limit.reserve_for_callers",
    "cache.ttl_seconds",
    "cache.negative_ttl_seconds",
    "cache.stale_if_error_seconds",
    "cache.stale_while_revalidate_seconds",
    "cache.refresh_ahead",
    "cache.max_bytes",
    "cache.redis_url",
    "cache.routes",
    "callers.file",
    "callers.anonymous_scopes",
    "webhook.secret_file",
    "server.header_timeout_ms",
    "server.idle_timeout_ms",
    "server.max_connections",
    "log.format",
    "telemetry.otlp_endpoint",
];

/// A configuration problem; the message names the key and is one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key `{0}`")]
    UnknownKey(String),
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    /// As `Invalid`, for a key whose name is built (`cache.routes.<route>.*`).
    #[error("invalid value for `{key}`: {reason}")]
    InvalidAt { key: String, reason: String },
    #[error("{0}")]
    Load(String),
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// Validated settings, in the types the gateway uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub upstream: UpstreamSettings,
    pub rate_limit: RateLimitSettings,
    pub cache: CacheSettings,
    pub callers: CallersSettings,
    /// The webhook secret's file; none: `POST /webhooks/altur` is 404.
    pub webhook_secret_file: Option<PathBuf>,
    pub server: ServerSettings,
    pub log: LogFormat,
    /// `telemetry.otlp_endpoint`: where to export traces; none: no export.
    pub otlp_endpoint: Option<String>,
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
    /// The largest write body accepted.
    pub max_request_body_bytes: usize,
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
    /// May hold a password: shown redacted, see [`SecretUrl`].
    pub redis_url: Option<SecretUrl>,
    pub fallback_requests_per_second: NonZeroU32,
    /// Starts of every window that background refreshes never take.
    pub reserve_for_callers: u32,
}

impl RateLimitSettings {
    /// Most starts of a window background refreshes may take.
    pub fn background_cap(&self) -> usize {
        self.requests_per_second
            .get()
            .saturating_sub(self.reserve_for_callers) as usize
    }

    /// The sliding window the limit applies to: one second plus the margin.
    pub fn window(&self) -> Duration {
        Duration::from_secs(1) + self.margin
    }
}

#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Freshness of each read route, indexed by `RouteId as usize`.
    pub routes: [RouteFreshness; RouteId::COUNT],
    pub ttl: Duration,
    pub negative_ttl: Duration,
    pub stale_if_error: Duration,
    pub stale_while_revalidate: Duration,
    pub refresh_ahead: bool,
    pub max_bytes: u64,
    /// May hold a password: shown redacted, see [`SecretUrl`].
    pub redis_url: Option<SecretUrl>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Connection limits (see `server.*` in `config/default.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// `None`: derived from the open-file limit when the server starts.
    pub max_connections: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct CallersSettings {
    /// The callers file; none: every request is the anonymous caller.
    pub file: Option<PathBuf>,
    /// What a request without a caller token may do.
    pub anonymous_scopes: Scopes,
}

/// How long a read route's answers stay fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteFreshness {
    /// A stored 200.
    pub ttl: Duration,
    /// A stored 404.
    pub negative_ttl: Duration,
}

impl CacheSettings {
    pub fn freshness(&self, route: RouteId) -> RouteFreshness {
        self.routes[route as usize]
    }
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
                .list_separator(",")
                .with_list_parse_key("callers.anonymous_scopes")
                .source(Some(env)),
        );
        let merged = builder
            .build()
            .map_err(|e| ConfigError::Load(build_error(&e)))?;

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

/// Why the layers could not be merged. A file that does not parse is named
/// with the parser's position and reason, never the offending line, which
/// the TOML parser quotes and which may hold a Redis password.
fn build_error(e: &config::ConfigError) -> String {
    let config::ConfigError::FileParse { uri, cause } = e else {
        return one_line(&e.to_string());
    };
    let text = cause.to_string();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    // The snippet is the lines drawn with `|`; the reason follows it.
    let snippet_end = lines
        .iter()
        .rposition(|l| {
            l.starts_with('|')
                || l.split_once(" |")
                    .is_some_and(|(n, _)| n.parse::<u64>().is_ok())
        })
        .map_or(1, |i| i + 1);
    let at = lines.first().copied().unwrap_or("cannot parse");
    let why = one_line(&lines.get(snippet_end..).unwrap_or_default().join(" "));
    let file = uri.as_deref().unwrap_or("the configuration file");
    format!("{file}: {at}: {why}")
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

#[cfg(test)]
mod tests;
