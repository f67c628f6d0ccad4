//! The callers file's TOML, read by hand into raw callers.
//!
//! Not serde: its messages quote what they refuse (`invalid type: string
//! "..."`), and the file is named by an operator who may point it at the
//! wrong file. Here every error names the caller (by its place in the file)
//! and the field, and never repeats a value; a syntax error is placed by
//! line and column ([`crate::toml_error`]).

use crate::toml_error::{describe, key_segment};

/// The fields of a `[[caller]]` table.
const FIELDS: &[&str] = &[
    "name",
    "token_sha256",
    "scopes",
    "weight",
    "requests_per_second",
];

/// One `[[caller]]` as written, types checked, values not yet validated.
#[derive(Debug)]
pub(super) struct RawCaller {
    pub name: String,
    pub token_sha256: String,
    pub scopes: Vec<String>,
    /// 1 when absent.
    pub weight: i64,
    pub requests_per_second: Option<i64>,
}

/// The callers of `text`, in file order.
///
/// # Errors
/// The first problem, in one line naming the caller and field.
pub(super) fn read(text: &str) -> Result<Vec<RawCaller>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| describe(text, &e, FIELDS))?;
    if let Some(k) = table.keys().find(|k| *k != "caller") {
        return Err(format!(
            "unknown key `{}`: the file holds only [[caller]] tables",
            key_segment(k)
        ));
    }
    let Some(callers) = table.get("caller") else {
        return Ok(Vec::new());
    };
    let Some(list) = callers.as_array() else {
        return Err("`caller` must be a list of tables, written [[caller]]".into());
    };
    list.iter()
        .enumerate()
        .map(|(i, c)| one(c).map_err(|what| format!("caller {}: {what}", i + 1)))
        .collect()
}

fn one(c: &toml::Value) -> Result<RawCaller, String> {
    let Some(t) = c.as_table() else {
        return Err("must be a table, written [[caller]]".into());
    };
    if let Some(k) = t.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field `{}`", key_segment(k)));
    }
    let string = |field: &str, what: &str| match t.get(field) {
        Some(toml::Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("{field} must be {what}")),
    };
    let whole = |field: &str, what: &str| match t.get(field) {
        None => Ok(None),
        Some(toml::Value::Integer(n)) => Ok(Some(*n)),
        Some(_) => Err(format!("{field} must be {what}")),
    };
    let scopes = match t.get("scopes") {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or("scopes must be a list of strings")?,
        Some(_) => return Err("scopes must be a list of strings".into()),
    };
    Ok(RawCaller {
        name: string("name", "a string of 1-32 of [a-z0-9_-]")?,
        token_sha256: string("token_sha256", "64 hex digits, in quotes")?,
        scopes,
        weight: whole("weight", "a whole number from 1 to 100")?.unwrap_or(1),
        requests_per_second: whole("requests_per_second", "a whole number of at least 1")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_checked_without_repeating_values() {
        let head = "[[caller]]\nname = \"a\"\ntoken_sha256 = \"00\"\n";
        for (extra, needle) in [
            ("weight = 2.5\n", "weight must be a whole number"),
            ("weight = \"SECRET\"\n", "weight must be"),
            ("requests_per_second = 1.5\n", "requests_per_second must be"),
            ("scopes = \"SECRET\"\n", "scopes must be a list"),
            ("scopes = [1]\n", "scopes must be a list"),
            ("SECRET-x = 1\n", "unknown field `…`"),
            ("password = \"SECRET\"\n", "unknown field `password`"),
        ] {
            let e = read(&format!("{head}{extra}")).expect_err(extra);
            assert!(
                e.starts_with("caller 1: ") && e.contains(needle),
                "{extra}: {e}"
            );
            assert!(!e.contains("SECRET"), "{e}");
        }
        for (text, needle) in [
            ("caller = 1\n", "list of tables"),
            ("caller = [1]\n", "caller 1: must be a table"),
            ("[[caller]]\ntoken_sha256 = \"00\"\n", "name must be"),
            ("[[caller]]\nname = 3\n", "name must be"),
            ("[[caller]]\nname = \"a\"\n", "token_sha256 must be"),
            ("[owner]\nSECRET = 1\n", "unknown key `owner`"),
            ("SECRET = 1\n", "unknown key `…`"),
            ("root:SECRET:0:0:::\n", "line 1, column"),
        ] {
            let e = read(text).expect_err(text);
            assert!(e.contains(needle), "{text}: {e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
        assert!(read("").expect("empty is no callers").is_empty());
    }
}
