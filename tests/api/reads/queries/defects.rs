//! Invalid list queries: one defect each, and the parameter the 400 must
//! name.

use proptest::prelude::*;

use super::model::Rng;
use super::model::*;

/// What makes a query invalid, and which parameter the 400 must name.
#[derive(Debug, Clone, Copy)]
pub(super) enum Defect {
    /// A name the list does not take (another list's, or any other).
    Unknown,
    /// A parameter sent twice.
    Repeat,
    /// `name=` or `name`.
    Empty,
    /// A value outside the SPEC's table.
    OutOfTable,
    /// One of `startDate` and `endDate` without the other.
    LoneDate,
    /// A `%` that does not start an escape.
    BadEscape,
}

pub(super) fn defect_strategy() -> impl Strategy<Value = Defect> {
    prop_oneof![
        1 => Just(Defect::Unknown),
        1 => Just(Defect::Repeat),
        1 => Just(Defect::Empty),
        2 => Just(Defect::OutOfTable),
        1 => Just(Defect::LoneDate),
        1 => Just(Defect::BadEscape),
    ]
}

/// A raw query of `list` with exactly this defect, and the name the 400 must give.
pub(super) fn invalid_query(list: List, defect: Defect, rng: &mut Rng) -> (String, String) {
    rng.reencode();
    let mut params = valid_params(list, rng);
    let name = rng.pick(list.names());
    let (bad, named) = match defect {
        Defect::Unknown => {
            let pool = [
                "pageIndex",
                "pageSize",
                "cursor",
                "startDate",
                "endDate",
                "agentId",
                "integration",
                "answeredBy",
                "status",
                "page",
                "limit",
                "offset",
                "sort",
                "q",
                "_",
                "utm_source",
                "Status",
                "pagesize",
                "direction",
            ];
            let candidates: Vec<&str> = pool
                .into_iter()
                .filter(|n| !list.names().contains(n))
                .collect();
            let n = rng.pick(&candidates);
            (
                format!("{}={}", spell(n, rng), spell("1", rng)),
                n.to_string(),
            )
        }
        Defect::Repeat => {
            if !params.iter().any(|(n, _)| *n == name) {
                let v = list.valid(name, rng);
                params.push((name, v));
            }
            let again = list.valid(name, rng).spelling(rng);
            (
                format!("{}={}", spell(name, rng), spell(&again, rng)),
                name.to_string(),
            )
        }
        Defect::Empty => {
            let raw = if rng.coin() {
                format!("{}=", spell(name, rng))
            } else {
                spell(name, rng)
            };
            (raw, name.to_string())
        }
        Defect::OutOfTable => {
            let v = list.invalid(name, rng);
            (
                format!("{}={}", spell(name, rng), spell(&v, rng)),
                name.to_string(),
            )
        }
        Defect::LoneDate => {
            params.retain(|(n, _)| !matches!(*n, "startDate" | "endDate"));
            let (sent, missing) = if rng.coin() {
                ("startDate", "endDate")
            } else {
                ("endDate", "startDate")
            };
            let v = Val::Date(date(rng)).spelling(rng);
            let raw = format!("{sent}={}", spell(&v, rng));
            if list.has_dates() {
                (raw, missing.to_string())
            } else {
                // The contact list takes no dates at all.
                (raw, sent.to_string())
            }
        }
        Defect::BadEscape => {
            let v = list.valid(name, rng).spelling(rng);
            let raw = if rng.coin() {
                // Cut short at the end.
                let junk = rng.pick(&["%", "%4", "%a"]);
                format!("{}{junk}", spell(&v, rng))
            } else {
                // Anywhere: junk whose next byte is never a hex digit.
                let junk = rng.pick(&["%z", "%zz", "%G1", "%%41", "%-"]);
                let at = rng.below(v.len() as u64 + 1) as usize;
                format!("{}{junk}{}", spell(&v[..at], rng), spell(&v[at..], rng))
            };
            (format!("{}={raw}", spell(name, rng)), name.to_string())
        }
    };
    // The valid parameters (less the one whose value is broken), with the
    // defect anywhere among them. Of a repeat, whichever occurrence comes
    // second is refused: both have the name expected.
    let mut pairs: Vec<String> = params
        .iter()
        .filter(|(n, _)| {
            !matches!(
                defect,
                Defect::Empty | Defect::OutOfTable | Defect::BadEscape
            ) || *n != name
        })
        .map(|(n, v)| format!("{}={}", spell(n, rng), spell(&v.spelling(rng), rng)))
        .collect();
    let at = rng.below(pairs.len() as u64 + 1) as usize;
    pairs.insert(at, bad);
    (pairs.join("&"), named)
}
