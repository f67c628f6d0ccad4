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

mod dates;
mod percent;
mod tables;
mod write;

use dates::date_ok;
use percent::{Decode, decode_small, escapes_ok};
use tables::{CALLS, CAMPAIGNS, CONTACTS};
use write::write;

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

    /// The accepted parameters' names, sorted by name.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.params().iter().map(|p| p.name)
    }

    /// Each accepted parameter's name and its values in words (Markdown),
    /// sorted by name: the README's query table.
    pub fn describe(self) -> impl Iterator<Item = (&'static str, String)> {
        self.params().iter().map(|p| (p.name, p.kind.describe()))
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
    /// The values it accepts, in words (Markdown).
    fn describe(&self) -> String {
        match *self {
            Kind::OneOf(words) => words
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", "),
            Kind::Uuid => "a UUID (any case; written lower-case)".to_owned(),
            Kind::Date => {
                "`YYYY-MM-DD` or an RFC 3339 date-time; `startDate` and `endDate` both or neither"
                    .to_owned()
            }
            Kind::Int {
                min,
                max,
                default: Some(d),
            } => format!("{min} to {max}, default {d} (left out of the key)"),
            Kind::Int {
                min,
                max,
                default: None,
            } => format!("{min} to {max} (no documented default: always kept)"),
            Kind::Cursor => {
                format!("1 to {MAX_CURSOR_LEN} of `[A-Za-z0-9._~+/=-]` (after percent-decoding)")
            }
        }
    }

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

#[cfg(test)]
mod tests;
