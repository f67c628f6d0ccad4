//! Generated bodies: `campaign_body`'s shape and pinned bytes, and ids that
//! read back.

use serde_json::Value;

use crate::sim::bodies::{campaign_call_id, generated_contact_index, parse_campaign_call_id};
use crate::sim::campaign_body;

#[test]
fn bodies_have_the_altur_shape() {
    for id in [7, 8] {
        let body = campaign_body(id);
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["success"], true);
        assert_eq!(v["campaign"]["id"], id);
        assert!(v["campaign"]["scheduling"]["sun"]["active"].is_boolean());
        assert!(v["campaign"]["cycles"]["schedule"]["mon"]["startTime"].is_string());
        assert!((1000..2500).contains(&body.len()), "{}", body.len());
    }
    let v: Value = serde_json::from_str(&campaign_body(8)).expect("json");
    assert!(v["campaign"]["analytics"]["contactsConvertedRate"].is_number());
    let v: Value = serde_json::from_str(&campaign_body(7)).expect("json");
    assert!(v["campaign"]["analytics"]["convertedRate"].is_number());
}

/// Tests and benchmarks compare relayed bytes with `campaign_body`, and
/// saved benchmark results assume its size: its bytes must not drift.
#[test]
fn campaign_body_bytes_are_pinned() {
    let fnv = |s: &str| {
        s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let b7 = campaign_body(7);
    let b42 = campaign_body(42);
    assert_eq!((b7.len(), fnv(&b7)), (1404, 0x1355_229e_35f1_dac7));
    assert_eq!((b42.len(), fnv(&b42)), (1480, 0xe8f7_2488_a356_3c0f));
}

#[test]
fn generated_ids_read_back() {
    assert_eq!(generated_contact_index(42, 42_001), Some(1));
    assert_eq!(generated_contact_index(42, 42_000), None);
    assert_eq!(
        generated_contact_index(42, 42_000 + 163),
        None,
        "162 contacts"
    );
    assert_eq!(generated_contact_index(i64::MAX, 5), None, "no overflow");
    let id = campaign_call_id(42, 3);
    assert_eq!(id, "0000002a-ca11-4000-8000-000000000003");
    assert_eq!(parse_campaign_call_id(&id), Some((42, 3)));
    for bad in [
        "0000002A-ca11-4000-8000-000000000003",
        "0000002a-ca11-4000-8000-000000000000",
        "00000007-ca11-4000-8000-000000000001",
        "é",
        "",
    ] {
        assert_eq!(parse_campaign_call_id(bad), None, "{bad}");
    }
}
