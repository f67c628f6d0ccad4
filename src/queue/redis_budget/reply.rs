//! What the budget's scripts answer, decoded and bounded.
//!
//! The window's keys are shared by every replica, and anyone who reaches
//! Redis can write them. A reply is therefore read as a plain
//! [`redis::Value`] and checked: a pause is never longer than an upstream
//! `Retry-After` may make it ([`MAX_RETRY_AFTER`]), a wait for the window
//! never longer than the window, and the starts of a projection are held
//! inside the window, so a crafted pause or start can neither stall the
//! fleet nor reach callers as an absurd `Retry-After`. A reply no script of
//! ours gives is a Redis failure (the replica falls back to its own limit).

use std::time::Duration;

use redis::Value;

use crate::redis_conn::{RedisFailure, int};
use crate::upstream::MAX_RETRY_AFTER;

/// What the acquire script answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    Granted { redis_now_us: i64 },
    Wait { wait: Duration, paused: bool },
}

/// A Redis `TIME` in µs is after 2001 and far from overflowing any sum below.
fn sane_now(now: i64) -> bool {
    (1_000_000_000_000_000..=i64::MAX / 4).contains(&now)
}

fn bad(script: &str) -> RedisFailure {
    RedisFailure::Redis(format!("unexpected reply to the {script} script"))
}

fn micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

/// The most a pause read back from Redis may last, in µs.
pub(super) fn max_pause_us() -> i64 {
    i64::try_from(MAX_RETRY_AFTER.as_micros()).unwrap_or(i64::MAX)
}

/// `{status, wait_us, now_us}`: 1 granted, 0 window full, 2 paused.
///
/// # Errors
/// Any other shape.
pub(super) fn acquire(reply: &Value, window: Duration) -> Result<Answer, RedisFailure> {
    let Value::Array(v) = reply else {
        return Err(bad("acquire"));
    };
    let [status, wait, now] = v.as_slice() else {
        return Err(bad("acquire"));
    };
    let (Some(status), Some(wait), Some(now)) = (int(status), int(wait), int(now)) else {
        return Err(bad("acquire"));
    };
    match status {
        1 if sane_now(now) => Ok(Answer::Granted { redis_now_us: now }),
        0 => Ok(Answer::Wait {
            wait: micros(wait).min(window),
            paused: false,
        }),
        2 => Ok(Answer::Wait {
            wait: micros(wait).min(MAX_RETRY_AFTER),
            paused: true,
        }),
        _ => Err(bad("acquire")),
    }
}

/// `{now_us, paused_until_us, starts...}`: the wait before the `k`-th next
/// start, with the pause and starts held to what replicas could have written.
///
/// # Errors
/// Any other shape.
pub(super) fn projection(
    reply: &Value,
    limit: usize,
    window_us: i64,
    k: usize,
) -> Result<Duration, RedisFailure> {
    let Value::Array(v) = reply else {
        return Err(bad("projection"));
    };
    let Some(ints) = v.iter().map(int).collect::<Option<Vec<i64>>>() else {
        return Err(bad("projection"));
    };
    let [now, paused, starts @ ..] = ints.as_slice() else {
        return Err(bad("projection"));
    };
    let now = *now;
    if !sane_now(now) {
        return Err(bad("projection"));
    }
    let window_us = window_us.clamp(0, 60_000_000);
    let paused = (*paused).clamp(now, now + max_pause_us());
    let mut starts: Vec<i64> = starts
        .iter()
        .take(limit)
        .map(|s| (*s).clamp(now - window_us, now))
        .collect();
    starts.sort_unstable();
    Ok(micros(super::project(
        now, paused, starts, limit, window_us, k,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000_000;
    const WINDOW: Duration = Duration::from_millis(1020);

    fn arr(v: &[i64]) -> Value {
        Value::Array(v.iter().map(|n| Value::Int(*n)).collect())
    }

    #[test]
    fn a_crafted_pause_is_cut_to_the_longest_retry_after() {
        let ten_days = 864_000_000_000;
        assert_eq!(
            acquire(&arr(&[2, ten_days, NOW]), WINDOW).expect("paused"),
            Answer::Wait {
                wait: MAX_RETRY_AFTER,
                paused: true
            }
        );
        let wait = projection(&arr(&[NOW, NOW + ten_days]), 12, 1_020_000, 0).expect("projection");
        assert_eq!(wait, MAX_RETRY_AFTER);
        let wait = projection(&arr(&[NOW, i64::MAX]), 12, 1_020_000, 0).expect("projection");
        assert_eq!(wait, MAX_RETRY_AFTER);
    }

    #[test]
    fn a_window_wait_is_never_longer_than_the_window() {
        assert_eq!(
            acquire(&arr(&[0, i64::MAX, NOW]), WINDOW).expect("full"),
            Answer::Wait {
                wait: WINDOW,
                paused: false
            }
        );
        assert_eq!(
            acquire(&arr(&[0, -5, NOW]), WINDOW).expect("full"),
            Answer::Wait {
                wait: Duration::ZERO,
                paused: false
            }
        );
        // Starts "in the future" count as now; far past ones not at all.
        let full: Vec<i64> = [NOW, NOW]
            .into_iter()
            .chain(std::iter::repeat_n(i64::MAX, 2))
            .collect();
        let wait = projection(&arr(&full), 2, 1_020_000, 0).expect("projection");
        assert_eq!(wait, WINDOW);
        let wait = projection(&arr(&[NOW, 0, i64::MIN, i64::MIN]), 2, 1_020_000, 0).expect("p");
        assert_eq!(wait, Duration::ZERO);
    }

    #[test]
    fn replies_no_script_gives_are_failures() {
        for v in [
            Value::Nil,
            arr(&[1, 0]),
            arr(&[7, 0, NOW]),
            arr(&[1, 0, 0]),
            Value::Array(vec![Value::Okay, Value::Int(0), Value::Int(NOW)]),
        ] {
            assert!(acquire(&v, WINDOW).is_err(), "{v:?}");
        }
        for v in [Value::Nil, arr(&[NOW]), arr(&[-1, 0]), arr(&[i64::MAX, 0])] {
            assert!(projection(&v, 12, 1_020_000, 0).is_err(), "{v:?}");
        }
        assert_eq!(
            acquire(&arr(&[1, 0, NOW]), WINDOW).expect("granted"),
            Answer::Granted { redis_now_us: NOW }
        );
    }

    fn reply() -> impl Strategy<Value = Value> {
        let int = prop_oneof![any::<i64>(), (NOW - 5_000_000)..(NOW + 5_000_000), 0i64..3,];
        let item = prop_oneof![
            int.prop_map(Value::Int),
            any::<i64>().prop_map(|n| Value::BulkString(n.to_string().into_bytes())),
            Just(Value::Nil),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::BulkString),
        ];
        prop_oneof![
            proptest::collection::vec(item, 0..16).prop_map(Value::Array),
            Just(Value::Okay),
        ]
    }

    proptest! {
        #![proptest_config(crate::fuzzing::cases(512))]

        /// No panic on any reply; every wait within its bound.
        #[test]
        fn fuzz_any_budget_reply_is_bounded_or_a_failure(
            v in reply(),
            limit in 1usize..20,
            window_ms in 1000u64..2001,
            k in 0usize..40,
        ) {
            let window = Duration::from_millis(window_ms);
            if let Ok(Answer::Wait { wait, paused }) = acquire(&v, window) {
                let bound = if paused { MAX_RETRY_AFTER } else { window };
                prop_assert!(wait <= bound);
            }
            let window_us = i64::try_from(window.as_micros()).unwrap_or(0);
            if let Ok(wait) = projection(&v, limit, window_us, k) {
                // The pause, then k+1 starts at `limit` per window.
                let windows = u32::try_from(k / limit + 1).unwrap_or(u32::MAX);
                prop_assert!(wait <= MAX_RETRY_AFTER + window * windows);
            }
        }
    }
}
