//! `X-Request-Id`: the caller's, or a new one from a per-process random
//! prefix and a counter.

use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Unique request ids: a per-process random prefix and a counter.
pub struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

impl RequestIds {
    pub fn new() -> RequestIds {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        RequestIds {
            prefix: h.finish(),
            next: AtomicU64::new(1),
        }
    }

    /// The caller's id if it sent a usable one (1 to 200 bytes), else a new one.
    pub fn for_request(&self, headers: &HeaderMap) -> HeaderValue {
        if let Some(v) = headers.get(&X_REQUEST_ID)
            && !v.is_empty()
            && v.len() <= 200
        {
            return v.clone();
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // `{prefix:016x}-{n:x}` written by hand: one exact-size allocation
        // instead of format!'s growing String and its conversion.
        let mut buf = [0u8; 33];
        let mut len = hex(&mut buf, self.prefix, 16);
        buf[len] = b'-';
        len += 1;
        let digits = (16 - n.leading_zeros() as usize / 4).max(1);
        len += hex(&mut buf[len..], n, digits);
        HeaderValue::from_bytes(&buf[..len]).unwrap_or(HeaderValue::from_static("-"))
    }
}

/// Writes the low `digits` hex digits of `v` into `out`; returns `digits`.
fn hex(out: &mut [u8], v: u64, digits: usize) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in out[..digits].iter_mut().enumerate() {
        *b = HEX[((v >> (4 * (digits - 1 - i))) & 0xf) as usize];
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_prefix_dash_counter_in_hex() {
        let ids = RequestIds {
            prefix: 0x00ab_cdef_0123_4567,
            next: AtomicU64::new(0),
        };
        for n in [0u64, 1, 9, 15, 16, 255, 256, 0xdead_beef, u64::MAX] {
            ids.next.store(n, Ordering::Relaxed);
            let got = ids.for_request(&HeaderMap::new());
            assert_eq!(got, format!("{:016x}-{n:x}", ids.prefix).as_str(), "{n}");
        }
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("abc"));
        assert_eq!(ids.for_request(&h), "abc");
    }
}
