//! The budget's background tasks: the writer of stamps and releases, and
//! the prober that notices Redis coming back.

use super::*;

/// Writes stamps and releases in order; keeps them for replay while Redis is away.
pub(super) async fn writer(inner: Weak<Inner>, mut rx: mpsc::UnboundedReceiver<Op>) {
    while let Some(op) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let mut ops = vec![op];
        // Whatever queued meanwhile goes in the same round trip.
        while ops.len() < 256
            && let Ok(op) = rx.try_recv()
        {
            ops.push(op);
        }
        if inner.state().mode == Mode::Fallback {
            for op in ops {
                inner.keep_unsynced(op);
            }
            continue;
        }
        match inner.exec(&ops).await {
            // Only now can a waiting acquire see the freed or re-scored slot.
            Ok(()) => inner.changed.notify_one(),
            Err(e) => {
                for op in ops {
                    inner.keep_unsynced(op);
                }
                inner.fall_back(&e);
            }
        }
    }
}

/// Checks Redis at start-up, then probes it while this replica is in the
/// fallback, and walks the replica back through the rejoin phase.
pub(super) async fn prober(weak: Weak<Inner>, down: Arc<Notify>) {
    let mut first = true;
    let mut delay = PROBE_MIN;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let mode = inner.state().mode;
        match mode {
            Mode::Shared => {
                if first {
                    first = false;
                    if let Err(e) = inner.ping().await {
                        inner.fall_back(&e);
                        continue;
                    }
                }
                delay = PROBE_MIN;
                drop(inner);
                // Woken on a fall-back; the timeout notices a dropped budget.
                let _ = tokio::time::timeout(PROBE_MAX, down.notified()).await;
            }
            Mode::Fallback => {
                first = false;
                drop(inner);
                tokio::time::sleep(delay).await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.ping().await.is_ok() {
                    delay = PROBE_MIN;
                    let _ = inner.rejoin().await;
                } else {
                    delay = (delay * 2).min(PROBE_MAX);
                }
            }
            Mode::Rejoining { until } => {
                drop(inner);
                tokio::time::sleep_until(until).await;
                let Some(inner) = weak.upgrade() else { return };
                let still = inner.state().mode;
                match still {
                    Mode::Rejoining { until } if Instant::now() >= until => inner.promote(),
                    _ => {}
                }
            }
        }
    }
}
