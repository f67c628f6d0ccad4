//! Upstream starts per second over the last two minutes: a 120-slot ring,
//! for the status page's budget chart. Prometheus has the totals
//! (`upstream_starts_total`); a person looking at one replica right now
//! wants the seconds.

use std::sync::Mutex;

use tokio::time::Instant;

/// Seconds kept.
pub const SLOTS: usize = 120;

/// Starts counted per whole second since the ring was made.
#[derive(Debug)]
pub struct StartsRing {
    origin: Instant,
    /// Slot `s % SLOTS` holds second `s`: (second, starts in it).
    slots: Mutex<[(u64, u32); SLOTS]>,
}

impl Default for StartsRing {
    fn default() -> Self {
        StartsRing::new()
    }
}

impl StartsRing {
    pub fn new() -> StartsRing {
        StartsRing {
            origin: Instant::now(),
            slots: Mutex::new([(0, 0); SLOTS]),
        }
    }

    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_secs()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [(u64, u32); SLOTS]> {
        // Plain integers: a poisoned lock still holds valid counts.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one upstream start at `at` (at most a few dozen a second).
    pub fn record(&self, at: Instant) {
        let sec = self.second(at);
        let mut slots = self.lock();
        let slot = &mut slots[(sec % SLOTS as u64) as usize];
        if slot.0 == sec {
            slot.1 = slot.1.saturating_add(1);
        } else if slot.0 < sec || slot.1 == 0 {
            // A second more than two minutes old is reused.
            *slot = (sec, 1);
        }
        // Else the start is older than what the slot holds now: out of the window.
    }

    /// The starts of each of the last [`SLOTS`] seconds up to `now`
    /// (the current, partial second last), oldest first.
    pub fn last(&self, now: Instant) -> [u32; SLOTS] {
        let now = self.second(now);
        let slots = self.lock();
        let mut out = [0; SLOTS];
        for (i, v) in out.iter_mut().enumerate() {
            // Second now - (SLOTS - 1 - i); none before the ring began.
            let Some(sec) = now.checked_sub((SLOTS - 1 - i) as u64) else {
                continue;
            };
            let (held, count) = slots[(sec % SLOTS as u64) as usize];
            if held == sec {
                *v = count;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn counts_by_second_and_forgets_after_two_minutes() {
        let ring = StartsRing::new();
        let t0 = Instant::now();
        for _ in 0..3 {
            ring.record(t0);
        }
        ring.record(t0 + Duration::from_millis(1500));
        let now = t0 + Duration::from_millis(1600);
        let last = ring.last(now);
        assert_eq!(last[SLOTS - 1], 1, "second 1");
        assert_eq!(last[SLOTS - 2], 3, "second 0");
        assert_eq!(last.iter().sum::<u32>(), 4);
        // 119 s later second 1 is the oldest shown, second 0 is gone.
        let later = now + Duration::from_secs(119);
        let last = ring.last(later);
        assert_eq!(last[0], 1);
        assert_eq!(last.iter().sum::<u32>(), 1);
        // A slot is reused for its new second, and a stale start is dropped.
        ring.record(t0 + Duration::from_secs(120));
        ring.record(t0);
        let last = ring.last(t0 + Duration::from_secs(120));
        assert_eq!(last[SLOTS - 1], 1);
        assert_eq!(last.iter().sum::<u32>(), 2);
    }
}
