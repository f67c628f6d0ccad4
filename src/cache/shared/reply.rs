//! What the shared cache's scripts answer, decoded and bounded.
//!
//! Every replica reads what any replica, or anyone else who reaches Redis,
//! wrote there. So a reply is input like a request: taken as a plain
//! [`redis::Value`] (a type conversion that failed would count as Redis
//! being down), and an entry is kept only if it is one this replica could
//! have stored itself: a 200 or 404, stored at or before Redis's now, no
//! larger than an upstream body may be, and fresh and stale for no longer
//! than this replica's own policy allows for the route. Anything else is a
//! miss, which the next fetch overwrites.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use redis::Value;

use crate::cache::Policy;
use crate::redis_conn::int;
use crate::upstream::MAX_BODY_BYTES;

/// An entry read back from Redis, within bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stored {
    /// Since it was stored, by Redis's clock.
    pub age: Duration,
    pub fresh: Duration,
    pub stale: Duration,
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The GET script's `{now_us, stored_at_us, fresh_ms, stale_ms, status,
/// content_type, body}`, judged by `policy` (the route's); `None`: a miss.
pub(super) fn entry(reply: &Value, policy: &Policy) -> Option<Stored> {
    let Value::Array(v) = reply else { return None };
    let [now, stored, fresh, stale, status, ct, body] = v.as_slice() else {
        return None;
    };
    let (now, stored) = (int(now)?, int(stored)?);
    // A stored-at after Redis's now was not written by a replica (or Redis's
    // clock went back): either way its age means nothing.
    if now <= 0 || stored < 0 || stored > now {
        return None;
    }
    let status = StatusCode::from_u16(u16::try_from(int(status)?).ok()?).ok()?;
    // What this replica would have stored, for no longer than it would.
    let (max_fresh, max_stale) = match status {
        StatusCode::OK => (policy.ttl, policy.stale_window()),
        StatusCode::NOT_FOUND => (policy.negative_ttl, Duration::ZERO),
        _ => return None,
    };
    if !policy.store {
        return None;
    }
    let ms = |v: &Value| u64::try_from(int(v)?).ok().map(Duration::from_millis);
    let fresh = ms(fresh)?.min(max_fresh);
    let stale = ms(stale)?.min(max_stale);
    let age = Duration::from_micros(u64::try_from(now - stored).ok()?);
    if age >= fresh.saturating_add(stale) {
        return None;
    }
    let body = bytes(body)?;
    if body.len() > MAX_BODY_BYTES {
        return None;
    }
    let ct = bytes(ct)?;
    Some(Stored {
        age,
        fresh,
        stale,
        status,
        content_type: if ct.is_empty() {
            None
        } else {
            HeaderValue::from_bytes(ct).ok()
        },
        body: Bytes::copy_from_slice(body),
    })
}

/// Whether the LOCK script granted the lock: `Some(true)` taken,
/// `Some(false)` held by another, `None` an answer no script of ours gives.
pub(super) fn locked(reply: &Value) -> Option<bool> {
    match int(reply)? {
        1 => Some(true),
        0 => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> Policy {
        Policy {
            store: true,
            ttl: Duration::from_secs(10),
            negative_ttl: Duration::from_secs(5),
            stale_if_error: Duration::from_secs(300),
            stale_while_revalidate: Duration::from_secs(30),
            refresh_ahead: true,
        }
    }

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    /// A reply as the GET script builds it: now, then the hash's fields.
    fn reply(now: i64, s: &str, f: &str, x: &str, t: &str, body: &str) -> Value {
        Value::Array(vec![
            Value::Int(now),
            bulk(s),
            bulk(f),
            bulk(x),
            bulk(t),
            bulk("application/json"),
            bulk(body),
        ])
    }

    const NOW: i64 = 1_700_000_000_000_000;
    const TEN_YEARS_MS: &str = "315360000000";

    #[test]
    fn a_plain_entry_is_read_back_as_written() {
        let e = entry(
            &reply(NOW, "1699999999000000", "10000", "300000", "200", "{}"),
            &policy(),
        )
        .expect("an entry");
        assert_eq!(e.age, Duration::from_secs(1));
        assert_eq!(
            (e.fresh, e.stale),
            (Duration::from_secs(10), Duration::from_secs(300))
        );
        assert_eq!(e.status, StatusCode::OK);
        assert_eq!(
            e.content_type.as_ref().map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
    }

    #[test]
    fn durations_are_clamped_to_this_replicas_policy() {
        let now_s = NOW.to_string();
        let e = entry(
            &reply(NOW, &now_s, TEN_YEARS_MS, TEN_YEARS_MS, "200", "{}"),
            &policy(),
        )
        .expect("kept, clamped");
        assert_eq!(
            (e.fresh, e.stale),
            (Duration::from_secs(10), Duration::from_secs(300))
        );
        let e = entry(
            &reply(NOW, &now_s, TEN_YEARS_MS, TEN_YEARS_MS, "404", "{}"),
            &policy(),
        )
        .expect("a 404");
        assert_eq!((e.fresh, e.stale), (Duration::from_secs(5), Duration::ZERO));
        // Ten years old, claiming ten years: past this replica's window.
        let old = (NOW - 315_360_000_000_000).to_string();
        assert_eq!(
            entry(
                &reply(NOW, &old, TEN_YEARS_MS, TEN_YEARS_MS, "200", "{}"),
                &policy()
            ),
            None
        );
    }

    #[test]
    fn entries_no_replica_could_have_written_are_misses() {
        let now_s = NOW.to_string();
        let future = (NOW + 1).to_string();
        for (s, f, t) in [
            (future.as_str(), "1000", "200"),
            ("-5", "1000", "200"),
            ("abc", "1000", "200"),
            (now_s.as_str(), "-1", "200"),
            (now_s.as_str(), "1.5", "200"),
            (now_s.as_str(), "1000", "101"),
            (now_s.as_str(), "1000", "999"),
            (now_s.as_str(), "1000", "500"),
            (now_s.as_str(), "1000", "70000"),
        ] {
            assert_eq!(
                entry(&reply(NOW, s, f, "0", t, "{}"), &policy()),
                None,
                "{s} {f} {t}"
            );
        }
        let never = Policy {
            store: false,
            ..policy()
        };
        assert_eq!(
            entry(&reply(NOW, &now_s, "1000", "0", "200", "{}"), &never),
            None
        );
        assert_eq!(entry(&Value::Nil, &policy()), None);
        assert_eq!(entry(&Value::Array(vec![Value::Int(1)]), &policy()), None);
        assert_eq!(
            entry(&reply(0, "0", "1000", "0", "200", "{}"), &policy()),
            None
        );
    }

    #[test]
    fn a_lock_reply_is_one_or_zero() {
        assert_eq!(locked(&Value::Int(1)), Some(true));
        assert_eq!(locked(&Value::Int(0)), Some(false));
        assert_eq!(locked(&Value::Int(7)), None);
        assert_eq!(locked(&Value::Okay), None);
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            Just(Value::Okay),
            any::<i64>().prop_map(Value::Int),
            (-2i64..2_000_000_000_000_000)
                .prop_map(|n| Value::BulkString(n.to_string().into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::BulkString),
            "[ -~]{0,12}".prop_map(Value::SimpleString),
        ];
        leaf.prop_recursive(2, 16, 8, |inner| {
            proptest::collection::vec(inner, 0..9).prop_map(Value::Array)
        })
    }

    proptest! {
        #![proptest_config(crate::fuzzing::cases(512))]

        /// No panic on any reply, and whatever is kept is within the policy.
        #[test]
        fn fuzz_any_get_reply_is_a_bounded_entry_or_a_miss(
            v in value(),
            fields in proptest::collection::vec(value(), 7),
        ) {
            for reply in [v, Value::Array(fields)] {
                if let Some(e) = entry(&reply, &policy()) {
                    prop_assert!(e.fresh <= Duration::from_secs(10));
                    prop_assert!(e.stale <= Duration::from_secs(300));
                    prop_assert!(e.age < e.fresh + e.stale);
                    prop_assert!(e.status == StatusCode::OK || e.status == StatusCode::NOT_FOUND);
                }
                let _ = locked(&reply);
            }
        }
    }
}
