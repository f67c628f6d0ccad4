//! W3C Trace Context: the caller's `traceparent`, validated, or a new trace id.
//!
//! Only what the gateway itself needs: the trace id for the access line and
//! the parent of its request span. Nothing here is ever sent upstream: the
//! upstream request is built from scratch (see [`crate::upstream`]), and Altur
//! is a third party that has no business with our callers' trace ids.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderName};

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A 16-byte trace id, shown as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        hex_into(&self.0, &mut buf);
        // Hex digits are ASCII: this never fails.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A valid `traceparent`: the caller's trace and its span, our parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: TraceId,
    pub parent_id: [u8; 8],
    pub flags: u8,
}

impl TraceParent {
    /// The caller's header, if there is exactly one and it is valid
    /// (W3C Trace Context, level 1, with its rules for later versions).
    pub fn from_headers(headers: &HeaderMap) -> Option<TraceParent> {
        let mut all = headers.get_all(TRACEPARENT).iter();
        let (Some(v), None) = (all.next(), all.next()) else {
            // None, or several: the spec treats several as invalid.
            return None;
        };
        parse(v.as_bytes())
    }
}

/// Parses `version-traceid-parentid-flags`. Lower-case hex only; an all-zero
/// trace or parent id, version `ff`, or a version-00 value of any other
/// length is invalid. A later version may carry more after a `-`.
pub fn parse(v: &[u8]) -> Option<TraceParent> {
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let version = hex_byte(&v[0..2])?;
    match version {
        0xff => return None,
        0 if v.len() != 55 => return None,
        _ if v.len() > 55 && v[55] != b'-' => return None,
        _ => {}
    }
    let mut trace_id = [0u8; 16];
    for (i, b) in trace_id.iter_mut().enumerate() {
        *b = hex_byte(&v[3 + 2 * i..5 + 2 * i])?;
    }
    let mut parent_id = [0u8; 8];
    for (i, b) in parent_id.iter_mut().enumerate() {
        *b = hex_byte(&v[36 + 2 * i..38 + 2 * i])?;
    }
    let flags = hex_byte(&v[53..55])?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some(TraceParent {
        trace_id: TraceId(trace_id),
        parent_id,
        flags,
    })
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    match two {
        [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
        _ => None,
    }
}

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
}

/// New trace ids for requests that came without a usable `traceparent`:
/// a per-process random seed and a counter, each half put through a
/// bijective mixer, so ids are unique within the process and look random
/// (W3C asks for randomness in the right-most bytes).
pub struct TraceIds {
    seed: [u64; 2],
    next: AtomicU64,
}

impl Default for TraceIds {
    fn default() -> Self {
        TraceIds::new()
    }
}

impl TraceIds {
    pub fn new() -> TraceIds {
        use std::hash::{BuildHasher, Hasher};
        let seed = |salt: u64| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(salt);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            h.finish()
        };
        TraceIds {
            seed: [seed(1), seed(2)],
            next: AtomicU64::new(1),
        }
    }

    pub fn next(&self) -> TraceId {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let hi = mix(self.seed[0] ^ n.rotate_left(32));
        // A bijection of the counter: never repeats within 2^64 ids.
        let lo = mix(self.seed[1].wrapping_add(n));
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&hi.to_be_bytes());
        id[8..].copy_from_slice(&lo.to_be_bytes());
        if id == [0; 16] {
            id[15] = 1;
        }
        TraceId(id)
    }
}

/// splitmix64's finalizer: a bijection on u64 with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_parses() {
        let t = parse(GOOD.as_bytes()).expect("valid");
        assert_eq!(t.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            t.parent_id,
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert_eq!(t.flags, 1);
        // A later version may add fields after a dash.
        let v1 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
        assert!(parse(v1.as_bytes()).is_some());
    }

    #[test]
    fn invalid_headers_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn two_headers_are_invalid() {
        let mut h = HeaderMap::new();
        h.append(TRACEPARENT, GOOD.parse().expect("hv"));
        assert!(TraceParent::from_headers(&h).is_some());
        h.append(TRACEPARENT, GOOD.parse().expect("hv"));
        assert_eq!(TraceParent::from_headers(&h), None);
    }

    #[test]
    fn new_ids_are_distinct_and_nonzero() {
        let ids = TraceIds::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = ids.next();
            assert_ne!(id.0, [0; 16]);
            assert!(seen.insert(id));
        }
        assert_eq!(ids.next().to_string().len(), 32);
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(s in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = parse(&s);
        }

        #[test]
        fn what_we_print_we_parse(t in proptest::array::uniform16(1u8..), p in proptest::array::uniform8(1u8..), f: u8) {
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            let text = format!("00-{}-{}-{f:02x}", hex(&t), hex(&p));
            let parsed = parse(text.as_bytes());
            proptest::prop_assert_eq!(parsed.map(|x| (x.trace_id.0, x.parent_id, x.flags)), Some((t, p, f)));
        }
    }
}
