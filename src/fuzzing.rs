//! Shared by the fuzz properties (`cargo test fuzz`): how many cases a run
//! tries. Each property's own default keeps `cargo test` fast; a longer run
//! sets `PROPTEST_CASES` (see `benches/fuzz`).
//!
//! Parsers fuzzed: the route and query ([`crate::routes`]), the callers file
//! ([`crate::auth::callers`]), the configuration ([`crate::config`]), a TOML
//! error's description ([`crate::toml_error`]), and what is read back from
//! Redis (the shared cache's and the budget's script replies), and Altur's
//! webhook ([`crate::webhook`]: any body and signature header, no panic,
//! nothing verified but the secret's signature, events naming only routed
//! paths).

use proptest::test_runner::Config;

/// `PROPTEST_CASES` if set, else `default`.
pub fn cases(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config::with_cases(cases)
}
