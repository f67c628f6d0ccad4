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
mod redis_url;
mod schema;
mod validate;

use crate::auth::scopes::Scopes;
use crate::routes::RouteId;

pub use raw::*;
pub use redis_url::RedisUrl;

/// The repository's `config/default.toml`: every key with its default.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

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
    /// A key set in the file or the environment (`place` says which).
    #[error("invalid value for `{key}` ({place}): {reason}")]
    InvalidIn {
        key: String,
        place: String,
        reason: String,
    },
    #[error("unknown configuration key `{key}` ({place})")]
    UnknownKeyIn { key: String, place: String },
    /// A file or variable that cannot be read at all.
    #[error("{place}: {reason}")]
    Source { place: String, reason: String },
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
    pub redis_url: Option<RedisUrl>,
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
    pub redis_url: Option<RedisUrl>,
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
    /// A one-line [`ConfigError`] naming the offending key (or variable, or
    /// file), never its value.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        // Not `std::env::vars()`: it panics on a value that is not UTF-8.
        Self::load_from(file, schema::utf8_env(std::env::vars_os())?)
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    ///
    /// # Errors
    /// A one-line [`ConfigError`] naming the offending key.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let text = file.map(read_file).transpose()?;
        Self::load_text(file.zip(text.as_deref()), env)
    }

    /// As [`Settings::load_from`], with the file's text already read: the
    /// whole of loading but the file system, for the fuzz properties.
    ///
    /// # Errors
    /// A one-line [`ConfigError`] naming the offending key.
    pub fn load_text(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        use config::{Config, File, FileFormat};

        if let Some((path, text)) = file {
            schema::check_file(path, text)?;
        }
        let overrides = schema::env_overrides(env)?;
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some((_, text)) = file {
            builder = builder.add_source(File::from_str(text, FileFormat::Toml));
        }
        for (key, value) in overrides {
            builder = builder.set_override(key, value).map_err(residual)?;
        }
        let merged = builder.build().map_err(residual)?;
        let raw: RawSettings = merged.try_deserialize().map_err(residual)?;
        raw.validate()
    }

    /// The effective configuration as TOML (the secret is never part of it,
    /// and a Redis URL's password is redacted).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.raw).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// The configuration file's text: a regular file of at most 64 KiB, UTF-8.
fn read_file(path: &Path) -> Result<String, ConfigError> {
    let place = || format!("configuration file {}", path.display());
    let (bytes, _) = crate::watched::read(path).map_err(|e| ConfigError::Source {
        place: place(),
        reason: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| ConfigError::Source {
        place: place(),
        reason: "not UTF-8 text".into(),
    })
}

/// What config-rs still refuses once the schema has passed every layer (it
/// should refuse nothing): its message may quote a value, so only the key is kept.
fn residual(e: config::ConfigError) -> ConfigError {
    use config::ConfigError as E;
    match e {
        E::Type {
            key: Some(key),
            expected,
            ..
        } => ConfigError::InvalidAt {
            key,
            reason: format!("expected {expected}"),
        },
        E::At {
            key: Some(key),
            error,
            ..
        } => match residual(*error) {
            ConfigError::InvalidAt { reason, .. } => ConfigError::InvalidAt { key, reason },
            _ => ConfigError::InvalidAt {
                key,
                reason: "not a valid value".into(),
            },
        },
        E::NotFound(key) => ConfigError::InvalidAt {
            key,
            reason: "missing".into(),
        },
        _ => ConfigError::Load("the configuration could not be read".into()),
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_refused;
