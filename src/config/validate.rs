//! Validation: the raw settings -> the typed [`Settings`], each error naming its key.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::routes::table::Freshness;

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
        let timeout = millis("upstream.timeout_ms", self.upstream.timeout_ms, 1)?;
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
        let max_wait = millis("rate_limit.max_wait_ms", rl.max_wait_ms, 0)?;
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
        let redis_url = checked_redis_url("rate_limit.redis_url", rl.redis_url.as_ref())?;
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
        let cache_redis = checked_redis_url("cache.redis_url", c.redis_url.as_ref())?;

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
                timeout,
                max_retries: self.upstream.max_retries,
                max_request_body_bytes: match self.upstream.max_request_body_bytes {
                    0 => {
                        return Err(invalid(
                            "upstream.max_request_body_bytes",
                            "must be at least 1",
                        ));
                    }
                    n if n > 64 * 1024 * 1024 => {
                        return Err(invalid(
                            "upstream.max_request_body_bytes",
                            "must be at most 67108864 (64 MiB)",
                        ));
                    }
                    n => usize::try_from(n).unwrap_or(usize::MAX),
                },
            },
            rate_limit: RateLimitSettings {
                requests_per_second,
                margin: Duration::from_millis(rl.margin_ms),
                max_wait,
                backend,
                redis_url,
                fallback_requests_per_second,
                reserve_for_callers: rl.reserve_for_callers,
            },
            cache: CacheSettings {
                routes: route_freshness(c)?,
                ttl: seconds("cache.ttl_seconds", c.ttl_seconds)?,
                negative_ttl: seconds("cache.negative_ttl_seconds", c.negative_ttl_seconds)?,
                stale_if_error: seconds("cache.stale_if_error_seconds", c.stale_if_error_seconds)?,
                stale_while_revalidate: seconds(
                    "cache.stale_while_revalidate_seconds",
                    c.stale_while_revalidate_seconds,
                )?,
                refresh_ahead: c.refresh_ahead,
                max_bytes: c.max_bytes,
                redis_url: cache_redis,
            },
            server: validate_server(&self.server)?,
            webhook_secret_file: match &self.webhook.secret_file {
                Some(p) if p.trim().is_empty() => {
                    return Err(invalid("webhook.secret_file", "must not be empty"));
                }
                Some(p) => Some(PathBuf::from(p)),
                None => None,
            },
            callers: CallersSettings {
                file: match &self.callers.file {
                    Some(p) if p.trim().is_empty() => {
                        return Err(invalid("callers.file", "must not be empty"));
                    }
                    Some(p) => Some(PathBuf::from(p)),
                    None => None,
                },
                // An empty environment value (`...ANONYMOUS_SCOPES=`) is `[""]`: no scope.
                anonymous_scopes: Scopes::parse(
                    &self
                        .callers
                        .anonymous_scopes
                        .iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>(),
                )
                .map_err(|e| invalid("callers.anonymous_scopes", e))?,
            },
            log,
            otlp_endpoint: validate_otlp_endpoint(self.telemetry.otlp_endpoint.as_deref())?,
            raw: self,
        })
    }
}

fn validate_server(s: &RawServer) -> Result<ServerSettings, ConfigError> {
    let timeout = |key: &'static str, ms: u64| {
        if (1..=MAX_SECONDS * 1000).contains(&ms) {
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

/// The longest duration any setting accepts: a year. Every instant the
/// gateway computes from a setting (a deadline, an entry's expiry) is then
/// far inside what `Instant` can hold, so none of that arithmetic can panic.
pub(super) const MAX_SECONDS: u64 = 366 * 24 * 3600;

fn seconds(key: &'static str, v: u64) -> Result<Duration, ConfigError> {
    if v > MAX_SECONDS {
        return Err(invalid(key, "must be at most a year (31622400)"));
    }
    Ok(Duration::from_secs(v))
}

/// A duration in milliseconds, from `min` to a year.
fn millis(key: &'static str, v: u64, min: u64) -> Result<Duration, ConfigError> {
    if v < min {
        return Err(invalid(key, format!("must be at least {min}")));
    }
    if v > MAX_SECONDS * 1000 {
        return Err(invalid(key, "must be at most a year (31622400000)"));
    }
    Ok(Duration::from_millis(v))
}

/// Each read route's freshness: its `cache.routes.<route>` entry, else its
/// table default, else the global `cache.ttl_seconds` / `negative_ttl_seconds`.
fn route_freshness(c: &RawCache) -> Result<[RouteFreshness; RouteId::COUNT], ConfigError> {
    let global = RouteFreshness {
        ttl: seconds("cache.ttl_seconds", c.ttl_seconds)?,
        negative_ttl: seconds("cache.negative_ttl_seconds", c.negative_ttl_seconds)?,
    };
    for name in c.routes.keys() {
        let bad = |reason: String| ConfigError::InvalidAt {
            // A quoted TOML key may hold anything: shown only if key-shaped.
            key: format!("cache.routes.{}", crate::toml_error::key_segment(name)),
            reason,
        };
        match RouteId::from_name(name) {
            None => {
                let known: Vec<_> = RouteId::ALL
                    .into_iter()
                    .filter(|r| r.spec().stores())
                    .map(RouteId::as_str)
                    .collect();
                return Err(bad(format!(
                    "no such read route; expected one of {}",
                    known.join(", ")
                )));
            }
            Some(r) if !r.spec().stores() => {
                return Err(bad(
                    "this route is never stored, so it has no freshness".into()
                ));
            }
            Some(_) => {}
        }
    }
    let mut out = [global; RouteId::COUNT];
    for (i, id) in RouteId::ALL.into_iter().enumerate() {
        let default = match id.spec().freshness() {
            Freshness::Global => global,
            Freshness::Own { ttl, negative } => RouteFreshness {
                ttl: Duration::from_secs(ttl),
                negative_ttl: Duration::from_secs(negative),
            },
        };
        let own = c.routes.get(id.as_str()).cloned().unwrap_or_default();
        let at = |field: &str, v: Option<u64>, d: Duration| match v {
            None => Ok(d),
            Some(v) if v > MAX_SECONDS => Err(ConfigError::InvalidAt {
                key: format!("cache.routes.{}.{field}", id.as_str()),
                reason: "must be at most a year".into(),
            }),
            Some(v) => Ok(Duration::from_secs(v)),
        };
        out[i] = RouteFreshness {
            ttl: at("ttl_seconds", own.ttl_seconds, default.ttl)?,
            negative_ttl: at(
                "negative_ttl_seconds",
                own.negative_ttl_seconds,
                default.negative_ttl,
            )?,
        };
    }
    Ok(out)
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

/// An `http://` or `https://` URL with a host, no query: the OTLP/HTTP
/// collector, to which `/v1/traces` is appended. Empty (an environment
/// variable set to nothing) means none.
fn validate_otlp_endpoint(s: Option<&str>) -> Result<Option<String>, ConfigError> {
    const KEY: &str = "telemetry.otlp_endpoint";
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let uri: http::Uri = s.parse().map_err(|_| invalid(KEY, "not a valid URL"))?;
    if !matches!(uri.scheme_str(), Some("http") | Some("https")) {
        return Err(invalid(
            KEY,
            "expected an OTLP/HTTP URL such as http://127.0.0.1:4318",
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid(KEY, "has no host"));
    }
    if uri.query().is_some() {
        return Err(invalid(KEY, "must not have a query string"));
    }
    // Never echoed: it may be a password. The exporter would not send it anyway.
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(invalid(
            KEY,
            "must not hold credentials; give the collector's auth header in OTEL_EXPORTER_OTLP_HEADERS",
        ));
    }
    Ok(Some(s.trim_end_matches('/').to_string()))
}

fn checked_redis_url(
    key: &'static str,
    url: Option<&RedisUrl>,
) -> Result<Option<RedisUrl>, ConfigError> {
    url.map(|u| RedisUrl::validate(key, u)).transpose()
}
