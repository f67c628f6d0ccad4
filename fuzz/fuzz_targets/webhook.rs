//! libFuzzer target: an Altur webhook body, any bytes, as
//! `POST /webhooks/altur` reads it after the signature: `compact` (what
//! Altur signs), the JSON, and `webhook::event`. Properties: no panic;
//! `compact` is idempotent and never grows the body; an event drops only
//! paths the route table serves.
#![no_main]

use altur_gateway::routes::{self, API_PREFIX, Routed};
use altur_gateway::webhook::{compact, event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let once = compact(data);
    assert!(once.len() <= data.len());
    assert_eq!(compact(&once), once);
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let e = event(&payload);
    for g in &e.groups {
        let uri: http::Uri = format!("{API_PREFIX}{g}").parse().expect("a path");
        assert!(
            matches!(routes::route(&http::Method::GET, &uri), Ok(Routed::Api(_))),
            "{g}"
        );
    }
});
