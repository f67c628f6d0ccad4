//! Deterministic ingredients of generated data: a stable hash, UUID-shaped
//! ids, names, phone numbers and durations.
//!
//! Everything here is a pure function of its input (no `RandomState`), so a
//! simulator answers the same bytes for the same id in every run.

/// A stable 64-bit hash (FNV-1a, then a splitmix64 finaliser to spread it).
pub(super) fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    mix(h)
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A UUID v4-shaped id derived from `parts` (version nibble 4, variant 10xx).
pub(super) fn uuid(parts: &[&str]) -> String {
    let hi = hash(parts);
    let lo = mix(hi ^ 0x5851_f42d_4c95_7f2d);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0x0fff,
        0x8000 | ((lo >> 48) & 0x3fff),
        lo & 0xffff_ffff_ffff
    )
}

const FIRST: [&str; 12] = [
    "María", "José", "Lucía", "Carlos", "Ana", "Luis", "Sofía", "Jorge", "Valeria", "Miguel",
    "Camila", "Diego",
];
const LAST: [&str; 10] = [
    "García",
    "Hernández",
    "López",
    "Martínez",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Torres",
];

/// A person's name picked by `h`.
pub(super) fn name(h: u64) -> String {
    let first = FIRST[(h % FIRST.len() as u64) as usize];
    let last = LAST[((h >> 8) % LAST.len() as u64) as usize];
    format!("{first} {last}")
}

/// A Mexican mobile number in E.164 picked by `n`.
pub(super) fn phone(n: u64) -> String {
    format!("+52155{:08}", n % 100_000_000)
}

/// Whether `s` is E.164: `+` and 8 to 15 digits, the first not 0.
pub(super) fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// `"01:34"` for 94 seconds: how Altur's /en/ docs show `billed_duration`.
pub(super) fn mm_ss(seconds: u64) -> String {
    format!("{:02}:{:02}", seconds / 60, seconds % 60)
}

/// Picks from a non-empty list by `n`.
pub(super) fn pick<T: Copy>(list: &[T], n: u64, fallback: T) -> T {
    match list.len() {
        0 => fallback,
        len => list[(n % len as u64) as usize],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_uuid_shaped() {
        let a = uuid(&["thread", "eu-1"]);
        assert_eq!(a, uuid(&["thread", "eu-1"]));
        assert_ne!(a, uuid(&["thread", "eu-2"]));
        assert_ne!(
            uuid(&["ab", "c"]),
            uuid(&["a", "bc"]),
            "parts are delimited"
        );
        let groups: Vec<_> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert!(a.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    }

    #[test]
    fn phones_are_e164() {
        assert!(is_e164(&phone(12)));
        assert_eq!(phone(12), "+5215500000012");
        for bad in [
            "",
            "+",
            "5215512345678",
            "+0123456789",
            "+52 155",
            "+1234567",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
        assert_eq!(mm_ss(94), "01:34");
    }
}
