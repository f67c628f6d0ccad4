//! Invalid parameters of every kind, spliced into a valid set, with the
//! name the refusal must echo; and query-like noise.

use super::super::super::*;
use super::model::Rng;
use super::model::*;
use proptest::prelude::*;

/// Every character a canonical query may hold.
pub(super) fn canonical_chars(q: &str) -> bool {
    q.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~:%&=".contains(&b))
}

/// A parameter that makes any query invalid, and the name it must be reported as.
#[derive(Debug, Clone)]
pub(super) enum Bad {
    Unknown(String),
    Repeated(prop::sample::Index),
    Empty(prop::sample::Index, bool),
    Value(prop::sample::Index, prop::sample::Index),
    Escape(prop::sample::Index, &'static str),
}

pub(super) fn bad() -> impl Strategy<Value = Bad> {
    use prop::sample::{Index, select};
    prop_oneof![
        prop_oneof![".{0,80}", "[a-zA-Z]{1,12}"].prop_map(Bad::Unknown),
        any::<Index>().prop_map(Bad::Repeated),
        (any::<Index>(), any::<bool>()).prop_map(|(i, bare)| Bad::Empty(i, bare)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Bad::Value(i, j)),
        (
            any::<Index>(),
            select(vec!["%", "%4", "%zz", "%G0", "ab%", "a%2", "50%", "%%35"])
        )
            .prop_map(|(i, e)| Bad::Escape(i, e)),
    ]
}

/// Decoded values outside the table for `kind`.
pub(super) fn bad_values(kind: &Kind) -> Vec<String> {
    let mut v: Vec<String> = match kind {
        Kind::OneOf(words) => {
            let mut v: Vec<String> = ["queue", "active", "ended", "human", "whatsapp", "x"]
                .iter()
                .filter(|w| !words.contains(w))
                .map(|w| (*w).to_owned())
                .collect();
            v.extend(words.iter().map(|w| w.to_uppercase()));
            v.extend(words.iter().map(|w| format!("{w} ")));
            v.extend(words.iter().map(|w| format!("{w}s")));
            v
        }
        Kind::Int { min, max, .. } => {
            let mut v = vec![
                (max + 1).to_string(),
                "-1".into(),
                "+1".into(),
                "1.0".into(),
                "1e2".into(),
                "99999999999999999999".into(),
                " 1".into(),
            ];
            if *min > 0 {
                v.push((min - 1).to_string());
            }
            v
        }
        Kind::Uuid => vec![
            "123e4567e89b12d3a456426614174000".into(),
            "123e4567-e89b-12d3-a456-42661417400g".into(),
            "123e4567-e89b-12d3-a456-4266141740000".into(),
            "{123e4567-e89b-12d3-a456-426614174000}".into(),
        ],
        Kind::Date => vec![
            "2023-02-29".into(),
            "2024-13-01".into(),
            "2024-01-01T24:00:00Z".into(),
            "2024-01-01T00:00:00".into(),
            "2024-01-01 00:00:00Z".into(),
            "20240101".into(),
            "2024-01-01T00:00:00.Z".into(),
            "2024-01-01T00:00:00+0100".into(),
        ],
        Kind::Cursor => vec![
            "a b".into(),
            "a&b".into(),
            "a%b".into(),
            "x".repeat(MAX_CURSOR_LEN + 1),
            "é".into(),
            "a,b".into(),
        ],
    };
    v.retain(|s| !s.is_empty());
    v
}

/// The test's own rule for echoing a name.
pub(super) fn echo(name: &str) -> String {
    name.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(64)
        .collect()
}

/// Inserts `bad` into a spelling of `set`; returns the query and the name
/// it must be refused for.
pub(super) fn with_bad(list: List, set: &Set, bad: &Bad, seed: u64) -> (String, String) {
    let mut rng = Rng(seed);
    let mut segs = segments(list, set, &mut rng);
    let table = list.params();
    let (seg, name) = match bad {
        Bad::Unknown(name) => (
            format!("{}=1", spell(name.as_bytes(), &mut rng, true)),
            echo(name),
        ),
        Bad::Repeated(i) if !set.is_empty() => {
            let (name, v) = &set[i.index(set.len())];
            let value = v.spelling(&mut rng);
            (
                format!(
                    "{}={}",
                    spell(name.as_bytes(), &mut rng, true),
                    spell(value.as_bytes(), &mut rng, false)
                ),
                (*name).to_owned(),
            )
        }
        Bad::Repeated(i) | Bad::Empty(i, _) => {
            let name = table[i.index(table.len())].name;
            let bare = matches!(bad, Bad::Empty(_, true));
            let spelled = spell(name.as_bytes(), &mut rng, true);
            (
                if bare { spelled } else { format!("{spelled}=") },
                name.to_owned(),
            )
        }
        Bad::Value(i, j) => {
            let p = &table[i.index(table.len())];
            let values = bad_values(&p.kind);
            let value = &values[j.index(values.len())];
            (
                format!(
                    "{}={}",
                    spell(p.name.as_bytes(), &mut rng, true),
                    spell(value.as_bytes(), &mut rng, false)
                ),
                p.name.to_owned(),
            )
        }
        Bad::Escape(i, raw) => {
            let name = table[i.index(table.len())].name;
            (
                format!("{}={raw}", spell(name.as_bytes(), &mut rng, true)),
                name.to_owned(),
            )
        }
    };
    let at = rng.below(segs.len() + 1);
    segs.insert(at, seg);
    (join(&segs, &mut rng), name)
}

/// Raw queries that often get past the first checks.
pub(super) fn queryish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("status".to_owned()),
        Just("pageSize".to_owned()),
        Just("pageIndex".to_owned()),
        Just("startDate".to_owned()),
        Just("endDate".to_owned()),
        Just("cursor".to_owned()),
        Just("agentId".to_owned()),
        Just("2024-01-01".to_owned()),
        Just("T00:00:00Z".to_owned()),
        Just("queue".to_owned()),
        "[=&%+0-9a-fA-Z._~:/-]{1,6}",
        "[0-9]{1,6}",
        ".{1,3}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

pub(super) fn lists() -> impl Strategy<Value = List> {
    prop::sample::select(vec![List::Campaigns, List::Contacts, List::Calls])
}
