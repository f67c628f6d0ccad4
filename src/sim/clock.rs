//! Simulated time: RFC 3339 formatting and parsing, and the clock writes run on.
//!
//! Generated data lives in January and February 2026. A write that stamps a
//! time (a created campaign, a started call, a sent message) happens at
//! [`SIM_EPOCH`] plus one second per such write before it, so the same
//! sequence of writes always yields the same timestamps (tests compare
//! bodies) and a later write is always later than all generated data.

/// 2026-03-01T09:00:00Z: the simulated time of the first write.
pub(super) const SIM_EPOCH: i64 = 1_772_355_600;

/// Unix seconds of midnight UTC on this civil date (proleptic Gregorian).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-03-01T09:00:00Z` for these unix seconds.
pub(super) fn rfc3339(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses `YYYY-MM-DD` (its first second, or with `end_of_day` its last) or an
/// RFC 3339 date-time (`Z` or `±HH:MM`, fractions ignored) into unix seconds.
pub(super) fn parse(s: &str, end_of_day: bool) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().all(u8::is_ascii_digit).then_some(())?;
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day = days_from_civil(y, m, d) * 86_400;
    if b.len() == 10 {
        return Some(if end_of_day { day + 86_399 } else { day });
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hh, mm, ss) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let [h1, h2, m1, m2] = digits.map(|c| i64::from(c - b'0'));
            let minutes = (h1 * 10 + h2) * 60 + m1 * 10 + m2;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    Some(day + hh * 3600 + mm * 60 + ss - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(rfc3339(SIM_EPOCH), "2026-03-01T09:00:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse("2026-03-01T09:00:00Z", false), Some(SIM_EPOCH));
        assert_eq!(
            parse("2026-03-01T10:00:00.123+01:00", false),
            Some(SIM_EPOCH)
        );
        assert_eq!(parse("2026-03-01", false), Some(SIM_EPOCH - 9 * 3600));
        assert_eq!(parse("2026-03-01", true), Some(SIM_EPOCH + 15 * 3600 - 1));
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-03-01T",
            "2026-03-01T09:00:00",
            "２０２６-03-01",
        ] {
            assert_eq!(parse(bad, false), None, "{bad}");
        }
    }
}
