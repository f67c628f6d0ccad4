//! Fuzz properties of the callers file (`cargo test fuzz`; longer:
//! `benches/fuzz`): any bytes are parsed without a panic; a refusal is one
//! line that repeats no value of the file; a table that loads holds only
//! valid callers.

use proptest::prelude::*;

use super::callers::Callers;
use super::scopes::Scopes;

/// In values only: an error must never show it.
const MARK: &str = "SECRETX";
const HASH_A: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const HASH_B: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\"billing\"",
            "\"ops-2\"",
            "\"SECRETX-name\"",
            "\"anonymous\"",
            "\"\"",
            "-1",
            "0",
            "1",
            "2",
            "100",
            "101",
            "4294967295",
            "4294967296",
            "2.5",
            "1e3",
            "true",
            "\"7\"",
            "[\"read\"]",
            "[\"read\", \"calls:write\"]",
            "[\"SECRETX\"]",
            "[1]",
            "[]",
            "{}",
            "\"abc\"",
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec![HASH_A, HASH_B]).prop_map(|h| format!("\"{h}\"")),
        "[ -~]{0,16}".prop_map(|s| format!("\"{MARK}{}\"", s.replace(['"', '\\'], ""))),
        "(?s:.{0,16})",
    ]
}

fn line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "name",
            "token_sha256",
            "scopes",
            "weight",
            "requests_per_second",
            "password",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,10}",
    ];
    prop_oneof![
        3 => Just("[[caller]]".to_string()),
        1 => prop::sample::select(vec!["[caller]", "[[caller]", "[owner]", "caller = 1", ""])
            .prop_map(str::to_string),
        8 => (key, value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "(?s:.{0,30})",
    ]
}

proptest! {
    #![proptest_config(crate::fuzzing::cases(1024))]

    #[test]
    fn fuzz_callers_parse_refuses_in_one_line_and_loads_only_valid_callers(
        lines in prop::collection::vec(line(), 0..14),
        bytes in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let text = lines.join("\n");
        for input in [text.as_bytes(), &bytes[..]] {
            match Callers::parse(input, Scopes::NONE, None) {
                Err(e) => {
                    prop_assert!(!e.contains('\n'), "{}", e);
                    prop_assert!(!e.contains(MARK), "{}", e);
                    prop_assert!(!e.contains(HASH_A) && !e.contains(HASH_B), "{}", e);
                }
                Ok(table) => {
                    let mut names = std::collections::HashSet::new();
                    for c in table.iter() {
                        prop_assert!((1..=32).contains(&c.name.len()));
                        prop_assert!(c.name.bytes().all(|b| b.is_ascii_lowercase()
                            || b.is_ascii_digit() || b == b'_' || b == b'-'));
                        prop_assert!(names.insert(c.name.to_string()), "unique");
                        prop_assert!((1..=100).contains(&c.weight));
                    }
                }
            }
        }
    }
}
