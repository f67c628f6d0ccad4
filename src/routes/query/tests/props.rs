//! Properties of the canonicaliser over generated queries: one key per meaning,
//! idempotence, every invalid parameter named, no panic on any input.

use super::super::tables::*;
use super::super::*;
use proptest::prelude::*;
/// splitmix64: the random choices of one rendering, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Spells decoded bytes as a raw query component: each byte literally
/// (where that keeps its meaning) or as `%xx` in either case.
fn spell(decoded: &[u8], rng: &mut Rng, name: bool) -> String {
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
fn canon_encode(decoded: &str) -> String {
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
enum Sem {
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
struct Time {
    hms: (u32, u32, u32),
    frac: Option<String>,
    /// `None` is `Z`.
    offset: Option<(char, u32, u32)>,
}

impl Sem {
    /// One decoded spelling of the value, chosen by `rng`.
    fn spelling(&self, rng: &mut Rng) -> String {
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

    fn canonical(&self) -> String {
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

    fn date(&self, t: &str, z: &str) -> String {
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

fn days_in(y: u32, m: u32) -> u32 {
    match m {
        2 if y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn word(words: &'static [&'static str]) -> impl Strategy<Value = Sem> {
    prop::sample::select(words).prop_map(Sem::Word)
}

fn date() -> impl Strategy<Value = Sem> {
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

fn uuid() -> impl Strategy<Value = Sem> {
    "[0-9a-f]{32}".prop_map(Sem::Uuid)
}

fn int(min: u32, max: u32) -> impl Strategy<Value = Sem> {
    (min..=max).prop_map(Sem::Int)
}

fn cursor() -> impl Strategy<Value = Sem> {
    prop_oneof!["[A-Za-z0-9._~+/=-]{1,40}", "[A-Za-z0-9._~+/=-]{500,512}",].prop_map(Sem::Cursor)
}

type Set = Vec<(&'static str, Sem)>;

fn push(set: &mut Set, name: &'static str, v: Option<Sem>) {
    if let Some(v) = v {
        set.push((name, v));
    }
}

fn pair(set: &mut Set, dates: Option<(Sem, Sem)>) {
    if let Some((s, e)) = dates {
        set.push(("startDate", s));
        set.push(("endDate", e));
    }
}

/// A valid parameter set for some list.
fn valid_set() -> impl Strategy<Value = (List, Set)> {
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

fn defaults(list: List) -> &'static [(&'static str, u32)] {
    match list {
        List::Campaigns => &[],
        List::Contacts | List::Calls => &[("pageIndex", 0), ("pageSize", 50)],
    }
}

/// What the canonical query of `set` must be, from the SPEC's rules.
fn expected(list: List, set: &Set) -> Option<String> {
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
fn segments(list: List, set: &Set, rng: &mut Rng) -> Vec<String> {
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
fn join(segs: &[String], rng: &mut Rng) -> String {
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

fn render(list: List, set: &Set, seed: u64) -> String {
    let mut rng = Rng(seed);
    let segs = segments(list, set, &mut rng);
    join(&segs, &mut rng)
}

/// Every character a canonical query may hold.
fn canonical_chars(q: &str) -> bool {
    q.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~:%&=".contains(&b))
}

/// A parameter that makes any query invalid, and the name it must be reported as.
#[derive(Debug, Clone)]
enum Bad {
    Unknown(String),
    Repeated(prop::sample::Index),
    Empty(prop::sample::Index, bool),
    Value(prop::sample::Index, prop::sample::Index),
    Escape(prop::sample::Index, &'static str),
}

fn bad() -> impl Strategy<Value = Bad> {
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
fn bad_values(kind: &Kind) -> Vec<String> {
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
fn echo(name: &str) -> String {
    name.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(64)
        .collect()
}

/// Inserts `bad` into a spelling of `set`; returns the query and the name
/// it must be refused for.
fn with_bad(list: List, set: &Set, bad: &Bad, seed: u64) -> (String, String) {
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
fn queryish() -> impl Strategy<Value = String> {
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

fn lists() -> impl Strategy<Value = List> {
    prop::sample::select(vec![List::Campaigns, List::Contacts, List::Calls])
}

proptest! {
    /// (1) Any permutation, padding, explicit defaults and percent-encoding
    /// of one valid set give one canonical string, the SPEC's.
    #[test]
    fn one_set_one_key((list, set) in valid_set(), a: u64, b: u64) {
        let want = expected(list, &set);
        let first = render(list, &set, a);
        let second = render(list, &set, b);
        prop_assert_eq!(canonical(list, Some(&first)), Ok(want.clone()), "{}", first);
        prop_assert_eq!(canonical(list, Some(&second)), Ok(want.clone()), "{}", second);
        if let Some(c) = &want {
            prop_assert!(canonical_chars(c), "{}", c);
        }
    }

    /// (2) Canonical is idempotent.
    #[test]
    fn canonical_is_idempotent((list, set) in valid_set(), seed: u64) {
        let raw = render(list, &set, seed);
        let once = canonical(list, Some(&raw));
        prop_assert!(once.is_ok());
        if let Ok(once) = once {
            prop_assert_eq!(canonical(list, once.as_deref()), Ok(once.clone()));
        }
    }

    /// (3) One invalid parameter anywhere makes the query invalid, naming it.
    #[test]
    fn an_invalid_parameter_is_named((list, set) in valid_set(), bad in bad(), seed: u64) {
        if let Bad::Unknown(name) = &bad {
            prop_assume!(!list.params().iter().any(|p| p.name == name));
        }
        let (raw, name) = with_bad(list, &set, &bad, seed);
        prop_assert_eq!(canonical(list, Some(&raw)), Err(InvalidParam(name)), "{}", raw);
    }

    /// (3) Half a date pair names the missing half.
    #[test]
    fn half_a_pair_names_the_other(
        (list, set) in valid_set().prop_filter("a list with dates", |(l, _)| *l != List::Contacts),
        kept in date(),
        drop_start: bool,
        seed: u64,
    ) {
        let (dropped, other) = if drop_start {
            ("startDate", "endDate")
        } else {
            ("endDate", "startDate")
        };
        let mut set: Set = set
            .into_iter()
            .filter(|(n, _)| !n.ends_with("Date"))
            .collect();
        set.push((other, kept));
        let raw = render(list, &set, seed);
        prop_assert_eq!(canonical(list, Some(&raw)), Err(InvalidParam(dropped.into())), "{}", raw);
    }

    /// (4) Nothing panics; an error name is short printable ASCII; whatever
    /// is accepted is canonical and stays so.
    #[test]
    fn arbitrary_input(list in lists(), raw in prop_oneof![".{0,200}", queryish()]) {
        match canonical(list, Some(&raw)) {
            Ok(Some(c)) => {
                prop_assert!(canonical_chars(&c), "{}", c);
                prop_assert_eq!(canonical(list, Some(&c)), Ok(Some(c.clone())));
            }
            Ok(None) => {}
            Err(InvalidParam(name)) => {
                prop_assert!(name.chars().count() <= 64, "{}", name);
                prop_assert!(name.bytes().all(|b| (b' '..=b'~').contains(&b)), "{:?}", name);
            }
        }
    }

    /// (4) Long and binary-ish names are echoed safely.
    #[test]
    fn echoed_names_are_safe(list in lists(), name in prop::collection::vec(any::<u8>(), 0..400)) {
        let raw: String = name.iter().map(|b| format!("%{b:02X}")).collect();
        if let Err(InvalidParam(echoed)) = canonical(list, Some(&format!("{raw}=1"))) {
            prop_assert!(echoed.len() <= 64);
            prop_assert!(echoed.bytes().all(|b| (b' '..=b'~').contains(&b)));
            let want = echo(&String::from_utf8_lossy(&name)).replace('\u{FFFD}', "?");
            prop_assert_eq!(echoed, want);
        }
    }
}
