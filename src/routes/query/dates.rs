//! Date parameters: `YYYY-MM-DD` or an RFC 3339 date-time, checked byte by byte.

/// `YYYY-MM-DD` (a real date, proleptic Gregorian, years 0000-9999) or an
/// RFC 3339 date-time `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `t`/`z` allowed.
pub(super) fn date_ok(mut it: impl Iterator<Item = u8>) -> bool {
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

pub(super) fn fill(it: &mut impl Iterator<Item = u8>, buf: &mut [u8]) -> bool {
    for slot in buf {
        match it.next() {
            Some(b) => *slot = b,
            None => return false,
        }
    }
    true
}

/// The value of a run of ASCII digits.
pub(super) fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

pub(super) fn calendar_date(d: [u8; 10]) -> bool {
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
pub(super) fn clock(t: [u8; 8]) -> bool {
    let [h0, h1, b':', m0, m1, b':', s0, s1] = t else {
        return false;
    };
    number(&[h0, h1]).is_some_and(|h| h <= 23)
        && number(&[m0, m1]).is_some_and(|m| m <= 59)
        && number(&[s0, s1]).is_some_and(|s| s <= 60)
}

/// `HH:MM` after the sign.
pub(super) fn utc_offset(o: [u8; 5]) -> bool {
    let [h0, h1, b':', m0, m1] = o else {
        return false;
    };
    number(&[h0, h1]).is_some_and(|h| h <= 23) && number(&[m0, m1]).is_some_and(|m| m <= 59)
}
