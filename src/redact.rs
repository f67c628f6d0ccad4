//! Secrets that travel inside other values: the user info of a URL (a Redis
//! URL carries its password there) and a `pass` / `password` query value.
//!
//! The Redis URLs of the configuration are held as `config::RedisUrl`, which
//! shows itself through [`url`] everywhere it can be shown (`Debug`,
//! `Display`, and `Serialize`, which is what `check-config` prints).

use std::borrow::Cow;

/// What a secret is shown as.
pub const REDACTED: &str = "[REDACTED]";

/// Query parameters that carry a password (redis-rs reads `pass` on
/// `redis+unix:` URLs).
const SECRET_PARAMS: [&str; 2] = ["pass", "password"];

/// `s` with the user info of its authority and any password query value
/// replaced by [`REDACTED`]: `redis://:pw@host:6379/0` becomes
/// `redis://[REDACTED]@host:6379/0`. Something that is not a URL but holds
/// an `@` is redacted whole, as it cannot be told apart.
pub fn url(s: &str) -> Cow<'_, str> {
    let Some(scheme_end) = s.find("://").map(|i| i + 3) else {
        return if s.contains('@') {
            Cow::Borrowed(REDACTED)
        } else {
            Cow::Borrowed(s)
        };
    };
    let rest = &s[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let user_info = authority.rfind('@');
    let query = query_range(tail);
    let secret_query = query.clone().is_some_and(|q| {
        tail[q]
            .split('&')
            .any(|pair| SECRET_PARAMS.contains(&pair.split('=').next().unwrap_or(pair)))
    });
    if user_info.is_none() && !secret_query {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..scheme_end]);
    match user_info {
        Some(at) => {
            out.push_str(REDACTED);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    match query {
        Some(q) if secret_query => {
            out.push_str(&tail[..q.start]);
            let pairs: Vec<String> = tail[q.clone()]
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if SECRET_PARAMS.contains(&k) => format!("{k}={REDACTED}"),
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
            out.push_str(&tail[q.end..]);
        }
        _ => out.push_str(tail),
    }
    Cow::Owned(out)
}

/// The byte range of the query in `tail` (after `?`, before `#`).
fn query_range(tail: &str) -> Option<std::ops::Range<usize>> {
    let fragment = tail.find('#').unwrap_or(tail.len());
    let start = tail[..fragment].find('?')? + 1;
    Some(start..fragment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_and_password_parameters_are_redacted() {
        for (given, shown) in [
            (
                "redis://:hunter2pw@10.0.0.5:6379/0",
                "redis://[REDACTED]@10.0.0.5:6379/0",
            ),
            (
                "rediss://app:hunter2pw@redis.internal:6380",
                "rediss://[REDACTED]@redis.internal:6380",
            ),
            (
                "redis://u:p@ss@host/1?protocol=resp3#x",
                "redis://[REDACTED]@host/1?protocol=resp3#x",
            ),
            (
                "redis+unix:///run/redis.sock?db=1&pass=hunter2pw",
                "redis+unix:///run/redis.sock?db=1&pass=[REDACTED]",
            ),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            (
                "https://api.altur.io/api/v1.0",
                "https://api.altur.io/api/v1.0",
            ),
            ("user:hunter2pw@host", REDACTED),
        ] {
            assert_eq!(url(given), shown, "{given}");
        }
    }

    #[test]
    fn settings_debug_never_shows_a_redis_password() {
        let env = [
            ("ALTUR_GATEWAY__RATE_LIMIT__BACKEND", "redis"),
            (
                "ALTUR_GATEWAY__RATE_LIMIT__REDIS_URL",
                "redis://:hunter2pw@127.0.0.1:6379/0",
            ),
            (
                "ALTUR_GATEWAY__CACHE__REDIS_URL",
                "redis://app:cachepw7@127.0.0.1:6379/1",
            ),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let settings = crate::config::Settings::load_from(None, env).expect("valid");
        for shown in [format!("{settings:?}"), settings.to_toml()] {
            assert!(
                !shown.contains("hunter2pw") && !shown.contains("cachepw7"),
                "{shown}"
            );
        }
        let rl = settings.rate_limit.redis_url.as_deref();
        assert_eq!(rl, Some("redis://:hunter2pw@127.0.0.1:6379/0"));
    }
}
