//! Per-caller request rate at the gateway (`requests_per_second` in the
//! callers file), hits included: governor's GCRA with a burst of one
//! second's worth, refused with 429 `caller_rate_limited` for that caller only.
//!
//! governor fits here where it does not fit the upstream budget: this is a
//! courtesy limit on one caller's request rate, where a burst allowance is
//! wanted, not the strict sliding window Altur enforces.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};

use crate::auth::callers::Caller;

/// One caller's limiter.
pub type Limiter = governor::DefaultDirectRateLimiter;

/// A limiter of `rps` requests per second with a burst of `rps`.
pub fn limiter(rps: NonZeroU32) -> Limiter {
    RateLimiter::direct(Quota::per_second(rps))
}

/// Lets the caller's request through, or says how long until it would be.
///
/// # Errors
/// The wait before the caller may send again, for `Retry-After`.
pub fn admit(caller: &Caller) -> Result<(), Duration> {
    let Some(limiter) = &caller.limiter else {
        return Ok(());
    };
    limiter
        .check()
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}
