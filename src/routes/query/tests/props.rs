//! Properties of the canonicaliser over generated queries: one key per meaning,
//! idempotence, every invalid parameter named, no panic on any input.

use super::super::*;
use proptest::prelude::*;

mod bad;
mod model;

use bad::*;
use model::*;

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
