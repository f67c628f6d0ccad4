//! Path parameter validators (SPEC, "Path parameters").
//!
//! Segments arrive raw, exactly as received: no percent-decoding, so `%31`
//! is not `1` and nothing but the characters below can ever reach an
//! upstream path.

/// The longest `{call_id}`, `{thread_id}` or `{enduser_id}` accepted.
pub const MAX_TOKEN_LEN: usize = 64;

/// `{id}` / `{contact_id}`: ASCII digits only, fitting in an i64 (leading
/// zeros allowed, canonicalised away: `007` is `7`).
///
/// No sign, no whitespace, no percent-escape. However many leading zeros it
/// has, a number that fits is accepted: only the value counts.
pub fn digits_i64(segment: &str) -> Option<i64> {
    if segment.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for b in segment.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(value)
}

/// `{call_id}`, `{thread_id}`, `{enduser_id}`: 1 to 64 of `[A-Za-z0-9_-]`,
/// kept as sent (no case folding).
pub fn token(segment: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&segment.len())
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn digits_are_canonicalised() {
        assert_eq!(digits_i64("7"), Some(7));
        assert_eq!(digits_i64("007"), Some(7));
        assert_eq!(digits_i64("0"), Some(0));
        assert_eq!(digits_i64("000"), Some(0));
        assert_eq!(digits_i64("9223372036854775807"), Some(i64::MAX));
        assert_eq!(digits_i64("00009223372036854775807"), Some(i64::MAX));
    }

    #[test]
    fn bad_digits_are_refused() {
        for s in [
            "",
            "abc",
            "-1",
            "+1",
            "1.5",
            " 1",
            "1 ",
            "%31",
            "1e3",
            "0x10",
            "９",
            "9223372036854775808",
            "99999999999999999999",
            "18446744073709551616",
        ] {
            assert_eq!(digits_i64(s), None, "{s:?}");
        }
    }

    #[test]
    fn tokens() {
        for s in ["a", "A", "0", "_", "-", "abc_DEF-123", &"x".repeat(64)] {
            assert!(token(s), "{s:?}");
        }
        for s in [
            "",
            &"x".repeat(65),
            "a.b",
            "a/b",
            "a b",
            "%41",
            "a%2Fb",
            "..",
            "é",
            "a+b",
            "a~b",
            "a:b",
        ] {
            assert!(!token(s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn digits_agree_with_std(s in "[0-9]{1,25}") {
            prop_assert_eq!(digits_i64(&s), s.parse::<i64>().ok());
        }

        #[test]
        fn any_i64_round_trips(v in 0..=i64::MAX, zeros in 0usize..5) {
            let s = format!("{}{v}", "0".repeat(zeros));
            prop_assert_eq!(digits_i64(&s), Some(v));
        }

        #[test]
        fn digits_only_ever_accepts_digits(s in ".{0,30}") {
            if let Some(v) = digits_i64(&s) {
                prop_assert!(s.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(s.trim_start_matches('0').parse::<i64>().unwrap_or(0), v);
            }
        }

        #[test]
        fn token_matches_its_grammar(s in ".{0,70}") {
            let expected = (1..=64).contains(&s.len())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            prop_assert_eq!(token(&s), expected);
        }

        #[test]
        fn valid_tokens(s in "[A-Za-z0-9_-]{1,64}") {
            prop_assert!(token(&s));
        }
    }
}
