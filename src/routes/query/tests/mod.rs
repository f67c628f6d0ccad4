//! The canonicaliser against the SPEC's rules: unit tests and properties.

mod props;
mod rules;
