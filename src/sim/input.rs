//! What a request carries into a handler: query parameters (percent-decoded,
//! `+` kept literal because cursors contain it), paging, date ranges and
//! JSON bodies, each refused with Altur's 400 `INVALID_REQUEST` when wrong.
//!
//! Unknown query parameters are ignored, as a lenient API would; the gateway
//! is what refuses them.

use serde_json::{Map, Value, json};

use super::clock;
use super::reply::Reply;

#[derive(Debug, Default)]
pub(super) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        let pairs = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Params { pairs }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `name`'s value when it is one of `allowed`; absent is `None`.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<&str>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v)),
            Some(_) => Err(Reply::invalid(
                name,
                &format!("{name} must be one of: {}", allowed.join(", ")),
            )),
        }
    }

    /// `name` as a whole number within `lo..=hi`, `default` when absent.
    pub fn int(&self, name: &str, default: usize, lo: usize, hi: usize) -> Result<usize, Reply> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        match v.parse::<usize>() {
            Ok(n) if (lo..=hi).contains(&n) && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(Reply::invalid(
                name,
                &format!("{name} must be a whole number from {lo} to {hi}"),
            )),
        }
    }

    /// `pageIndex` (0 to 25000, default 0) and `pageSize` (1 to 100,
    /// default 50): how the contact and call lists page.
    pub fn page_index_and_size(&self) -> Result<(usize, usize), Reply> {
        Ok((
            self.int("pageIndex", 0, 0, 25_000)?,
            self.int("pageSize", 50, 1, 100)?,
        ))
    }

    /// `startDate`..=`endDate` in unix seconds; both or neither.
    pub fn dates(&self) -> Result<Option<(i64, i64)>, Reply> {
        match (self.get("startDate"), self.get("endDate")) {
            (None, None) => Ok(None),
            (Some(s), Some(e)) => {
                let start = clock::parse(s, false).ok_or_else(|| bad_date("startDate"))?;
                let end = clock::parse(e, true).ok_or_else(|| bad_date("endDate"))?;
                Ok(Some((start, end)))
            }
            (Some(_), None) | (None, Some(_)) => Err(Reply::invalid(
                "startDate",
                "startDate and endDate must be sent together",
            )),
        }
    }
}

fn bad_date(name: &str) -> Reply {
    Reply::invalid(name, &format!("{name} must be an ISO 8601 date"))
}

/// Whether an RFC 3339 timestamp lies in the range (absent range: yes).
pub(super) fn in_range(range: Option<(i64, i64)>, at: Option<&str>) -> bool {
    match range {
        None => true,
        Some((start, end)) => at
            .and_then(|t| clock::parse(t, false))
            .is_some_and(|t| (start..=end).contains(&t)),
    }
}

/// A path id of ASCII digits that fits an `i64`.
pub(super) fn digits(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

/// Percent-decodes (invalid escapes kept as they are), lossy UTF-8.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied(), b.get(i + 2).copied()) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Page `index` of `size` of the items, with Altur's page-based pagination:
/// `{"total_count" (page 0 only), <key>: [...], "pagination": {...}}`.
/// `numbered` adds `page_index` and `page_size` to `pagination` (calls).
pub(super) fn page(
    key: &str,
    items: Vec<Value>,
    index: usize,
    size: usize,
    numbered: bool,
) -> Value {
    let total = items.len();
    let from = index.saturating_mul(size).min(total);
    let to = from.saturating_add(size).min(total);
    let has_next = to < total;
    let has_previous = index > 0;
    let mut pagination = Map::new();
    if numbered {
        pagination.insert("page_index".into(), index.into());
        pagination.insert("page_size".into(), size.into());
    }
    pagination.insert("has_next".into(), has_next.into());
    pagination.insert("has_previous".into(), has_previous.into());
    pagination.insert("next_page".into(), has_next.then_some(index + 1).into());
    pagination.insert(
        "previous_page".into(),
        has_previous.then(|| index - 1).into(),
    );
    let mut body = Map::new();
    if index == 0 {
        body.insert("total_count".into(), total.into());
    }
    let slice: Vec<Value> = items.into_iter().skip(from).take(to - from).collect();
    body.insert(key.into(), Value::Array(slice));
    body.insert("pagination".into(), Value::Object(pagination));
    Value::Object(body)
}

/// A write's body as a JSON object.
pub(super) fn object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Reply::coded(
            http::StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "the request body must be a JSON object",
        )),
        Err(_) => Err(Reply::coded(
            http::StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "the request body is not valid JSON",
        )),
    }
}

/// A required non-empty string field.
pub(super) fn required_str<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, Reply> {
    match body.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        _ => Err(Reply::invalid(field, &format!("{field} is required"))),
    }
}

/// An optional field that must be a string when present.
pub(super) fn optional_str<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, Reply> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Reply::invalid(field, &format!("{field} must be a string"))),
    }
}

/// An optional field that must be an object when present (`{}` when absent).
pub(super) fn optional_object(body: &Map<String, Value>, field: &str) -> Result<Value, Reply> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(json!({})),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(Reply::invalid(field, &format!("{field} must be an object"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_keep_plus() {
        let p = Params::parse(Some("cursor=YW+/%3D&status=queue&status=sent&x&%zz=1"));
        assert_eq!(p.get("cursor"), Some("YW+/="));
        assert_eq!(p.get("status"), Some("queue"), "the first wins");
        assert_eq!(p.get("x"), Some(""));
        assert_eq!(p.get("%zz"), Some("1"), "an invalid escape is kept");
        assert!(p.one_of("status", &["sent"]).is_err());
        assert_eq!(p.int("pageSize", 50, 1, 100).ok(), Some(50));
        let p = Params::parse(Some("pageSize=0&pageIndex=+1&n=99999999999999999999999"));
        assert!(p.int("pageSize", 50, 1, 100).is_err());
        assert!(p.int("pageIndex", 0, 0, 25_000).is_err());
        assert!(p.int("n", 0, 0, 1).is_err());
        assert!(Params::parse(Some("startDate=2026-01-01")).dates().is_err());
        assert!(
            Params::parse(Some("startDate=2026-01-01&endDate=soon"))
                .dates()
                .is_err()
        );
    }

    #[test]
    fn total_count_only_on_the_first_page() {
        let items: Vec<Value> = (0..5).map(Value::from).collect();
        let p0 = page("xs", items.clone(), 0, 2, true);
        assert_eq!(p0["total_count"], 5);
        assert_eq!(p0["xs"], json!([0, 1]));
        assert_eq!(
            p0["pagination"],
            json!({"page_index": 0, "page_size": 2, "has_next": true, "has_previous": false, "next_page": 1, "previous_page": null})
        );
        let p2 = page("xs", items.clone(), 2, 2, false);
        assert!(p2.get("total_count").is_none());
        assert_eq!(p2["xs"], json!([4]));
        assert_eq!(
            p2["pagination"],
            json!({"has_next": false, "has_previous": true, "next_page": null, "previous_page": 1})
        );
        let far = page("xs", items, 25_000, 100, false);
        assert_eq!(far["xs"], json!([]));
    }
}
