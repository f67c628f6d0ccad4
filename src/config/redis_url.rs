//! A Redis URL (`rate_limit.redis_url`, `cache.redis_url`): validated in full
//! when the configuration loads, so that `check-config` refuses what `serve`
//! could not use (`redis://127.0.0.1:99999` used to pass the one and fail the
//! other), and never shown with its user information, which holds the
//! password: not in `check-config`, a log, an error or `Debug` output.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize, Serializer};

use super::{ConfigError, invalid};

/// A Redis URL the client accepts. Derefs to the full URL, for connecting.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Checks scheme, host, port, database and the client's own parse.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `key`; the message never holds the URL.
    pub fn validate(key: &'static str, s: &str) -> Result<RedisUrl, ConfigError> {
        let url = redis::parse_redis_url(s).ok_or_else(|| {
            invalid(
                key,
                "not a valid URL; expected redis://[user:password@]host[:port][/db] with a port from 1 to 65535",
            )
        })?;
        match url.scheme() {
            "redis" => {}
            "rediss" => {
                return Err(invalid(
                    key,
                    "rediss:// (TLS to Redis) is not built into this gateway; use redis://",
                ));
            }
            _ => return Err(invalid(key, "expected a redis:// URL")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(key, "has no host"));
        }
        if url.port() == Some(0) {
            return Err(invalid(key, "the port must be from 1 to 65535"));
        }
        let db = url.path().trim_matches('/');
        if !db.is_empty() && db.parse::<u16>().is_err() {
            return Err(invalid(key, "the path must be a database number, e.g. /0"));
        }
        if url.fragment().is_some() {
            return Err(invalid(key, "must not have a #fragment"));
        }
        // The last word is the client's: whatever it would refuse at start-up.
        redis::Client::open(s).map_err(|_| invalid(key, "not a URL the Redis client accepts"))?;
        Ok(RedisUrl(s.to_string()))
    }

    /// The URL with its user information (user and password) replaced.
    pub fn redacted(&self) -> String {
        // The gateway's one redaction of URLs: user info, and a `pass` /
        // `password` query value (redis-rs reads one on some schemes).
        crate::redact::url(&self.0).into_owned()
    }
}

impl Deref for RedisUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `check-config` prints the configuration from this: redacted.
impl Serialize for RedisUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "cache.redis_url";

    #[test]
    fn good_urls_pass_and_bad_ones_name_the_key() {
        for ok in [
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1",
            "redis://user:pw@redis.internal:6380/1",
            "redis://:pw@[::1]:6379/0",
        ] {
            assert!(RedisUrl::validate(KEY, ok).is_ok(), "{ok}");
        }
        for (bad, needle) in [
            ("redis://127.0.0.1:99999", "port"),
            ("redis://127.0.0.1:0", "port"),
            ("redis://127.0.0.1:-1", "port"),
            ("http://127.0.0.1:6379", "redis://"),
            ("rediss://127.0.0.1:6379", "TLS"),
            ("unix:///tmp/redis.sock", "redis://"),
            ("redis://", "host"),
            ("redis://:hunter2@", "host"),
            ("redis://127.0.0.1:6379/x", "database"),
            ("redis://127.0.0.1:6379/0#x", "fragment"),
            ("redis://0.0.0.0:6379", "client accepts"),
            ("127.0.0.1:6379", "valid URL"),
            ("", "valid URL"),
        ] {
            let e = RedisUrl::validate(KEY, bad).expect_err(bad).to_string();
            assert!(e.contains(KEY) && e.contains(needle), "{bad}: {e}");
            assert!(!e.contains("hunter2") && !e.contains("127.0.0.1"), "{e}");
        }
    }

    #[test]
    fn the_password_is_never_shown() {
        let url = RedisUrl::validate(KEY, "redis://app:s3cret-pw@redis:6379/1").expect("valid");
        for shown in [
            format!("{url:?}"),
            url.to_string(),
            toml::to_string(&std::collections::BTreeMap::from([("u", url.clone())])).expect("toml"),
        ] {
            assert!(
                !shown.contains("s3cret-pw") && !shown.contains("app"),
                "{shown}"
            );
            assert!(shown.contains("[REDACTED]@redis:6379/1"), "{shown}");
        }
        assert_eq!(
            &*url, "redis://app:s3cret-pw@redis:6379/1",
            "the client gets it all"
        );
        let plain = RedisUrl::validate(KEY, "redis://h:1/0").expect("valid");
        assert_eq!(plain.redacted(), "redis://h:1/0", "nothing to hide");
    }

    proptest::proptest! {
        #[test]
        fn fuzz_a_redis_url_never_panics_or_leaks(s in "(?s:.{0,60})", pw in "[a-z]{12}") {
            let _ = RedisUrl::validate(KEY, &s);
            let with_pw = format!("redis://u:{pw}@{s}");
            match RedisUrl::validate(KEY, &with_pw) {
                Ok(u) => {
                    let shown = format!("{u:?} {u}");
                    proptest::prop_assert!(!shown.contains(&pw), "{}", shown);
                }
                Err(e) => {
                    let shown = e.to_string();
                    proptest::prop_assert!(!shown.contains(&pw), "{}", shown);
                }
            }
        }
    }
}
