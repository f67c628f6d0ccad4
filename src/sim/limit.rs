//! The simulated Altur rate limit: a strict sliding one-second window.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(1);

/// Arrivals admitted in the last second.
#[derive(Debug, Default)]
pub(super) struct Window {
    admitted: VecDeque<Instant>,
}

impl Window {
    /// Whether a request arriving `now` is within `limit` (`None`: no limit);
    /// an admitted one counts against the next second.
    pub fn admit(&mut self, now: Instant, limit: Option<u32>) -> bool {
        let Some(limit) = limit else {
            return true;
        };
        while self
            .admitted
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() >= limit as usize {
            return false;
        }
        self.admitted.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_sliding_second() {
        let t0 = Instant::now();
        let mut w = Window::default();
        assert!(w.admit(t0, Some(2)));
        assert!(w.admit(t0 + Duration::from_millis(500), Some(2)));
        assert!(!w.admit(t0 + Duration::from_millis(999), Some(2)));
        assert!(w.admit(t0 + Duration::from_millis(1000), Some(2)));
        assert!(!w.admit(t0 + Duration::from_millis(1499), Some(2)));
        assert!(!w.admit(t0, Some(0)), "a zero limit refuses everything");
        assert!(w.admit(t0, None));
    }
}
