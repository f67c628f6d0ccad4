//! Validation: the raw settings -> the typed [`Settings`], each error naming its key.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

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
            log,
            raw: self,
        })
    }
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
