//! Generated queries and what they must become: valid parameter sets with
//! their meaning, every spelling of one, and the canonical form expected,
//! written from the SPEC rather than from the canonicaliser.

use super::super::super::tables::*;
use super::super::super::*;
use proptest::prelude::*;

/// splitmix64: the random choices of one rendering, reproducible from its seed.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(super) fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    pub(super) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Spells decoded bytes as a raw query component: each byte literally
/// (where that keeps its meaning) or as `%xx` in either case.
pub(super) fn spell(decoded: &[u8], rng: &mut Rng, name: bool) -> String {
    let mut raw = String::new();
    for &b in decoded {
        let literal_ok =
            b.is_ascii_graphic() && !matches!(b, b'%' | b'&' | b'#') && !(name && b == b'=');
        if literal_ok && rng.below(3) != 0 {
            raw.push(char::from(b));
        } else if rng.coin() {
            raw.push_str(&format!("%{b:02X}"));
        } else {
            raw.push_str(&format!("%{b:02x}"));
        }
    }
    raw
}

/// The canonical encoding, written independently of the code under test.
pub(super) fn canon_encode(decoded: &str) -> String {
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

#[derive(Debug, Clone)]
pub(super) enum Sem {
    Word(&'static str),
    Uuid(String),
    Int(u32),
    Date {
        ymd: (u32, u32, u32),
        time: Option<Time>,
    },
    Cursor(String),
}

#[derive(Debug, Clone)]
pub(super) struct Time {
    hms: (u32, u32, u32),
    frac: Option<String>,
    /// `None` is `Z`.
    offset: Option<(char, u32, u32)>,
}

impl Sem {
    /// One decoded spelling of the value, chosen by `rng`.
    pub(super) fn spelling(&self, rng: &mut Rng) -> String {
        match self {
            Sem::Word(w) => (*w).to_owned(),
            Sem::Uuid(hex) => {
                let mut s = String::new();
                for (i, c) in hex.chars().enumerate() {
                    if matches!(i, 8 | 12 | 16 | 20) {
                        s.push('-');
                    }
                    s.push(if rng.coin() {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    });
                }
                s
            }
            Sem::Int(n) => format!("{}{n}", "0".repeat(rng.below(4))),
            Sem::Date { .. } => {
                let t = if rng.coin() { "T" } else { "t" };
                let z = if rng.coin() { "Z" } else { "z" };
                self.date(t, z)
            }
            Sem::Cursor(s) => s.clone(),
        }
    }

    pub(super) fn canonical(&self) -> String {
        match self {
            Sem::Word(w) => (*w).to_owned(),
            Sem::Uuid(hex) => format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            ),
            Sem::Int(n) => n.to_string(),
            Sem::Date { .. } => canon_encode(&self.date("T", "Z")),
            Sem::Cursor(s) => canon_encode(s),
        }
    }

    pub(super) fn date(&self, t: &str, z: &str) -> String {
        let Sem::Date {
            ymd: (y, m, d),
            time,
        } = self
        else {
            unreachable!()
        };
        let mut s = format!("{y:04}-{m:02}-{d:02}");
        if let Some(Time {
            hms: (h, mi, se),
            frac,
            offset,
        }) = time
        {
            s.push_str(&format!("{t}{h:02}:{mi:02}:{se:02}"));
            if let Some(f) = frac {
                s.push('.');
                s.push_str(f);
            }
            match offset {
                None => s.push_str(z),
                Some((sign, oh, om)) => s.push_str(&format!("{sign}{oh:02}:{om:02}")),
            }
        }
        s
    }
}

pub(super) fn days_in(y: u32, m: u32) -> u32 {
    match m {
        2 if y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(super) fn word(words: &'static [&'static str]) -> impl Strategy<Value = Sem> {
    prop::sample::select(words).prop_map(Sem::Word)
}

pub(super) fn date() -> impl Strategy<Value = Sem> {
    let time = (
        (0u32..24, 0u32..60, 0u32..=60),
        prop::option::of("[0-9]{1,12}"),
        prop::option::of((prop::sample::select(vec!['+', '-']), 0u32..24, 0u32..60)),
    )
        .prop_map(|(hms, frac, offset)| Time { hms, frac, offset });
    ((0u32..=9999, 1u32..=12, 1u32..=31), prop::option::of(time)).prop_map(|((y, m, d), time)| {
        Sem::Date {
            ymd: (y, m, d.min(days_in(y, m))),
            time,
        }
    })
}

pub(super) fn uuid() -> impl Strategy<Value = Sem> {
    "[0-9a-f]{32}".prop_map(Sem::Uuid)
}

pub(super) fn int(min: u32, max: u32) -> impl Strategy<Value = Sem> {
    (min..=max).prop_map(Sem::Int)
}

pub(super) fn cursor() -> impl Strategy<Value = Sem> {
    prop_oneof!["[A-Za-z0-9._~+/=-]{1,40}", "[A-Za-z0-9._~+/=-]{500,512}",].prop_map(Sem::Cursor)
}

pub(super) type Set = Vec<(&'static str, Sem)>;

pub(super) fn push(set: &mut Set, name: &'static str, v: Option<Sem>) {
    if let Some(v) = v {
        set.push((name, v));
    }
}

pub(super) fn pair(set: &mut Set, dates: Option<(Sem, Sem)>) {
    if let Some((s, e)) = dates {
        set.push(("startDate", s));
        set.push(("endDate", e));
    }
}

/// A valid parameter set for some list.
pub(super) fn valid_set() -> impl Strategy<Value = (List, Set)> {
    use prop::option::of;
    let campaigns = (
        of(uuid()),
        of(cursor()),
        of((date(), date())),
        of(word(INTEGRATION)),
        of(int(1, 100)),
        of(word(CAMPAIGN_STATUS)),
    )
        .prop_map(|(a, c, d, i, p, s)| {
            let mut set = Set::new();
            push(&mut set, "agentId", a);
            push(&mut set, "cursor", c);
            pair(&mut set, d);
            push(&mut set, "integration", i);
            push(&mut set, "pageSize", p);
            push(&mut set, "status", s);
            (List::Campaigns, set)
        });
    let contacts = (
        of(int(0, 25_000)),
        of(int(1, 100)),
        of(word(CONTACT_STATUS)),
    )
        .prop_map(|(i, p, s)| {
            let mut set = Set::new();
            push(&mut set, "pageIndex", i);
            push(&mut set, "pageSize", p);
            push(&mut set, "status", s);
            (List::Contacts, set)
        });
    let calls = (
        of(word(ANSWERED_BY)),
        of((date(), date())),
        of(prop_oneof![Just(0u32), 0u32..=25_000].prop_map(Sem::Int)),
        of(prop_oneof![Just(50u32), 1u32..=100].prop_map(Sem::Int)),
        of(word(CALL_STATUS)),
    )
        .prop_map(|(a, d, i, p, s)| {
            let mut set = Set::new();
            push(&mut set, "answeredBy", a);
            pair(&mut set, d);
            push(&mut set, "pageIndex", i);
            push(&mut set, "pageSize", p);
            push(&mut set, "status", s);
            (List::Calls, set)
        });
    prop_oneof![campaigns, contacts, calls]
}

pub(super) fn defaults(list: List) -> &'static [(&'static str, u32)] {
    match list {
        List::Campaigns => &[],
        List::Contacts | List::Calls => &[("pageIndex", 0), ("pageSize", 50)],
    }
}

/// What the canonical query of `set` must be, from the SPEC's rules.
pub(super) fn expected(list: List, set: &Set) -> Option<String> {
    let mut kept: Vec<(&str, String)> = set
        .iter()
        .filter(|(name, v)| !matches!(v, Sem::Int(n) if defaults(list).contains(&(*name, *n))))
        .map(|(name, v)| (*name, v.canonical()))
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let q: Vec<String> = kept.iter().map(|(n, v)| format!("{n}={v}")).collect();
    (!q.is_empty()).then(|| q.join("&"))
}

/// One raw spelling of `set`, as its segments: shuffled, padded,
/// percent-encoded at random, maybe with explicit defaults.
pub(super) fn segments(list: List, set: &Set, rng: &mut Rng) -> Vec<String> {
    let mut segs: Vec<String> = set
        .iter()
        .map(|(name, v)| {
            let value = v.spelling(rng);
            format!(
                "{}={}",
                spell(name.as_bytes(), rng, true),
                spell(value.as_bytes(), rng, false)
            )
        })
        .collect();
    for (name, default) in defaults(list) {
        if !set.iter().any(|(n, _)| n == name) && rng.coin() {
            let value = Sem::Int(*default).spelling(rng);
            segs.push(format!(
                "{}={}",
                spell(name.as_bytes(), rng, true),
                spell(value.as_bytes(), rng, false)
            ));
        }
    }
    rng.shuffle(&mut segs);
    segs
}

/// Joins segments, with empty ones sprinkled in.
pub(super) fn join(segs: &[String], rng: &mut Rng) -> String {
    let mut raw = String::new();
    for _ in 0..rng.below(3) {
        raw.push('&');
    }
    for (i, s) in segs.iter().enumerate() {
        if i > 0 {
            for _ in 0..=rng.below(2) {
                raw.push('&');
            }
        }
        raw.push_str(s);
    }
    for _ in 0..rng.below(3) {
        raw.push('&');
    }
    raw
}

pub(super) fn render(list: List, set: &Set, seed: u64) -> String {
    let mut rng = Rng(seed);
    let segs = segments(list, set, &mut rng);
    join(&segs, &mut rng)
}
