//! The canonicaliser through HTTP: every spelling of a valid list query
//! (any order, zero-padding, explicit defaults, percent-encoding, stray
//! `&`s, a zero-padded campaign id) is one upstream request for the
//! canonical target, and one body; any invalid query is 400
//! `invalid_parameter` naming the parameter, and never reaches upstream.
//!
//! The expected canonical form is written here, from the SPEC, independently
//! of the gateway's code.

use std::cell::Cell;
use std::time::Duration;

use base64::Engine;
use proptest::prelude::*;

use super::{advance, paused_runtime, run_cases};
use crate::helpers::TestApp;

/// splitmix64: the random choices of one case, reproducible from its seed.
struct Rng {
    state: u64,
    /// Eighths of the bytes [`spell`] percent-encodes when it need not.
    encode_rate: u64,
}

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng {
            state: seed,
            encode_rate: 1,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A new density of needless percent-encoding: none, light or heavy.
    fn reencode(&mut self) {
        self.encode_rate = self.pick(&[0, 0, 1, 3]);
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Campaigns,
    Contacts,
    Calls,
}

const CAMPAIGN_STATUS: &[&str] = &[
    "pending", "ready", "active", "inactive", "cooldown", "finished",
];
const INTEGRATION: &[&str] = &["phone_call", "whatsapp"];
const CONTACT_STATUS: &[&str] = &[
    "queue",
    "sending",
    "sent",
    "delivered",
    "voicemail",
    "read",
    "failed",
    "no-answer",
    "busy",
    "retrying",
    "converted",
    "acepted",
    "accepted",
    "rejected",
    "unreachable",
];
const CALL_STATUS: &[&str] = &["ended", "failed", "busy", "no-answer", "in-progress"];
const ANSWERED_BY: &[&str] = &["human", "machine", "unknown"];

impl List {
    /// The SPEC's parameters of this list.
    fn names(self) -> &'static [&'static str] {
        match self {
            List::Campaigns => &[
                "agentId",
                "cursor",
                "endDate",
                "integration",
                "pageSize",
                "startDate",
                "status",
            ],
            List::Contacts => &["pageIndex", "pageSize", "status"],
            List::Calls => &[
                "answeredBy",
                "endDate",
                "pageIndex",
                "pageSize",
                "startDate",
                "status",
            ],
        }
    }

    fn words(self, name: &str) -> &'static [&'static str] {
        match (self, name) {
            (List::Campaigns, "status") => CAMPAIGN_STATUS,
            (List::Campaigns, _) => INTEGRATION,
            (List::Contacts, _) => CONTACT_STATUS,
            (List::Calls, "status") => CALL_STATUS,
            (List::Calls, _) => ANSWERED_BY,
        }
    }

    /// The SPEC's default of an integer parameter, left out of the key.
    fn default_of(self, name: &str) -> Option<u32> {
        match (self, name) {
            (List::Contacts | List::Calls, "pageIndex") => Some(0),
            (List::Contacts | List::Calls, "pageSize") => Some(50),
            _ => None,
        }
    }

    fn has_dates(self) -> bool {
        self != List::Contacts
    }

    /// The path, campaign id zero-padded `zeros` times.
    fn path(self, campaign: i64, zeros: usize) -> String {
        let id = format!("{}{campaign}", "0".repeat(zeros));
        match self {
            List::Campaigns => "/api/v1.0/campaigns".into(),
            List::Contacts => format!("/api/v1.0/campaigns/{id}/contacts"),
            List::Calls => format!("/api/v1.0/campaigns/{id}/calls"),
        }
    }

    fn canonical_path(self, campaign: i64) -> String {
        self.path(campaign, 0)
    }

    /// A valid value of `name`, chosen by `rng`.
    fn valid(self, name: &str, rng: &mut Rng) -> Val {
        match name {
            "agentId" => Val::Uuid(
                (0..32)
                    .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
                    .collect(),
            ),
            "cursor" => {
                // The simulator's cursors: base64 of `after:<id>` / `before:<id>`.
                let kind = rng.pick(&["after", "before"]);
                let text = format!("{kind}:{}", rng.below(80));
                Val::Cursor(base64::engine::general_purpose::STANDARD.encode(text))
            }
            "startDate" | "endDate" => Val::Date(date(rng)),
            "pageSize" if self.default_of(name).is_some() && rng.coin() => Val::Int(50),
            "pageSize" => Val::Int(1 + rng.below(100) as u32),
            "pageIndex" => Val::Int(match rng.below(3) {
                0 => 0,
                1 => rng.below(4) as u32,
                _ => rng.below(25_001) as u32,
            }),
            _ => Val::Word(rng.pick(self.words(name))),
        }
    }

    /// A value of `name` outside the SPEC's table, as decoded text.
    fn invalid(self, name: &str, rng: &mut Rng) -> String {
        let s = |v: &str| v.to_string();
        match name {
            "agentId" => s(rng.pick(&[
                "not-a-uuid",
                "3f2504e004f911d3a1290800200c9a66",
                "3f2504e0-04f9-11d3-a129-0800200c9a6",
                "3f2504e0-04f9-11d3-a129-0800200c9a66-",
                "3g2504e0-04f9-11d3-a129-0800200c9a66",
                "{3f2504e0-04f9-11d3-a129-0800200c9a66}",
            ])),
            "cursor" => match rng.below(3) {
                0 => "a".repeat(513),
                1 => s("abc def"),
                _ => s(rng.pick(&["a!b", "a%b", "a&b", "a#b", "é", "a*b"])),
            },
            "startDate" | "endDate" => s(rng.pick(&[
                "2026-02-30",
                "2026-13-01",
                "2026-1-01",
                "26-01-01",
                "2026/01/01",
                "2026-01-01T25:00:00Z",
                "2026-01-01T10:00:00",
                "2026-01-01 10:00:00Z",
                "2026-01-01T10:00:00.Z",
                "2026-01-01T10:00:00+1:00",
                "today",
                "1767225600",
            ])),
            "pageSize" => match rng.below(3) {
                0 => s("0"),
                1 => (101 + rng.below(100_000)).to_string(),
                _ => s(rng.pick(&["-1", "1.5", "1e2", "x", "+5", " 5", "0x10", "５"])),
            },
            "pageIndex" => match rng.below(3) {
                0 => (25_001 + rng.below(1_000_000)).to_string(),
                1 => s("99999999999999999999"),
                _ => s(rng.pick(&["-1", "1.0", "x", "+1", "0x1", "٣"])),
            },
            _ => {
                let words = self.words(name);
                let others: Vec<&str> = [
                    CAMPAIGN_STATUS,
                    INTEGRATION,
                    CONTACT_STATUS,
                    CALL_STATUS,
                    ANSWERED_BY,
                ]
                .concat()
                .into_iter()
                .filter(|w| !words.contains(w))
                .collect();
                match rng.below(3) {
                    0 => rng.pick(words).to_uppercase(),
                    1 => format!("{} ", rng.pick(words)),
                    _ => s(rng.pick(&others)),
                }
            }
        }
    }
}

/// A checked value, as its meaning.
#[derive(Debug, Clone)]
enum Val {
    Word(&'static str),
    Int(u32),
    /// 32 lower-case hex digits.
    Uuid(String),
    /// Upper-case `T` and `Z`.
    Date(String),
    Cursor(String),
}

/// A date, or an RFC 3339 date-time, with upper-case `T` and `Z`.
fn date(rng: &mut Rng) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02}",
        2020 + rng.below(11),
        1 + rng.below(12),
        1 + rng.below(28)
    );
    if rng.coin() {
        s.push_str(&format!(
            "T{:02}:{:02}:{:02}",
            rng.below(24),
            rng.below(60),
            rng.below(60)
        ));
        if rng.coin() {
            s.push_str(&format!(".{}", rng.below(1_000_000)));
        }
        if rng.coin() {
            s.push('Z');
        } else {
            let sign = rng.pick(&['+', '-']);
            s.push_str(&format!(
                "{sign}{:02}:{:02}",
                rng.below(15),
                rng.pick(&[0, 30, 45])
            ));
        }
    }
    s
}

impl Val {
    /// One decoded spelling: zero-padded integers, any-case UUIDs and `t`/`z`.
    fn spelling(&self, rng: &mut Rng) -> String {
        match self {
            Val::Word(w) => (*w).to_string(),
            Val::Int(n) => format!("{}{n}", "0".repeat(rng.below(4) as usize)),
            Val::Uuid(hex) => hex
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let dash = matches!(i, 8 | 12 | 16 | 20).then_some('-');
                    let c = if rng.coin() {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    };
                    dash.into_iter().chain(std::iter::once(c))
                })
                .collect(),
            Val::Date(d) => d
                .chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() && rng.coin() {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }
                })
                .collect(),
            Val::Cursor(c) => c.clone(),
        }
    }

    /// The canonical text, written independently of the gateway's code.
    fn canonical(&self) -> String {
        match self {
            Val::Word(w) => (*w).to_string(),
            Val::Int(n) => n.to_string(),
            Val::Uuid(h) => format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ),
            Val::Date(d) => encode(d),
            Val::Cursor(c) => encode(c),
        }
    }
}

/// The canonical percent-encoding: `A-Za-z0-9-._~:` literally, the rest `%XX`.
fn encode(decoded: &str) -> String {
    decoded
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Decoded text as a raw query component: each byte literally where that
/// keeps its meaning (and the rate allows), else as `%xx` in either case.
fn spell(decoded: &str, rng: &mut Rng) -> String {
    let mut raw = String::new();
    for b in decoded.bytes() {
        let literal_ok = b.is_ascii_graphic() && !b"%&#=+".contains(&b);
        if literal_ok && rng.below(8) >= rng.encode_rate {
            raw.push(char::from(b));
        } else if b == b'+' && rng.coin() {
            // A raw `+` is a plus (RFC 3986), never a space.
            raw.push('+');
        } else if rng.coin() {
            raw.push_str(&format!("%{b:02X}"));
        } else {
            raw.push_str(&format!("%{b:02x}"));
        }
    }
    raw
}

type Params = Vec<(&'static str, Val)>;

/// A valid parameter set of `list`: each parameter with probability one
/// half, the two dates together.
fn valid_params(list: List, rng: &mut Rng) -> Params {
    let dates = list.has_dates() && rng.coin();
    let mut out = Params::new();
    for &name in list.names() {
        let wanted = match name {
            "startDate" | "endDate" => dates,
            _ => rng.coin(),
        };
        if wanted {
            out.push((name, list.valid(name, rng)));
        }
    }
    out
}

/// The canonical query of a valid set: sorted by name, defaults left out.
fn canonical_query(list: List, params: &Params) -> Option<String> {
    let mut kept: Vec<(&str, String)> = params
        .iter()
        .filter(|(n, v)| !matches!(v, Val::Int(i) if list.default_of(n) == Some(*i)))
        .map(|(n, v)| (*n, v.canonical()))
        .collect();
    kept.sort();
    (!kept.is_empty()).then(|| {
        kept.iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// One raw spelling of a valid set: shuffled, re-encoded, zero-padded,
/// explicit defaults added, stray `&`s.
fn spell_query(list: List, params: &Params, rng: &mut Rng) -> String {
    rng.reencode();
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(n, v)| format!("{}={}", spell(n, rng), spell(&v.spelling(rng), rng)))
        .collect();
    for name in ["pageIndex", "pageSize"] {
        if let Some(d) = list.default_of(name)
            && !params.iter().any(|(n, _)| *n == name)
            && rng.coin()
        {
            pairs.push(format!(
                "{}={}",
                spell(name, rng),
                Val::Int(d).spelling(rng)
            ));
        }
    }
    for _ in 0..rng.below(3) {
        pairs.push(String::new());
    }
    rng.shuffle(&mut pairs);
    pairs.join("&")
}

fn target(path: &str, query: &str, rng: &mut Rng) -> String {
    if query.is_empty() && rng.coin() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

fn list_strategy() -> impl Strategy<Value = List> {
    prop_oneof![
        Just(List::Campaigns),
        Just(List::Contacts),
        Just(List::Calls)
    ]
}

#[test]
fn every_spelling_of_a_valid_list_query_is_one_upstream_request_and_one_body() {
    let rt = paused_runtime();
    let app = rt.block_on(TestApp::spawn());
    let next_campaign = Cell::new(100i64);
    run_cases(
        24,
        (list_strategy(), any::<u64>(), 2usize..=4),
        |(list, seed, spellings)| {
            let mut rng = Rng::new(seed);
            let params = valid_params(list, &mut rng);
            let campaign = next_campaign.get();
            next_campaign.set(campaign + 1);
            let expected = match canonical_query(list, &params) {
                Some(q) => format!("{}?{q}", list.canonical_path(campaign)),
                None => list.canonical_path(campaign),
            };
            let mut targets: Vec<String> = (0..spellings)
                .map(|_| {
                    let path = list.path(campaign, rng.below(4) as usize);
                    let query = spell_query(list, &params, &mut rng);
                    target(&path, &query, &mut rng)
                })
                .collect();
            // The canonical spelling is one of them.
            targets.push(expected.clone());
            rng.shuffle(&mut targets);
            rt.block_on(async {
                // Past every earlier case's freshness (and any stale window):
                // the campaign list's entries are shared between cases.
                advance(Duration::from_secs(61)).await;
                let before = app.upstream().len();
                let mut bodies = Vec::new();
                for (i, t) in targets.iter().enumerate() {
                    let r = app.get(t).await;
                    prop_assert_eq!(r.status, 200, "{} gave {:?}", t, r.body);
                    let want = if i == 0 {
                        "altur-gateway; fwd=miss; stored"
                    } else {
                        "altur-gateway; hit"
                    };
                    prop_assert_eq!(r.header("cache-status"), Some(want), "{}", t);
                    bodies.push(r.body);
                }
                let up = app.upstream();
                prop_assert_eq!(
                    up.len(),
                    before + 1,
                    "one upstream request for {:?}",
                    targets
                );
                prop_assert_eq!(&up[before].target, &expected, "from {:?}", targets);
                for b in &bodies {
                    prop_assert_eq!(b, &up[before].response);
                }
                Ok(())
            })
        },
    );
    rt.block_on(app.stop());
}

/// What makes a query invalid, and which parameter the 400 must name.
#[derive(Debug, Clone, Copy)]
enum Defect {
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

fn defect_strategy() -> impl Strategy<Value = Defect> {
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
fn invalid_query(list: List, defect: Defect, rng: &mut Rng) -> (String, String) {
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

#[test]
fn any_invalid_list_query_is_400_naming_it_and_never_reaches_upstream() {
    let rt = paused_runtime();
    let app = rt.block_on(TestApp::spawn());
    run_cases(
        96,
        (list_strategy(), defect_strategy(), any::<u64>()),
        |(list, defect, seed)| {
            let mut rng = Rng::new(seed);
            let (query, named) = invalid_query(list, defect, &mut rng);
            let t = format!("{}?{query}", list.path(7, rng.below(3) as usize));
            rt.block_on(async {
                let before = app.upstream().len();
                let r = app.get(&t).await;
                prop_assert_eq!(r.status, 400, "{} gave {:?}", t, r.body);
                let body = r.json();
                prop_assert_eq!(&body["error"]["code"], "invalid_parameter", "{}", t);
                let message = body["error"]["message"].as_str().unwrap_or_default();
                prop_assert!(
                    message.contains(&format!("`{named}`")),
                    "{}: {:?} should name `{}`",
                    t,
                    message,
                    named
                );
                prop_assert_eq!(app.upstream().len(), before, "{} reached upstream", t);
                Ok(())
            })
        },
    );
    rt.block_on(app.stop());
}
