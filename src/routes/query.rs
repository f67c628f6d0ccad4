//! The three list routes' query strings -> their canonical form, which is
//! part of the upstream request target and of the cache key (SPEC, "Query
//! parameters and the cache key").
//!
//! Parsing follows RFC 3986, not HTML forms: a raw `+` is a literal plus,
//! never a space. Names and values are percent-decoded before they are
//! checked, then written back with one encoding: bytes in
//! `A-Za-z0-9-._~` and `:` literally, everything else as `%XX` (upper-case
//! hex).
//!
//! The parse borrows the raw query and allocates only the output string
//! (plus the error message on the error path).

use std::fmt;

/// Which list a query belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// `campaign_list`: GET `/campaigns`.
    Campaigns,
    /// `contact_list`: GET `/campaigns/{id}/contacts`.
    Contacts,
    /// `call_list`: GET `/campaigns/{id}/calls`.
    Calls,
}

/// The longest parameter name echoed back in an error, in characters.
pub const MAX_ECHOED_NAME: usize = 64;

/// The parameter that made a query invalid, as the caller spelled it
/// (percent-decoded), made safe to echo in an error message: at most 64
/// characters, anything but printable ASCII replaced by '?'.
///
/// For a known parameter this is its name (`%73tatus=x` gives `status`).
/// For an unknown one whose name holds an invalid escape (`%zz`), the
/// escapes that are valid are decoded and the rest is shown as sent. An
/// empty name (`=1`) gives an empty string. When only one of `startDate`
/// and `endDate` is sent, it names the missing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParam(pub String);

impl fmt::Display for InvalidParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid query parameter '{}'", self.0)
    }
}

impl std::error::Error for InvalidParam {}

impl InvalidParam {
    fn known(name: &'static str) -> InvalidParam {
        InvalidParam(name.to_owned())
    }

    /// From a raw (not yet decoded) name.
    fn unknown(raw: &str) -> InvalidParam {
        // Four bytes a character at most: enough for 64 characters.
        let decoded: Vec<u8> = Decode::new(raw).take(MAX_ECHOED_NAME * 4).collect();
        let mut echo = String::with_capacity(MAX_ECHOED_NAME);
        let mut room = MAX_ECHOED_NAME;
        let mut push = |c: char| {
            if room > 0 {
                echo.push(if (' '..='~').contains(&c) { c } else { '?' });
                room -= 1;
            }
        };
        for chunk in decoded.utf8_chunks() {
            chunk.valid().chars().for_each(&mut push);
            if !chunk.invalid().is_empty() {
                push('?');
            }
        }
        InvalidParam(echo)
    }
}

/// The longest `cursor`, in bytes after percent-decoding.
pub const MAX_CURSOR_LEN: usize = 512;

/// The canonical query for `list` (without the leading '?'), `None` when
/// nothing is left.
///
/// `raw` is the query as received (after '?', not decoded), `None` when the
/// target had no '?'.
///
/// # Errors
/// [`InvalidParam`] naming the first parameter (left to right) that is
/// unknown, repeated, empty, badly percent-encoded or outside the SPEC's
/// table; after those, a `startDate` without `endDate` (or the reverse)
/// names the missing one.
pub fn canonical(list: List, raw: Option<&str>) -> Result<Option<String>, InvalidParam> {
    let table = list.params();
    let mut slots: [Option<Value<'_>>; MAX_PARAMS] = [None; MAX_PARAMS];
    for segment in raw.unwrap_or("").split('&') {
        if segment.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
        let Some((param, slot)) = lookup(table, raw_name).and_then(|i| {
            let param = table.get(i)?;
            Some((param, slots.get_mut(i)?))
        }) else {
            return Err(InvalidParam::unknown(raw_name));
        };
        if slot.is_some() || raw_value.is_empty() || !escapes_ok(raw_value) {
            return Err(InvalidParam::known(param.name));
        }
        *slot = Some(
            param
                .kind
                .parse(raw_value)
                .ok_or_else(|| InvalidParam::known(param.name))?,
        );
    }
    both_or_neither(table, &slots, "startDate", "endDate")?;

    let mut len = 0usize;
    write(table, &slots, &mut len);
    if len == 0 {
        return Ok(None);
    }
    let mut out = String::with_capacity(len);
    write(table, &slots, &mut out);
    Ok(Some(out))
}

impl List {
    /// The accepted parameters, sorted by name (byte order): the output order.
    fn params(self) -> &'static [Param] {
        match self {
            List::Campaigns => CAMPAIGNS,
            List::Contacts => CONTACTS,
            List::Calls => CALLS,
        }
    }
}

struct Param {
    name: &'static str,
    kind: Kind,
}

enum Kind {
    /// One of these words, exactly (case-sensitive).
    OneOf(&'static [&'static str]),
    /// 8-4-4-4-12 hex digits, canonically lower-case.
    Uuid,
    /// `YYYY-MM-DD` or an RFC 3339 date-time.
    Date,
    /// Decimal digits, leading zeros allowed; left out when equal to `default`.
    Int {
        min: u32,
        max: u32,
        default: Option<u32>,
    },
    /// 1 to [`MAX_CURSOR_LEN`] of `[A-Za-z0-9._~+/=-]`.
    Cursor,
}

/// A checked value, ready to be written.
#[derive(Clone, Copy)]
enum Value<'a> {
    Word(&'static str),
    Int(u32),
    Uuid([u8; 36]),
    /// Written from the raw text again; `upper` upper-cases letters (the `T`
    /// and `Z` of a date-time, the only letters a valid date can hold).
    Encoded {
        raw: &'a str,
        upper: bool,
    },
}

const CAMPAIGN_STATUS: &[&str] = &[
    "pending", "ready", "active", "inactive", "cooldown", "finished",
];
const INTEGRATION: &[&str] = &["phone_call", "whatsapp"];
const CONTACT_STATUS: &[&str] = &[
    "queue",
    "sending",
    "sent",
    "delivered",
    "voicemail",
    "read",
    "failed",
    "no-answer",
    "busy",
    "retrying",
    "converted",
    "acepted",
    "accepted",
    "rejected",
    "unreachable",
];
const CALL_STATUS: &[&str] = &["ended", "failed", "busy", "no-answer", "in-progress"];
const ANSWERED_BY: &[&str] = &["human", "machine", "unknown"];

const PAGE_SIZE: Kind = Kind::Int {
    min: 1,
    max: 100,
    default: Some(50),
};
const PAGE_INDEX: Kind = Kind::Int {
    min: 0,
    max: 25_000,
    default: Some(0),
};

const CAMPAIGNS: &[Param] = &[
    Param {
        name: "agentId",
        kind: Kind::Uuid,
    },
    Param {
        name: "cursor",
        kind: Kind::Cursor,
    },
    Param {
        name: "endDate",
        kind: Kind::Date,
    },
    Param {
        name: "integration",
        kind: Kind::OneOf(INTEGRATION),
    },
    Param {
        name: "pageSize",
        // Cursor-paged: the SPEC documents no default, so it is always kept.
        kind: Kind::Int {
            min: 1,
            max: 100,
            default: None,
        },
    },
    Param {
        name: "startDate",
        kind: Kind::Date,
    },
    Param {
        name: "status",
        kind: Kind::OneOf(CAMPAIGN_STATUS),
    },
];

const CONTACTS: &[Param] = &[
    Param {
        name: "pageIndex",
        kind: PAGE_INDEX,
    },
    Param {
        name: "pageSize",
        kind: PAGE_SIZE,
    },
    Param {
        name: "status",
        kind: Kind::OneOf(CONTACT_STATUS),
    },
];

const CALLS: &[Param] = &[
    Param {
        name: "answeredBy",
        kind: Kind::OneOf(ANSWERED_BY),
    },
    Param {
        name: "endDate",
        kind: Kind::Date,
    },
    Param {
        name: "pageIndex",
        kind: PAGE_INDEX,
    },
    Param {
        name: "pageSize",
        kind: PAGE_SIZE,
    },
    Param {
        name: "startDate",
        kind: Kind::Date,
    },
    Param {
        name: "status",
        kind: Kind::OneOf(CALL_STATUS),
    },
];

/// The most parameters any list accepts.
const MAX_PARAMS: usize = 7;

/// Longer than any parameter name or word value.
const WORD_BUF: usize = 16;

/// The index in `table` of the parameter `raw_name` decodes to.
fn lookup(table: &[Param], raw_name: &str) -> Option<usize> {
    if !escapes_ok(raw_name) {
        return None;
    }
    let mut buf = [0u8; WORD_BUF];
    let name = decode_small(raw_name, &mut buf)?;
    table.iter().position(|p| p.name.as_bytes() == name)
}

fn both_or_neither(
    table: &[Param],
    slots: &[Option<Value<'_>>],
    a: &'static str,
    b: &'static str,
) -> Result<(), InvalidParam> {
    let sent = |name: &str| {
        table
            .iter()
            .position(|p| p.name == name)
            .and_then(|i| slots.get(i))
            .is_some_and(Option::is_some)
    };
    match (sent(a), sent(b)) {
        (true, false) => Err(InvalidParam::known(b)),
        (false, true) => Err(InvalidParam::known(a)),
        _ => Ok(()),
    }
}

impl Kind {
    /// Checks a non-empty raw value whose escapes are valid.
    fn parse<'a>(&self, raw: &'a str) -> Option<Value<'a>> {
        match *self {
            Kind::OneOf(words) => {
                let mut buf = [0u8; WORD_BUF];
                let word = decode_small(raw, &mut buf)?;
                words
                    .iter()
                    .find(|w| w.as_bytes() == word)
                    .map(|w| Value::Word(w))
            }
            Kind::Uuid => {
                let mut buf = [0u8; 36];
                if decode_small(raw, &mut buf)?.len() != buf.len() {
                    return None;
                }
                for (i, b) in buf.iter_mut().enumerate() {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        if *b != b'-' {
                            return None;
                        }
                    } else if b.is_ascii_hexdigit() {
                        b.make_ascii_lowercase();
                    } else {
                        return None;
                    }
                }
                Some(Value::Uuid(buf))
            }
            Kind::Date => date_ok(Decode::new(raw)).then_some(Value::Encoded { raw, upper: true }),
            Kind::Int { min, max, .. } => {
                let mut value: u32 = 0;
                let mut digits = false;
                for b in Decode::new(raw) {
                    if !b.is_ascii_digit() {
                        return None;
                    }
                    digits = true;
                    // Saturates far above any `max`: a huge number stays out of range.
                    value = value.saturating_mul(10).saturating_add(u32::from(b - b'0'));
                }
                (digits && (min..=max).contains(&value)).then_some(Value::Int(value))
            }
            Kind::Cursor => {
                let mut len = 0usize;
                for b in Decode::new(raw) {
                    len += 1;
                    if len > MAX_CURSOR_LEN || !cursor_byte(b) {
                        return None;
                    }
                }
                (len > 0).then_some(Value::Encoded { raw, upper: false })
            }
        }
    }
}

fn cursor_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
}

// ---- dates ----

/// `YYYY-MM-DD` (a real date, proleptic Gregorian, years 0000-9999) or an
/// RFC 3339 date-time `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `t`/`z` allowed.
fn date_ok(mut it: impl Iterator<Item = u8>) -> bool {
    let mut date = [0u8; 10];
    if !fill(&mut it, &mut date) || !calendar_date(date) {
        return false;
    }
    match it.next() {
        None => return true,
        Some(b'T' | b't') => {}
        Some(_) => return false,
    }
    let mut time = [0u8; 8];
    if !fill(&mut it, &mut time) || !clock(time) {
        return false;
    }
    let mut next = it.next();
    if next == Some(b'.') {
        let mut digits = 0usize;
        loop {
            next = it.next();
            match next {
                Some(b) if b.is_ascii_digit() => digits += 1,
                _ => break,
            }
        }
        if digits == 0 {
            return false;
        }
    }
    let zone = match next {
        Some(b'Z' | b'z') => true,
        Some(b'+' | b'-') => {
            let mut offset = [0u8; 5];
            fill(&mut it, &mut offset) && utc_offset(offset)
        }
        _ => false,
    };
    zone && it.next().is_none()
}

fn fill(it: &mut impl Iterator<Item = u8>, buf: &mut [u8]) -> bool {
    for slot in buf {
        match it.next() {
            Some(b) => *slot = b,
            None => return false,
        }
    }
    true
}

/// The value of a run of ASCII digits.
fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn calendar_date(d: [u8; 10]) -> bool {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = d else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (
        number(&[y0, y1, y2, y3]),
        number(&[m0, m1]),
        number(&[d0, d1]),
    ) else {
        return false;
    };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `HH:MM:SS`; second 60 is RFC 3339's leap second.
fn clock(t: [u8; 8]) -> bool {
    let [h0, h1, b':', m0, m1, b':', s0, s1] = t else {
        return false;
    };
    number(&[h0, h1]).is_some_and(|h| h <= 23)
        && number(&[m0, m1]).is_some_and(|m| m <= 59)
        && number(&[s0, s1]).is_some_and(|s| s <= 60)
}

/// `HH:MM` after the sign.
fn utc_offset(o: [u8; 5]) -> bool {
    let [h0, h1, b':', m0, m1] = o else {
        return false;
    };
    number(&[h0, h1]).is_some_and(|h| h <= 23) && number(&[m0, m1]).is_some_and(|m| m <= 59)
}

// ---- percent-encoding ----

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Every `%` starts an escape of two hex digits.
fn escapes_ok(raw: &str) -> bool {
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%'
            && !(bytes.next().and_then(hex_value).is_some()
                && bytes.next().and_then(hex_value).is_some())
        {
            return false;
        }
    }
    true
}

/// The bytes `raw` percent-decodes to. A `%` that does not start a valid
/// escape is passed through as is (callers check [`escapes_ok`] first where
/// that matters).
struct Decode<'a> {
    rest: &'a [u8],
}

impl<'a> Decode<'a> {
    fn new(raw: &'a str) -> Decode<'a> {
        Decode {
            rest: raw.as_bytes(),
        }
    }
}

impl Iterator for Decode<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        if b == b'%'
            && let [h, l, tail @ ..] = rest
            && let (Some(h), Some(l)) = (hex_value(*h), hex_value(*l))
        {
            self.rest = tail;
            return Some(h << 4 | l);
        }
        self.rest = rest;
        Some(b)
    }
}

/// Decodes `raw` into `buf`; `None` when it does not fit.
fn decode_small<'b>(raw: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut len = 0;
    for b in Decode::new(raw) {
        *buf.get_mut(len)? = b;
        len += 1;
    }
    buf.get(..len)
}

// ---- output ----

/// Where the canonical query is written: a `String`, or a `usize` that only
/// counts, so the string is allocated once at its exact size.
trait Sink {
    /// `b` is always ASCII.
    fn byte(&mut self, b: u8);

    fn str(&mut self, s: &str) {
        s.bytes().for_each(|b| self.byte(b));
    }
}

impl Sink for usize {
    fn byte(&mut self, _: u8) {
        *self += 1;
    }

    fn str(&mut self, s: &str) {
        *self += s.len();
    }
}

impl Sink for String {
    fn byte(&mut self, b: u8) {
        self.push(char::from(b));
    }

    fn str(&mut self, s: &str) {
        self.push_str(s);
    }
}

fn write(table: &[Param], slots: &[Option<Value<'_>>], out: &mut impl Sink) {
    let mut first = true;
    for (param, value) in table.iter().zip(slots) {
        let Some(value) = *value else { continue };
        if let (Value::Int(n), Kind::Int { default, .. }) = (value, &param.kind)
            && *default == Some(n)
        {
            continue;
        }
        if !first {
            out.byte(b'&');
        }
        first = false;
        out.str(param.name);
        out.byte(b'=');
        match value {
            Value::Word(w) => out.str(w),
            Value::Int(n) => write_decimal(n, out),
            Value::Uuid(u) => u.iter().for_each(|&b| out.byte(b)),
            Value::Encoded { raw, upper } => {
                for b in Decode::new(raw) {
                    encode(if upper { b.to_ascii_uppercase() } else { b }, out);
                }
            }
        }
    }
}

fn write_decimal(n: u32, out: &mut impl Sink) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut n = n;
    for slot in digits.iter_mut().rev() {
        // `n % 10` is a single digit.
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.iter().skip(start).for_each(|&b| out.byte(b));
}

fn encode(b: u8, out: &mut impl Sink) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
        out.byte(b);
    } else {
        out.byte(b'%');
        out.byte(HEX[usize::from(b >> 4)]);
        out.byte(HEX[usize::from(b & 0x0f)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(list: List, raw: &str) -> Option<String> {
        match canonical(list, Some(raw)) {
            Ok(c) => c,
            Err(e) => panic!("{list:?} {raw:?}: {e}"),
        }
    }

    fn err(list: List, raw: &str) -> String {
        match canonical(list, Some(raw)) {
            Err(InvalidParam(name)) => name,
            Ok(c) => panic!("{list:?} {raw:?}: accepted as {c:?}"),
        }
    }

    fn same(list: List, raw: &str, expected: &str) {
        assert_eq!(ok(list, raw).as_deref(), Some(expected), "{list:?} {raw:?}");
    }

    const UUID: &str = "123e4567-e89b-12d3-a456-426614174000";

    #[test]
    fn spec_example() {
        same(
            List::Contacts,
            "pageIndex=00&status=queue&pageSize=50",
            "status=queue",
        );
    }

    #[test]
    fn nothing_left_is_none() {
        for list in [List::Campaigns, List::Contacts, List::Calls] {
            assert_eq!(canonical(list, None), Ok(None));
            for raw in ["", "&", "&&&"] {
                assert_eq!(canonical(list, Some(raw)), Ok(None), "{raw:?}");
            }
        }
        assert_eq!(ok(List::Contacts, "pageIndex=0"), None);
        assert_eq!(ok(List::Contacts, "pageSize=050&pageIndex=0000"), None);
        assert_eq!(ok(List::Calls, "pageSize=50&&pageIndex=0&"), None);
    }

    #[test]
    fn tables_are_sorted_and_fit() {
        for list in [List::Campaigns, List::Contacts, List::Calls] {
            let names: Vec<&str> = list.params().iter().map(|p| p.name).collect();
            assert!(names.len() <= MAX_PARAMS);
            assert!(
                names.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
                "{names:?}"
            );
            assert!(names.iter().all(|n| n.len() <= WORD_BUF));
            for p in list.params() {
                if let Kind::OneOf(words) = p.kind {
                    assert!(words.iter().all(|w| w.len() <= WORD_BUF));
                }
            }
        }
    }

    #[test]
    fn sorted_by_name() {
        same(
            List::Campaigns,
            &format!(
                "status=active&startDate=2024-01-01&pageSize=10&integration=whatsapp\
                 &endDate=2024-02-01&cursor=abc&agentId={UUID}"
            ),
            &format!(
                "agentId={UUID}&cursor=abc&endDate=2024-02-01&integration=whatsapp\
                 &pageSize=10&startDate=2024-01-01&status=active"
            ),
        );
        same(
            List::Calls,
            "status=ended&startDate=2024-01-01&pageSize=10&pageIndex=3&endDate=2024-01-02&answeredBy=human",
            "answeredBy=human&endDate=2024-01-02&pageIndex=3&pageSize=10&startDate=2024-01-01&status=ended",
        );
        same(
            List::Contacts,
            "status=sent&pageSize=10&pageIndex=3",
            "pageIndex=3&pageSize=10&status=sent",
        );
    }

    #[test]
    fn every_documented_word() {
        let cases: [(List, &str, &[&str]); 5] = [
            (List::Campaigns, "status", CAMPAIGN_STATUS),
            (List::Campaigns, "integration", INTEGRATION),
            (List::Contacts, "status", CONTACT_STATUS),
            (List::Calls, "status", CALL_STATUS),
            (List::Calls, "answeredBy", ANSWERED_BY),
        ];
        for (list, name, words) in cases {
            for w in words {
                same(list, &format!("{name}={w}"), &format!("{name}={w}"));
                assert_eq!(err(list, &format!("{name}={}", w.to_uppercase())), name);
                assert_eq!(err(list, &format!("{name}={w}x")), name);
                assert_eq!(err(list, &format!("{name}={w}%20")), name);
            }
        }
        assert_eq!(CONTACT_STATUS.len(), 15);
        // A word of another list is outside the table.
        assert_eq!(err(List::Campaigns, "status=queue"), "status");
        assert_eq!(err(List::Contacts, "status=active"), "status");
        assert_eq!(err(List::Calls, "status=queue"), "status");
        assert_eq!(err(List::Calls, "status=no_answer"), "status");
        assert_eq!(err(List::Contacts, "status=no+answer"), "status");
        // Only the campaign list filters by integration, only calls by answeredBy.
        assert_eq!(err(List::Contacts, "integration=whatsapp"), "integration");
        assert_eq!(err(List::Campaigns, "answeredBy=human"), "answeredBy");
        assert_eq!(
            err(List::Contacts, "startDate=2024-01-01&endDate=2024-01-01"),
            "startDate"
        );
        assert_eq!(err(List::Contacts, &format!("agentId={UUID}")), "agentId");
        assert_eq!(err(List::Calls, "cursor=abc"), "cursor");
        assert_eq!(err(List::Campaigns, "pageIndex=1"), "pageIndex");
    }

    #[test]
    fn names_are_case_sensitive_and_decoded() {
        assert_eq!(err(List::Contacts, "Status=queue"), "Status");
        assert_eq!(err(List::Contacts, "pagesize=10"), "pagesize");
        assert_eq!(err(List::Contacts, "status =queue"), "status ");
        same(List::Contacts, "%73tatus=queue", "status=queue");
        same(List::Contacts, "%73%74%61%74%75%73=%71ueue", "status=queue");
        same(List::Contacts, "page%53ize=10", "pageSize=10");
        same(List::Contacts, "page%53ize=10", "pageSize=10");
        assert_eq!(err(List::Contacts, "%53tatus=queue"), "Status");
    }

    #[test]
    fn unknown_repeated_and_empty() {
        assert_eq!(err(List::Contacts, "foo=1"), "foo");
        assert_eq!(err(List::Contacts, "status=queue&foo"), "foo");
        assert_eq!(err(List::Contacts, "=1"), "");
        assert_eq!(err(List::Contacts, "="), "");
        assert_eq!(err(List::Contacts, "status=queue&status=queue"), "status");
        assert_eq!(err(List::Contacts, "status=queue&%73tatus=sent"), "status");
        assert_eq!(err(List::Contacts, "pageSize=10&pageSize=10"), "pageSize");
        // A default given twice is still repeated.
        assert_eq!(err(List::Contacts, "pageIndex=0&pageIndex=0"), "pageIndex");
        assert_eq!(err(List::Contacts, "status="), "status");
        assert_eq!(err(List::Contacts, "status"), "status");
        assert_eq!(
            err(List::Contacts, "pageSize=10&status&pageIndex=1"),
            "status"
        );
        assert_eq!(err(List::Campaigns, "cursor="), "cursor");
        // The first bad parameter, left to right, is the one named.
        assert_eq!(err(List::Contacts, "a=1&b=2"), "a");
        assert_eq!(err(List::Contacts, "status=bogus&a=1"), "status");
        // Empty segments are ignored, a value may hold '='.
        same(
            List::Contacts,
            "&&status=queue&&&pageSize=10&",
            "pageSize=10&status=queue",
        );
        same(List::Campaigns, "cursor=ab==", "cursor=ab%3D%3D");
    }

    #[test]
    fn invalid_escapes() {
        for v in ["%", "%4", "%zz", "%G1", "queue%", "que%2", "%%71ueue"] {
            assert_eq!(err(List::Contacts, &format!("status={v}")), "status", "{v}");
        }
        assert_eq!(err(List::Campaigns, "cursor=ab%2"), "cursor");
        // An undecodable name is echoed with what could be decoded.
        assert_eq!(err(List::Contacts, "%zz=1"), "%zz");
        assert_eq!(err(List::Contacts, "%73tat%us=queue"), "stat%us");
        assert_eq!(err(List::Contacts, "status%=queue"), "status%");
    }

    #[test]
    fn error_names_are_safe_to_echo() {
        assert_eq!(err(List::Contacts, "a%00b=1"), "a?b");
        assert_eq!(err(List::Contacts, "a%0Ab=1"), "a?b");
        assert_eq!(err(List::Contacts, "a%7Fb=1"), "a?b");
        assert_eq!(err(List::Contacts, "a%FFb=1"), "a?b");
        assert_eq!(err(List::Contacts, "caf%C3%A9=1"), "caf?");
        assert_eq!(err(List::Contacts, "café=1"), "caf?");
        assert_eq!(err(List::Contacts, "a%20b=1"), "a b");
        assert_eq!(err(List::Contacts, "%22%3C%3E=1"), "\"<>");
        let long = "x".repeat(300);
        assert_eq!(err(List::Contacts, &format!("{long}=1")), "x".repeat(64));
        let long = "é".repeat(100);
        assert_eq!(err(List::Contacts, &format!("{long}=1")), "?".repeat(64));
        let long = "%E9".repeat(100);
        assert_eq!(err(List::Contacts, &format!("{long}=1")), "?".repeat(64));
        assert_eq!(
            InvalidParam("status".into()).to_string(),
            "invalid query parameter 'status'"
        );
    }

    #[test]
    fn integers() {
        for list in [List::Contacts, List::Calls] {
            same(list, "pageSize=1", "pageSize=1");
            same(list, "pageSize=001", "pageSize=1");
            same(list, "pageSize=100", "pageSize=100");
            same(list, "pageSize=0000100", "pageSize=100");
            same(list, "pageSize=%31%30", "pageSize=10");
            same(list, "pageIndex=25000", "pageIndex=25000");
            same(list, "pageIndex=07", "pageIndex=7");
            assert_eq!(ok(list, "pageSize=50"), None);
            assert_eq!(ok(list, "pageSize=0050&pageIndex=000"), None);
            for v in [
                "0",
                "101",
                "-1",
                "+1",
                "1.0",
                "1e2",
                " 1",
                "1 ",
                "%201",
                "0x1",
                "١",
                "abc",
                "99999999999999999999999999",
                "4294967296",
                "4294967345",
            ] {
                assert_eq!(err(list, &format!("pageSize={v}")), "pageSize", "{v:?}");
            }
            for v in ["-1", "25001", "+0", "99999999999999999999"] {
                assert_eq!(err(list, &format!("pageIndex={v}")), "pageIndex", "{v:?}");
            }
        }
        // The campaign list documents no default page size: always kept.
        same(List::Campaigns, "pageSize=050", "pageSize=50");
        same(List::Campaigns, "pageSize=1", "pageSize=1");
        assert_eq!(err(List::Campaigns, "pageSize=0"), "pageSize");
        assert_eq!(err(List::Campaigns, "pageSize=101"), "pageSize");
    }

    #[test]
    fn agent_ids() {
        same(
            List::Campaigns,
            &format!("agentId={UUID}"),
            &format!("agentId={UUID}"),
        );
        same(
            List::Campaigns,
            "agentId=123E4567-E89B-12D3-A456-42661417400F",
            "agentId=123e4567-e89b-12d3-a456-42661417400f",
        );
        same(
            List::Campaigns,
            "agentId=123e4567%2De89b-12d3-a456-42661417400%46",
            "agentId=123e4567-e89b-12d3-a456-42661417400f",
        );
        for v in [
            "123e4567e89b12d3a456426614174000",
            "123e4567-e89b-12d3-a456-42661417400",
            "123e4567-e89b-12d3-a456-4266141740000",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "123e4567-e89b-12d3-a456_426614174000",
            "123e456-7e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-42661417400g",
            "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
            " 123e4567-e89b-12d3-a456-42661417400",
            "x",
        ] {
            assert_eq!(
                err(List::Campaigns, &format!("agentId={v}")),
                "agentId",
                "{v}"
            );
        }
    }

    fn dates(list: List, start: &str, end: &str) -> Result<Option<String>, InvalidParam> {
        canonical(list, Some(&format!("startDate={start}&endDate={end}")))
    }

    #[test]
    fn valid_dates() {
        let cases = [
            ("2024-02-29", "2024-02-29"),
            ("2000-02-29", "2000-02-29"),
            ("2023-12-31", "2023-12-31"),
            ("0000-01-01", "0000-01-01"),
            ("0000-02-29", "0000-02-29"),
            ("2400-02-29", "2400-02-29"),
            ("9999-12-31", "9999-12-31"),
            ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
            ("2024-01-01t10:00:00z", "2024-01-01T10:00:00Z"),
            ("2024-01-01T23:59:60Z", "2024-01-01T23:59:60Z"),
            ("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.5Z"),
            (
                "2024-01-01T00:00:00.123456789012z",
                "2024-01-01T00:00:00.123456789012Z",
            ),
            ("2024-01-01T00:00:00+05:30", "2024-01-01T00:00:00%2B05:30"),
            ("2024-01-01T00:00:00%2b05:30", "2024-01-01T00:00:00%2B05:30"),
            (
                "2024-01-01T00:00:00%2B05%3A30",
                "2024-01-01T00:00:00%2B05:30",
            ),
            ("2024-01-01T00:00:00-00:00", "2024-01-01T00:00:00-00:00"),
            (
                "2024-01-01T00:00:00.25-23:59",
                "2024-01-01T00:00:00.25-23:59",
            ),
            ("%32024-01-01%54%30%30:00:00%5a", "2024-01-01T00:00:00Z"),
        ];
        for list in [List::Campaigns, List::Calls] {
            for (raw, canon) in cases {
                assert_eq!(
                    dates(list, raw, raw),
                    Ok(Some(format!("endDate={canon}&startDate={canon}"))),
                    "{raw}"
                );
            }
        }
        // No order between the two is imposed, nor one form for both.
        assert_eq!(
            dates(List::Calls, "2024-02-01T00:00:00Z", "2024-01-01"),
            Ok(Some(
                "endDate=2024-01-01&startDate=2024-02-01T00:00:00Z".into()
            ))
        );
    }

    #[test]
    fn invalid_dates() {
        for v in [
            "2023-02-29",
            "1900-02-29",
            "2100-02-29",
            "2023-06-31",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-01-00",
            "2024-01-32",
            "2024-1-01",
            "24-01-01",
            "20240101",
            "2024/01/01",
            "-2024-01-01",
            "12024-01-01",
            "2024-01-01T",
            "2024-01-01Z",
            "2024-01-01T10:00Z",
            "2024-01-01T10:00:00",
            "2024-01-01T24:00:00Z",
            "2024-01-01T12:60:00Z",
            "2024-01-01T12:00:61Z",
            "2024-01-01T12:00:00.Z",
            "2024-01-01T12:00:00.1",
            "2024-01-01T12:00:00,5Z",
            "2024-01-01T12:00:00+0530",
            "2024-01-01T12:00:00+05",
            "2024-01-01T12:00:00+24:00",
            "2024-01-01T12:00:00+05:60",
            "2024-01-01T12:00:00Z ",
            "2024-01-01T12:00:00ZZ",
            "2024-01-01T12:00:00+05:30x",
            "2024-01-01 12:00:00Z",
            "2024-01-01%2012:00:00Z",
            "2024-01-01x12:00:00Z",
            "２０２４-01-01",
            "today",
        ] {
            for list in [List::Campaigns, List::Calls] {
                assert_eq!(
                    dates(list, v, "2024-01-01"),
                    Err(InvalidParam::known("startDate")),
                    "{v}"
                );
                assert_eq!(
                    dates(list, "2024-01-01", v),
                    Err(InvalidParam::known("endDate")),
                    "{v}"
                );
            }
        }
    }

    #[test]
    fn dates_come_in_pairs() {
        for list in [List::Campaigns, List::Calls] {
            assert_eq!(err(list, "startDate=2024-01-01"), "endDate");
            assert_eq!(err(list, "endDate=2024-01-01"), "startDate");
            assert_eq!(err(list, "pageSize=5&endDate=2024-01-01"), "startDate");
            // An invalid parameter is named before the missing half of the pair.
            assert_eq!(err(list, "startDate=2024-01-01&bogus=1"), "bogus");
            assert_eq!(err(list, "startDate=2024-01-01&pageSize=0"), "pageSize");
        }
    }

    #[test]
    fn cursors() {
        same(List::Campaigns, "cursor=abc", "cursor=abc");
        // RFC 3986: a raw '+' is a plus, and every spelling of it is one key.
        same(List::Campaigns, "cursor=ab%2bc", "cursor=ab%2Bc");
        same(List::Campaigns, "cursor=ab%2Bc", "cursor=ab%2Bc");
        same(List::Campaigns, "cursor=ab+c", "cursor=ab%2Bc");
        same(
            List::Campaigns,
            "cursor=AZaz09._~+/=-",
            "cursor=AZaz09._~%2B%2F%3D-",
        );
        same(List::Campaigns, "cursor=%41%2e%7E%2f", "cursor=A.~%2F");
        let max = "a".repeat(MAX_CURSOR_LEN);
        same(
            List::Campaigns,
            &format!("cursor={max}"),
            &format!("cursor={max}"),
        );
        // The limit counts decoded bytes.
        let encoded = "%61".repeat(MAX_CURSOR_LEN);
        same(
            List::Campaigns,
            &format!("cursor={encoded}"),
            &format!("cursor={max}"),
        );
        for v in [
            "a".repeat(MAX_CURSOR_LEN + 1),
            "%61".repeat(MAX_CURSOR_LEN + 1),
            "a%20b".into(),
            "a%26b".into(),
            "a%25b".into(),
            "a%00b".into(),
            "a,b".into(),
            "a*b".into(),
            "a:b".into(),
            "é".into(),
            "%C3%A9".into(),
            "a b".into(),
        ] {
            assert_eq!(
                err(List::Campaigns, &format!("cursor={v}")),
                "cursor",
                "{v}"
            );
        }
    }

    #[test]
    fn output_is_allocated_once_at_its_size() {
        let c = ok(
            List::Campaigns,
            &format!(
                "cursor=a+b&agentId={UUID}&startDate=2024-01-01t00:00:00%2B01:00&endDate=2024-01-02"
            ),
        );
        let c = c.expect("something left");
        assert_eq!(c.capacity(), c.len());
    }

    // ---- property tests ----

    /// splitmix64: the random choices of one rendering, reproducible from its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        fn coin(&mut self) -> bool {
            self.next() & 1 == 1
        }

        fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                v.swap(i, self.below(i + 1));
            }
        }
    }

    /// Spells decoded bytes as a raw query component: each byte literally
    /// (where that keeps its meaning) or as `%xx` in either case.
    fn spell(decoded: &[u8], rng: &mut Rng, name: bool) -> String {
        let mut raw = String::new();
        for &b in decoded {
            let literal_ok =
                b.is_ascii_graphic() && !matches!(b, b'%' | b'&' | b'#') && !(name && b == b'=');
            if literal_ok && rng.below(3) != 0 {
                raw.push(char::from(b));
            } else if rng.coin() {
                raw.push_str(&format!("%{b:02X}"));
            } else {
                raw.push_str(&format!("%{b:02x}"));
            }
        }
        raw
    }

    /// The canonical encoding, written independently of the code under test.
    fn canon_encode(decoded: &str) -> String {
        decoded
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    #[derive(Debug, Clone)]
    enum Sem {
        Word(&'static str),
        Uuid(String),
        Int(u32),
        Date {
            ymd: (u32, u32, u32),
            time: Option<Time>,
        },
        Cursor(String),
    }

    #[derive(Debug, Clone)]
    struct Time {
        hms: (u32, u32, u32),
        frac: Option<String>,
        /// `None` is `Z`.
        offset: Option<(char, u32, u32)>,
    }

    impl Sem {
        /// One decoded spelling of the value, chosen by `rng`.
        fn spelling(&self, rng: &mut Rng) -> String {
            match self {
                Sem::Word(w) => (*w).to_owned(),
                Sem::Uuid(hex) => {
                    let mut s = String::new();
                    for (i, c) in hex.chars().enumerate() {
                        if matches!(i, 8 | 12 | 16 | 20) {
                            s.push('-');
                        }
                        s.push(if rng.coin() {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        });
                    }
                    s
                }
                Sem::Int(n) => format!("{}{n}", "0".repeat(rng.below(4))),
                Sem::Date { .. } => {
                    let t = if rng.coin() { "T" } else { "t" };
                    let z = if rng.coin() { "Z" } else { "z" };
                    self.date(t, z)
                }
                Sem::Cursor(s) => s.clone(),
            }
        }

        fn canonical(&self) -> String {
            match self {
                Sem::Word(w) => (*w).to_owned(),
                Sem::Uuid(hex) => format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                ),
                Sem::Int(n) => n.to_string(),
                Sem::Date { .. } => canon_encode(&self.date("T", "Z")),
                Sem::Cursor(s) => canon_encode(s),
            }
        }

        fn date(&self, t: &str, z: &str) -> String {
            let Sem::Date {
                ymd: (y, m, d),
                time,
            } = self
            else {
                unreachable!()
            };
            let mut s = format!("{y:04}-{m:02}-{d:02}");
            if let Some(Time {
                hms: (h, mi, se),
                frac,
                offset,
            }) = time
            {
                s.push_str(&format!("{t}{h:02}:{mi:02}:{se:02}"));
                if let Some(f) = frac {
                    s.push('.');
                    s.push_str(f);
                }
                match offset {
                    None => s.push_str(z),
                    Some((sign, oh, om)) => s.push_str(&format!("{sign}{oh:02}:{om:02}")),
                }
            }
            s
        }
    }

    fn days_in(y: u32, m: u32) -> u32 {
        match m {
            2 if y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400)) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    fn word(words: &'static [&'static str]) -> impl Strategy<Value = Sem> {
        prop::sample::select(words).prop_map(Sem::Word)
    }

    fn date() -> impl Strategy<Value = Sem> {
        let time = (
            (0u32..24, 0u32..60, 0u32..=60),
            prop::option::of("[0-9]{1,12}"),
            prop::option::of((prop::sample::select(vec!['+', '-']), 0u32..24, 0u32..60)),
        )
            .prop_map(|(hms, frac, offset)| Time { hms, frac, offset });
        ((0u32..=9999, 1u32..=12, 1u32..=31), prop::option::of(time)).prop_map(
            |((y, m, d), time)| Sem::Date {
                ymd: (y, m, d.min(days_in(y, m))),
                time,
            },
        )
    }

    fn uuid() -> impl Strategy<Value = Sem> {
        "[0-9a-f]{32}".prop_map(Sem::Uuid)
    }

    fn int(min: u32, max: u32) -> impl Strategy<Value = Sem> {
        (min..=max).prop_map(Sem::Int)
    }

    fn cursor() -> impl Strategy<Value = Sem> {
        prop_oneof!["[A-Za-z0-9._~+/=-]{1,40}", "[A-Za-z0-9._~+/=-]{500,512}",]
            .prop_map(Sem::Cursor)
    }

    type Set = Vec<(&'static str, Sem)>;

    fn push(set: &mut Set, name: &'static str, v: Option<Sem>) {
        if let Some(v) = v {
            set.push((name, v));
        }
    }

    fn pair(set: &mut Set, dates: Option<(Sem, Sem)>) {
        if let Some((s, e)) = dates {
            set.push(("startDate", s));
            set.push(("endDate", e));
        }
    }

    /// A valid parameter set for some list.
    fn valid_set() -> impl Strategy<Value = (List, Set)> {
        use prop::option::of;
        let campaigns = (
            of(uuid()),
            of(cursor()),
            of((date(), date())),
            of(word(INTEGRATION)),
            of(int(1, 100)),
            of(word(CAMPAIGN_STATUS)),
        )
            .prop_map(|(a, c, d, i, p, s)| {
                let mut set = Set::new();
                push(&mut set, "agentId", a);
                push(&mut set, "cursor", c);
                pair(&mut set, d);
                push(&mut set, "integration", i);
                push(&mut set, "pageSize", p);
                push(&mut set, "status", s);
                (List::Campaigns, set)
            });
        let contacts = (
            of(int(0, 25_000)),
            of(int(1, 100)),
            of(word(CONTACT_STATUS)),
        )
            .prop_map(|(i, p, s)| {
                let mut set = Set::new();
                push(&mut set, "pageIndex", i);
                push(&mut set, "pageSize", p);
                push(&mut set, "status", s);
                (List::Contacts, set)
            });
        let calls = (
            of(word(ANSWERED_BY)),
            of((date(), date())),
            of(prop_oneof![Just(0u32), 0u32..=25_000].prop_map(Sem::Int)),
            of(prop_oneof![Just(50u32), 1u32..=100].prop_map(Sem::Int)),
            of(word(CALL_STATUS)),
        )
            .prop_map(|(a, d, i, p, s)| {
                let mut set = Set::new();
                push(&mut set, "answeredBy", a);
                pair(&mut set, d);
                push(&mut set, "pageIndex", i);
                push(&mut set, "pageSize", p);
                push(&mut set, "status", s);
                (List::Calls, set)
            });
        prop_oneof![campaigns, contacts, calls]
    }

    fn defaults(list: List) -> &'static [(&'static str, u32)] {
        match list {
            List::Campaigns => &[],
            List::Contacts | List::Calls => &[("pageIndex", 0), ("pageSize", 50)],
        }
    }

    /// What the canonical query of `set` must be, from the SPEC's rules.
    fn expected(list: List, set: &Set) -> Option<String> {
        let mut kept: Vec<(&str, String)> = set
            .iter()
            .filter(|(name, v)| !matches!(v, Sem::Int(n) if defaults(list).contains(&(*name, *n))))
            .map(|(name, v)| (*name, v.canonical()))
            .collect();
        kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let q: Vec<String> = kept.iter().map(|(n, v)| format!("{n}={v}")).collect();
        (!q.is_empty()).then(|| q.join("&"))
    }

    /// One raw spelling of `set`, as its segments: shuffled, padded,
    /// percent-encoded at random, maybe with explicit defaults.
    fn segments(list: List, set: &Set, rng: &mut Rng) -> Vec<String> {
        let mut segs: Vec<String> = set
            .iter()
            .map(|(name, v)| {
                let value = v.spelling(rng);
                format!(
                    "{}={}",
                    spell(name.as_bytes(), rng, true),
                    spell(value.as_bytes(), rng, false)
                )
            })
            .collect();
        for (name, default) in defaults(list) {
            if !set.iter().any(|(n, _)| n == name) && rng.coin() {
                let value = Sem::Int(*default).spelling(rng);
                segs.push(format!(
                    "{}={}",
                    spell(name.as_bytes(), rng, true),
                    spell(value.as_bytes(), rng, false)
                ));
            }
        }
        rng.shuffle(&mut segs);
        segs
    }

    /// Joins segments, with empty ones sprinkled in.
    fn join(segs: &[String], rng: &mut Rng) -> String {
        let mut raw = String::new();
        for _ in 0..rng.below(3) {
            raw.push('&');
        }
        for (i, s) in segs.iter().enumerate() {
            if i > 0 {
                for _ in 0..=rng.below(2) {
                    raw.push('&');
                }
            }
            raw.push_str(s);
        }
        for _ in 0..rng.below(3) {
            raw.push('&');
        }
        raw
    }

    fn render(list: List, set: &Set, seed: u64) -> String {
        let mut rng = Rng(seed);
        let segs = segments(list, set, &mut rng);
        join(&segs, &mut rng)
    }

    /// Every character a canonical query may hold.
    fn canonical_chars(q: &str) -> bool {
        q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:%&=".contains(&b))
    }

    /// A parameter that makes any query invalid, and the name it must be reported as.
    #[derive(Debug, Clone)]
    enum Bad {
        Unknown(String),
        Repeated(prop::sample::Index),
        Empty(prop::sample::Index, bool),
        Value(prop::sample::Index, prop::sample::Index),
        Escape(prop::sample::Index, &'static str),
    }

    fn bad() -> impl Strategy<Value = Bad> {
        use prop::sample::{Index, select};
        prop_oneof![
            prop_oneof![".{0,80}", "[a-zA-Z]{1,12}"].prop_map(Bad::Unknown),
            any::<Index>().prop_map(Bad::Repeated),
            (any::<Index>(), any::<bool>()).prop_map(|(i, bare)| Bad::Empty(i, bare)),
            (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Bad::Value(i, j)),
            (
                any::<Index>(),
                select(vec!["%", "%4", "%zz", "%G0", "ab%", "a%2", "50%", "%%35"])
            )
                .prop_map(|(i, e)| Bad::Escape(i, e)),
        ]
    }

    /// Decoded values outside the table for `kind`.
    fn bad_values(kind: &Kind) -> Vec<String> {
        let mut v: Vec<String> = match kind {
            Kind::OneOf(words) => {
                let mut v: Vec<String> = ["queue", "active", "ended", "human", "whatsapp", "x"]
                    .iter()
                    .filter(|w| !words.contains(w))
                    .map(|w| (*w).to_owned())
                    .collect();
                v.extend(words.iter().map(|w| w.to_uppercase()));
                v.extend(words.iter().map(|w| format!("{w} ")));
                v.extend(words.iter().map(|w| format!("{w}s")));
                v
            }
            Kind::Int { min, max, .. } => {
                let mut v = vec![
                    (max + 1).to_string(),
                    "-1".into(),
                    "+1".into(),
                    "1.0".into(),
                    "1e2".into(),
                    "99999999999999999999".into(),
                    " 1".into(),
                ];
                if *min > 0 {
                    v.push((min - 1).to_string());
                }
                v
            }
            Kind::Uuid => vec![
                "123e4567e89b12d3a456426614174000".into(),
                "123e4567-e89b-12d3-a456-42661417400g".into(),
                "123e4567-e89b-12d3-a456-4266141740000".into(),
                "{123e4567-e89b-12d3-a456-426614174000}".into(),
            ],
            Kind::Date => vec![
                "2023-02-29".into(),
                "2024-13-01".into(),
                "2024-01-01T24:00:00Z".into(),
                "2024-01-01T00:00:00".into(),
                "2024-01-01 00:00:00Z".into(),
                "20240101".into(),
                "2024-01-01T00:00:00.Z".into(),
                "2024-01-01T00:00:00+0100".into(),
            ],
            Kind::Cursor => vec![
                "a b".into(),
                "a&b".into(),
                "a%b".into(),
                "x".repeat(MAX_CURSOR_LEN + 1),
                "é".into(),
                "a,b".into(),
            ],
        };
        v.retain(|s| !s.is_empty());
        v
    }

    /// The test's own rule for echoing a name.
    fn echo(name: &str) -> String {
        name.chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
            .take(64)
            .collect()
    }

    /// Inserts `bad` into a spelling of `set`; returns the query and the name
    /// it must be refused for.
    fn with_bad(list: List, set: &Set, bad: &Bad, seed: u64) -> (String, String) {
        let mut rng = Rng(seed);
        let mut segs = segments(list, set, &mut rng);
        let table = list.params();
        let (seg, name) = match bad {
            Bad::Unknown(name) => (
                format!("{}=1", spell(name.as_bytes(), &mut rng, true)),
                echo(name),
            ),
            Bad::Repeated(i) if !set.is_empty() => {
                let (name, v) = &set[i.index(set.len())];
                let value = v.spelling(&mut rng);
                (
                    format!(
                        "{}={}",
                        spell(name.as_bytes(), &mut rng, true),
                        spell(value.as_bytes(), &mut rng, false)
                    ),
                    (*name).to_owned(),
                )
            }
            Bad::Repeated(i) | Bad::Empty(i, _) => {
                let name = table[i.index(table.len())].name;
                let bare = matches!(bad, Bad::Empty(_, true));
                let spelled = spell(name.as_bytes(), &mut rng, true);
                (
                    if bare { spelled } else { format!("{spelled}=") },
                    name.to_owned(),
                )
            }
            Bad::Value(i, j) => {
                let p = &table[i.index(table.len())];
                let values = bad_values(&p.kind);
                let value = &values[j.index(values.len())];
                (
                    format!(
                        "{}={}",
                        spell(p.name.as_bytes(), &mut rng, true),
                        spell(value.as_bytes(), &mut rng, false)
                    ),
                    p.name.to_owned(),
                )
            }
            Bad::Escape(i, raw) => {
                let name = table[i.index(table.len())].name;
                (
                    format!("{}={raw}", spell(name.as_bytes(), &mut rng, true)),
                    name.to_owned(),
                )
            }
        };
        let at = rng.below(segs.len() + 1);
        segs.insert(at, seg);
        (join(&segs, &mut rng), name)
    }

    /// Raw queries that often get past the first checks.
    fn queryish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("status".to_owned()),
            Just("pageSize".to_owned()),
            Just("pageIndex".to_owned()),
            Just("startDate".to_owned()),
            Just("endDate".to_owned()),
            Just("cursor".to_owned()),
            Just("agentId".to_owned()),
            Just("2024-01-01".to_owned()),
            Just("T00:00:00Z".to_owned()),
            Just("queue".to_owned()),
            "[=&%+0-9a-fA-Z._~:/-]{1,6}",
            "[0-9]{1,6}",
            ".{1,3}",
        ];
        prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    fn lists() -> impl Strategy<Value = List> {
        prop::sample::select(vec![List::Campaigns, List::Contacts, List::Calls])
    }

    proptest! {
        /// (1) Any permutation, padding, explicit defaults and percent-encoding
        /// of one valid set give one canonical string, the SPEC's.
        #[test]
        fn one_set_one_key((list, set) in valid_set(), a: u64, b: u64) {
            let want = expected(list, &set);
            let first = render(list, &set, a);
            let second = render(list, &set, b);
            prop_assert_eq!(canonical(list, Some(&first)), Ok(want.clone()), "{}", first);
            prop_assert_eq!(canonical(list, Some(&second)), Ok(want.clone()), "{}", second);
            if let Some(c) = &want {
                prop_assert!(canonical_chars(c), "{}", c);
            }
        }

        /// (2) Canonical is idempotent.
        #[test]
        fn canonical_is_idempotent((list, set) in valid_set(), seed: u64) {
            let raw = render(list, &set, seed);
            let once = canonical(list, Some(&raw));
            prop_assert!(once.is_ok());
            if let Ok(once) = once {
                prop_assert_eq!(canonical(list, once.as_deref()), Ok(once.clone()));
            }
        }

        /// (3) One invalid parameter anywhere makes the query invalid, naming it.
        #[test]
        fn an_invalid_parameter_is_named((list, set) in valid_set(), bad in bad(), seed: u64) {
            if let Bad::Unknown(name) = &bad {
                prop_assume!(!list.params().iter().any(|p| p.name == name));
            }
            let (raw, name) = with_bad(list, &set, &bad, seed);
            prop_assert_eq!(canonical(list, Some(&raw)), Err(InvalidParam(name)), "{}", raw);
        }

        /// (3) Half a date pair names the missing half.
        #[test]
        fn half_a_pair_names_the_other(
            (list, set) in valid_set().prop_filter("a list with dates", |(l, _)| *l != List::Contacts),
            kept in date(),
            drop_start: bool,
            seed: u64,
        ) {
            let (dropped, other) = if drop_start {
                ("startDate", "endDate")
            } else {
                ("endDate", "startDate")
            };
            let mut set: Set = set
                .into_iter()
                .filter(|(n, _)| !n.ends_with("Date"))
                .collect();
            set.push((other, kept));
            let raw = render(list, &set, seed);
            prop_assert_eq!(canonical(list, Some(&raw)), Err(InvalidParam(dropped.into())), "{}", raw);
        }

        /// (4) Nothing panics; an error name is short printable ASCII; whatever
        /// is accepted is canonical and stays so.
        #[test]
        fn arbitrary_input(list in lists(), raw in prop_oneof![".{0,200}", queryish()]) {
            match canonical(list, Some(&raw)) {
                Ok(Some(c)) => {
                    prop_assert!(canonical_chars(&c), "{}", c);
                    prop_assert_eq!(canonical(list, Some(&c)), Ok(Some(c.clone())));
                }
                Ok(None) => {}
                Err(InvalidParam(name)) => {
                    prop_assert!(name.chars().count() <= 64, "{}", name);
                    prop_assert!(name.bytes().all(|b| (b' '..=b'~').contains(&b)), "{:?}", name);
                }
            }
        }

        /// (4) Long and binary-ish names are echoed safely.
        #[test]
        fn echoed_names_are_safe(list in lists(), name in prop::collection::vec(any::<u8>(), 0..400)) {
            let raw: String = name.iter().map(|b| format!("%{b:02X}")).collect();
            if let Err(InvalidParam(echoed)) = canonical(list, Some(&format!("{raw}=1"))) {
                prop_assert!(echoed.len() <= 64);
                prop_assert!(echoed.bytes().all(|b| (b' '..=b'~').contains(&b)));
                let want = echo(&String::from_utf8_lossy(&name)).replace('\u{FFFD}', "?");
                prop_assert_eq!(echoed, want);
            }
        }
    }
}
