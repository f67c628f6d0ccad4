//! The keys a user may set, with their types, and the checks of the two user
//! layers against them before config-rs merges anything: the TOML file
//! (parsed here, so that a syntax error is placed, not echoed) and the
//! `ALTUR_GATEWAY__*` variables (turned into typed values here).
//!
//! Why types are not left to config-rs and serde: they coerce. A float
//! became the nearest integer (`requests_per_second = 12.5` was 13, over
//! Altur's limit), `true`, `yes` and `on` became 1, and an environment value
//! of `007` for a path became `7`; and their messages quote the value, which
//! may be a line of a file given by mistake or a secret set in the wrong
//! variable. Here each value is checked against its key's type, and every
//! error names the key and where it was set, never the value.

use std::ffi::OsString;
use std::path::Path;

use config::ValueKind;

use super::ConfigError;

/// Prefix of the variables that set keys (`ALTUR_GATEWAY__CACHE__TTL_SECONDS`).
/// The double underscore keeps out `ALTUR_GATEWAY_SERVICE_HOST`, which
/// Kubernetes injects for a Service of that name.
pub(super) const ENV_PREFIX: &str = "ALTUR_GATEWAY__";

/// What a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A whole number from 0 to `max`.
    Int {
        max: u64,
    },
    Str,
    /// `true` or `false`.
    Bool,
    /// A list of strings; comma-separated in the environment.
    List,
}

const U32: Kind = Kind::Int {
    max: u32::MAX as u64,
};
/// TOML's integers are i64, and so are config-rs's: every number must fit one.
const I64: Kind = Kind::Int {
    max: i64::MAX as u64,
};

const SECTIONS: &[&str] = &[
    "upstream",
    "rate_limit",
    "cache",
    "callers",
    "webhook",
    "server",
    "log",
    "telemetry",
];

/// Every key a user may set, but `cache.routes.<route>.*` ([`ROUTE_KEYS`]).
const KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Str),
    ("upstream.base_url", Kind::Str),
    ("upstream.api_key_file", Kind::Str),
    ("upstream.timeout_ms", I64),
    ("upstream.max_retries", U32),
    ("upstream.max_request_body_bytes", I64),
    ("rate_limit.requests_per_second", U32),
    ("rate_limit.margin_ms", I64),
    ("rate_limit.max_wait_ms", I64),
    ("rate_limit.backend", Kind::Str),
    ("rate_limit.redis_url", Kind::Str),
    ("rate_limit.fallback_requests_per_second", U32),
    ("rate_limit.reserve_for_callers", U32),
    ("cache.ttl_seconds", I64),
    ("cache.negative_ttl_seconds", I64),
    ("cache.stale_if_error_seconds", I64),
    ("cache.stale_while_revalidate_seconds", I64),
    ("cache.refresh_ahead", Kind::Bool),
    ("cache.max_bytes", I64),
    ("cache.redis_url", Kind::Str),
    ("callers.file", Kind::Str),
    ("callers.anonymous_scopes", Kind::List),
    ("webhook.secret_file", Kind::Str),
    ("server.header_timeout_ms", I64),
    ("server.idle_timeout_ms", I64),
    ("server.max_connections", I64),
    ("log.format", Kind::Str),
    ("telemetry.otlp_endpoint", Kind::Str),
];

/// The keys of one `cache.routes.<route>` table.
const ROUTE_KEYS: &[(&str, Kind)] = &[("ttl_seconds", I64), ("negative_ttl_seconds", I64)];

enum Node {
    Value(Kind),
    Section,
    Unknown,
}

fn node(path: &[&str]) -> Node {
    // A quoted TOML key may hold a dot; it must not pass for two segments.
    if path.iter().any(|s| s.is_empty() || s.contains('.')) {
        return Node::Unknown;
    }
    let find = |table: &[(&str, Kind)], key: &str| {
        table
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Node::Unknown, |(_, kind)| Node::Value(*kind))
    };
    match path {
        [s] if SECTIONS.contains(s) => Node::Section,
        ["cache", "routes"] | ["cache", "routes", _] => Node::Section,
        ["cache", "routes", _, field] => find(ROUTE_KEYS, field),
        _ => find(KEYS, &path.join(".")),
    }
}

/// Every whole-number key, with `cache.routes.call.*` standing for the route keys.
#[cfg(test)]
pub(super) fn int_keys() -> Vec<String> {
    KEYS.iter()
        .filter(|(_, k)| matches!(k, Kind::Int { .. }))
        .map(|(k, _)| (*k).to_string())
        .chain(
            ROUTE_KEYS
                .iter()
                .map(|(k, _)| format!("cache.routes.call.{k}")),
        )
        .collect()
}

/// The last segment of every key: a TOML syntax error may name these, which
/// are ours, never a word of the file's.
fn leaf_names() -> Vec<&'static str> {
    KEYS.iter()
        .chain(ROUTE_KEYS)
        .map(|(k, _)| k.rsplit('.').next().unwrap_or(k))
        .collect()
}

/// A variable name as it may appear in a message: printable, bounded.
fn shown(s: &str) -> String {
    s.chars()
        .take(120)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn key_of(path: &[&str]) -> String {
    path.iter()
        .map(|s| crate::toml_error::key_segment(s))
        .collect::<Vec<_>>()
        .join(".")
}

fn invalid(path: &[&str], place: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidIn {
        key: key_of(path),
        place: place.to_string(),
        reason: reason.into(),
    }
}

fn unknown(path: &[&str], place: &str) -> ConfigError {
    ConfigError::UnknownKeyIn {
        key: key_of(path),
        place: place.to_string(),
    }
}

/// Checks a configuration file's text against the schema.
///
/// # Errors
/// A syntax error (placed by line and column), an unknown key or a value of
/// the wrong type, naming the file and the key.
pub(super) fn check_file(path: &Path, text: &str) -> Result<(), ConfigError> {
    let place = format!("in configuration file {}", path.display());
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Source {
        place: place.clone(),
        reason: crate::toml_error::describe(text, &e, &leaf_names()),
    })?;
    walk(&mut Vec::new(), &table, &place)
}

fn walk<'a>(
    path: &mut Vec<&'a str>,
    table: &'a toml::Table,
    place: &str,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        path.push(k);
        match node(path) {
            Node::Section => match v.as_table() {
                Some(inner) => walk(path, inner, place)?,
                None => return Err(invalid(path, place, "must be a table (a [section])")),
            },
            Node::Value(kind) => check_toml(kind, v).map_err(|r| invalid(path, place, r))?,
            Node::Unknown => return Err(unknown(path, place)),
        }
        path.pop();
    }
    Ok(())
}

fn check_toml(kind: Kind, v: &toml::Value) -> Result<(), String> {
    use toml::Value as T;
    match (kind, v) {
        (Kind::Int { max }, T::Integer(i)) => in_range(i128::from(*i), max),
        (Kind::Int { .. }, T::Float(_)) => Err(NOT_A_FRACTION.into()),
        (Kind::Int { .. }, _) => Err("must be a whole number, written without quotes".into()),
        (Kind::Str, T::String(_)) => Ok(()),
        (Kind::Str, _) => Err("must be a string, in quotes".into()),
        (Kind::Bool, T::Boolean(_)) => Ok(()),
        (Kind::Bool, _) => Err("must be true or false, without quotes".into()),
        (Kind::List, T::Array(items)) if items.iter().all(toml::Value::is_str) => Ok(()),
        (Kind::List, _) => Err("must be a list of strings".into()),
    }
}

const NOT_A_FRACTION: &str = "must be a whole number, not a fraction or an exponent";

fn in_range(v: i128, max: u64) -> Result<(), String> {
    if v < 0 {
        Err("must not be negative".into())
    } else if v > i128::from(max) {
        Err(format!("must be at most {max}"))
    } else {
        Ok(())
    }
}

/// The `ALTUR_GATEWAY__*` variables of a process environment, as strings.
/// Any other variable is not ours to judge and is skipped, whatever it holds.
///
/// # Errors
/// One of ours whose name or value is not UTF-8, naming the variable (never
/// the value).
pub(super) fn utf8_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in vars {
        if !name.as_encoded_bytes().starts_with(ENV_PREFIX.as_bytes()) {
            continue;
        }
        let shown_name = shown(&name.to_string_lossy());
        let Ok(name) = name.into_string() else {
            return Err(ConfigError::Source {
                place: format!("environment variable {shown_name}"),
                reason: "its name is not valid UTF-8".into(),
            });
        };
        let Ok(value) = value.into_string() else {
            return Err(ConfigError::Source {
                place: format!("environment variable {shown_name}"),
                reason: "its value is not valid UTF-8".into(),
            });
        };
        out.push((name, value));
    }
    Ok(out)
}

/// The typed values the `ALTUR_GATEWAY__*` variables set, keyed by
/// configuration path (`cache.ttl_seconds`); other variables are skipped.
///
/// # Errors
/// An unknown key or a value of the wrong type, naming the key and variable.
pub(super) fn env_overrides(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, ValueKind)>, ConfigError> {
    let mut out = Vec::new();
    for (var, value) in vars {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let place = format!("from environment variable {}", shown(&var));
        let lower = rest.to_lowercase();
        let path: Vec<&str> = lower.split("__").collect();
        let plain = path.iter().all(|s| {
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        let kind = match node(&path) {
            Node::Value(kind) if plain => kind,
            Node::Section => {
                return Err(invalid(&path, &place, "is a section; set one of its keys"));
            }
            _ => return Err(unknown(&path, &place)),
        };
        let typed = match kind {
            Kind::Str => ValueKind::String(value),
            Kind::Bool => match value.as_str() {
                "true" => ValueKind::Boolean(true),
                "false" => ValueKind::Boolean(false),
                _ => return Err(invalid(&path, &place, "must be true or false")),
            },
            Kind::List => ValueKind::Array(
                value
                    .split(',')
                    .map(|s| config::Value::from(s.to_string()))
                    .collect(),
            ),
            Kind::Int { max } => {
                ValueKind::I64(parse_int(&value, max).map_err(|r| invalid(&path, &place, r))?)
            }
        };
        out.push((path.join("."), typed));
    }
    Ok(out)
}

/// A whole number from an environment value, exactly as written.
fn parse_int(s: &str, max: u64) -> Result<i64, String> {
    if let Ok(v) = s.parse::<i128>() {
        in_range(v, max)?;
        // In range, so at most i64::MAX.
        return i64::try_from(v).map_err(|_| format!("must be at most {max}"));
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than even an i128 holds.
        return Err(if s.starts_with('-') {
            "must not be negative".into()
        } else {
            format!("must be at most {max}")
        });
    }
    if s.parse::<f64>().is_ok_and(f64::is_finite) {
        return Err(NOT_A_FRACTION.into());
    }
    Err("must be a whole number".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_key_is_a_field_of_the_defaults() {
        let defaults: toml::Table = toml::from_str(super::super::DEFAULT_TOML).expect("valid");
        let mut path = Vec::new();
        walk(&mut path, &defaults, "defaults").expect("the defaults fit the schema");
    }

    #[test]
    fn whole_numbers_from_the_environment() {
        let max = u64::from(u32::MAX);
        assert_eq!(parse_int("12", max), Ok(12));
        assert_eq!(parse_int("+12", max), Ok(12));
        assert_eq!(parse_int("0", max), Ok(0));
        for (s, needle) in [
            ("12.5", "fraction"),
            ("12.0", "fraction"),
            ("1e3", "fraction"),
            ("-1", "negative"),
            ("4294967296", "at most 4294967295"),
            ("18446744073709551615", "at most"),
            ("99999999999999999999999999999999999999999", "at most"),
            ("-99999999999999999999999999999999999999999", "negative"),
            ("true", "whole number"),
            ("", "whole number"),
            (" 12", "whole number"),
            ("NaN", "whole number"),
        ] {
            let e = parse_int(s, max).expect_err(s);
            assert!(e.contains(needle), "{s}: {e}");
        }
    }
}
