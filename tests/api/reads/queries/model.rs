//! A model of the SPEC's list queries, written independently of the
//! gateway: a seeded random source, each list's parameters and values, every
//! way a caller may spell a valid query, and the canonical form it must
//! become.

use base64::Engine;
use proptest::prelude::*;

/// splitmix64: the random choices of one case, reproducible from its seed.
pub(super) struct Rng {
    state: u64,
    /// Eighths of the bytes [`spell`] percent-encodes when it need not.
    encode_rate: u64,
}

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng {
            state: seed,
            encode_rate: 1,
        }
    }

    pub(super) fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A new density of needless percent-encoding: none, light or heavy.
    pub(super) fn reencode(&mut self) {
        self.encode_rate = self.pick(&[0, 0, 1, 3]);
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(super) fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    pub(super) fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    pub(super) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum List {
    Campaigns,
    Contacts,
    Calls,
}

pub(super) const CAMPAIGN_STATUS: &[&str] = &[
    "pending", "ready", "active", "inactive", "cooldown", "finished",
];
pub(super) const INTEGRATION: &[&str] = &["phone_call", "whatsapp"];
pub(super) const CONTACT_STATUS: &[&str] = &[
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
pub(super) const CALL_STATUS: &[&str] = &["ended", "failed", "busy", "no-answer", "in-progress"];
pub(super) const ANSWERED_BY: &[&str] = &["human", "machine", "unknown"];

impl List {
    /// The SPEC's parameters of this list.
    pub(super) fn names(self) -> &'static [&'static str] {
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

    pub(super) fn words(self, name: &str) -> &'static [&'static str] {
        match (self, name) {
            (List::Campaigns, "status") => CAMPAIGN_STATUS,
            (List::Campaigns, _) => INTEGRATION,
            (List::Contacts, _) => CONTACT_STATUS,
            (List::Calls, "status") => CALL_STATUS,
            (List::Calls, _) => ANSWERED_BY,
        }
    }

    /// The SPEC's default of an integer parameter, left out of the key.
    pub(super) fn default_of(self, name: &str) -> Option<u32> {
        match (self, name) {
            (List::Contacts | List::Calls, "pageIndex") => Some(0),
            (List::Contacts | List::Calls, "pageSize") => Some(50),
            _ => None,
        }
    }

    pub(super) fn has_dates(self) -> bool {
        self != List::Contacts
    }

    /// The path, campaign id zero-padded `zeros` times.
    pub(super) fn path(self, campaign: i64, zeros: usize) -> String {
        let id = format!("{}{campaign}", "0".repeat(zeros));
        match self {
            List::Campaigns => "/api/v1.0/campaigns".into(),
            List::Contacts => format!("/api/v1.0/campaigns/{id}/contacts"),
            List::Calls => format!("/api/v1.0/campaigns/{id}/calls"),
        }
    }

    pub(super) fn canonical_path(self, campaign: i64) -> String {
        self.path(campaign, 0)
    }

    /// A valid value of `name`, chosen by `rng`.
    pub(super) fn valid(self, name: &str, rng: &mut Rng) -> Val {
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
    pub(super) fn invalid(self, name: &str, rng: &mut Rng) -> String {
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
pub(super) enum Val {
    Word(&'static str),
    Int(u32),
    /// 32 lower-case hex digits.
    Uuid(String),
    /// Upper-case `T` and `Z`.
    Date(String),
    Cursor(String),
}

/// A date, or an RFC 3339 date-time, with upper-case `T` and `Z`.
pub(super) fn date(rng: &mut Rng) -> String {
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
    pub(super) fn spelling(&self, rng: &mut Rng) -> String {
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
    pub(super) fn canonical(&self) -> String {
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
pub(super) fn encode(decoded: &str) -> String {
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
pub(super) fn spell(decoded: &str, rng: &mut Rng) -> String {
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

pub(super) type Params = Vec<(&'static str, Val)>;

/// A valid parameter set of `list`: each parameter with probability one
/// half, the two dates together.
pub(super) fn valid_params(list: List, rng: &mut Rng) -> Params {
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
pub(super) fn canonical_query(list: List, params: &Params) -> Option<String> {
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
pub(super) fn spell_query(list: List, params: &Params, rng: &mut Rng) -> String {
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

pub(super) fn target(path: &str, query: &str, rng: &mut Rng) -> String {
    if query.is_empty() && rng.coin() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

pub(super) fn list_strategy() -> impl Strategy<Value = List> {
    prop_oneof![
        Just(List::Campaigns),
        Just(List::Contacts),
        Just(List::Calls)
    ]
}
