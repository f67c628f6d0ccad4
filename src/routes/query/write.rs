//! Writing a checked query in its canonical form: parameters in table
//! order (sorted by name), a default left out, integers without leading
//! zeros, one percent-encoding.

use super::percent::Decode;
use super::{Kind, Param, Value};

/// Where the canonical query is written: a `String`, or a `usize` that only
/// counts, so the string is allocated once at its exact size.
pub(super) trait Sink {
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

pub(super) fn write(table: &[Param], slots: &[Option<Value<'_>>], out: &mut impl Sink) {
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
