//! libFuzzer target: the callers file (`auth::callers::Callers::parse`), any
//! bytes. Properties: no panic; a refusal is one line; a table that loads
//! holds only valid callers (names, weights).
#![no_main]

use altur_gateway::auth::callers::Callers;
use altur_gateway::auth::scopes::Scopes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Callers::parse(data, Scopes::NONE, None) {
        Err(e) => assert!(!e.contains('\n'), "{e}"),
        Ok(table) => {
            for c in table.iter() {
                assert!((1..=32).contains(&c.name.len()));
                assert!((1..=100).contains(&c.weight));
            }
        }
    }
});
