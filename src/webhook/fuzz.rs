//! Fuzz properties of Altur's webhook (`cargo test fuzz`; longer:
//! `benches/fuzz`): any body and any `X-Altur-Signature` are judged without
//! a panic, and only a signature made with the secret over the body (as
//! received or compact) verifies, so nothing is dropped for anyone else;
//! `compact` is what Altur signs; any event names only paths the route
//! table serves.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use serde_json::Value;
use sha2::Sha256;

use super::*;
use crate::routes::{self, API_PREFIX, Routed};

fn secret_of(key: &[u8]) -> WebhookSecret {
    WebhookSecret {
        path: PathBuf::from("/fuzz"),
        current: Mutex::new((key.to_vec(), watched::stamp(Path::new("/")).expect("stamp"))),
        health: Health::default(),
    }
}

fn sign(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Bodies as deliveries come: JSON (pretty or not), near-JSON, or any bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json().prop_map(|v| serde_json::to_vec_pretty(&v).expect("a value serialises")),
        json().prop_map(|v| serde_json::to_vec(&v).expect("a value serialises")),
        "[ -~\t\n\r]{0,96}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..96),
    ]
}

/// JSON values, with the shapes `event` looks at likely.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(vec!["on_call_end", "call_7f3a", "007", "../x", "eu-42", ""])
            .prop_map(Value::from),
        "(?s:.{0,12})".prop_map(Value::from),
    ];
    let key = prop::sample::select(vec![
        "event_type",
        "id",
        "end_user",
        "campaign_id",
        "campaign_user",
        "status",
        "x y",
    ]);
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.into(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(crate::fuzzing::cases(512))]

    /// Any signature header: no panic, and it verifies only if it is the
    /// secret's HMAC of the body or of its compact form.
    #[test]
    fn fuzz_only_the_secrets_signature_verifies(
        key in prop::collection::vec(any::<u8>(), 1..48),
        body in body(),
        sig in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), 32).prop_map(|t| STANDARD.encode(t).into_bytes()),
        ],
    ) {
        let s = secret_of(&key);
        if s.verify(&body, &sig) {
            let tag = STANDARD.decode(sig.trim_ascii()).expect("it verified, so it decodes");
            prop_assert!(tag == sign(&key, &body) || tag == sign(&key, &compact(&body)));
        }
    }

    /// A delivery signed with the secret verifies, over the body as sent or
    /// its compact form; with another key, or one bit of the tag changed, it
    /// does not.
    #[test]
    fn fuzz_a_signed_delivery_verifies_and_a_forged_one_does_not(
        key in prop::collection::vec(any::<u8>(), 1..48),
        other in prop::collection::vec(any::<u8>(), 1..48),
        body in body(),
        bit in 0usize..256,
        compact_form in any::<bool>(),
    ) {
        let s = secret_of(&key);
        let msg = if compact_form { compact(&body) } else { body.clone() };
        let mut tag = sign(&key, &msg);
        prop_assert!(s.verify(&body, STANDARD.encode(&tag).as_bytes()));
        if other != key {
            let forged = STANDARD.encode(sign(&other, &msg));
            prop_assert!(!s.verify(&body, forged.as_bytes()));
        }
        tag[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(!s.verify(&body, STANDARD.encode(&tag).as_bytes()));
    }

    /// `compact` removes exactly the whitespace between tokens: of any
    /// value's pretty form it gives serde_json's compact form, and it is
    /// idempotent on any bytes.
    #[test]
    fn fuzz_compact_is_the_compact_json(v in json(), bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        let pretty = serde_json::to_vec_pretty(&v).expect("serialises");
        let compact_v = serde_json::to_vec(&v).expect("serialises");
        prop_assert_eq!(compact(&pretty), compact_v);
        let once = compact(&bytes);
        prop_assert_eq!(compact(&once), once);
    }

    /// Any payload: no panic, and what it drops are paths of the route
    /// table (a detail route, or a list's prefix), never anything else.
    #[test]
    fn fuzz_an_event_names_only_routed_paths(v in json(), call_end in any::<bool>()) {
        let mut v = v;
        if call_end && let Value::Object(m) = &mut v {
            m.insert("event_type".into(), Value::from("on_call_end"));
        }
        let e = event(&v);
        prop_assert!(e.kind == "on_call_end" || e.groups.is_empty());
        for g in &e.groups {
            let uri: http::Uri = format!("{API_PREFIX}{g}").parse().expect("a path");
            prop_assert!(
                matches!(routes::route(&http::Method::GET, &uri), Ok(Routed::Api(_))),
                "{} is not a read route",
                g
            );
        }
    }
}
