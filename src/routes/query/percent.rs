//! Percent-decoding of raw query text, and the one encoding canonical output uses.

pub(super) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Every `%` starts an escape of two hex digits.
pub(super) fn escapes_ok(raw: &str) -> bool {
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
pub(super) struct Decode<'a> {
    rest: &'a [u8],
}

impl<'a> Decode<'a> {
    pub(super) fn new(raw: &'a str) -> Decode<'a> {
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
pub(super) fn decode_small<'b>(raw: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut len = 0;
    for b in Decode::new(raw) {
        *buf.get_mut(len)? = b;
        len += 1;
    }
    buf.get(..len)
}

// ---- output ----
