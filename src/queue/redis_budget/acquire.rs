//! The [`Budget`] a fleet shares: each start, refusal estimate and 429 pause
//! asked of the window in Redis (or of the local fallback, per [`Mode`]).

use super::*;

impl Budget for RedisBudget {
    fn acquire(&self) -> BoxFuture<'_, Slot> {
        let inner = &self.inner;
        Box::pin(async move {
            loop {
                // Register for a change before looking, so none is missed.
                let changed = inner.changed.notified();
                let now = Instant::now();
                let mode = inner.state().mode;
                let shared_only = match mode {
                    Mode::Rejoining { until } if now >= until => {
                        inner.promote();
                        continue;
                    }
                    Mode::Shared => true,
                    Mode::Fallback | Mode::Rejoining { .. } => false,
                };
                if shared_only {
                    // Held locally as pending first, so a switch to the
                    // fallback while it is in flight still counts it.
                    let slot = inner.local.track(now);
                    if inner.shared_start(slot, changed).await {
                        return slot;
                    }
                    continue;
                }
                match inner.local.try_start(now) {
                    Ok(slot) if mode == Mode::Fallback => return slot,
                    Ok(slot) => {
                        if inner.shared_start(slot, changed).await {
                            return slot;
                        }
                    }
                    Err(Some(next)) => {
                        tokio::select! {
                            () = tokio::time::sleep_until(next) => {}
                            () = changed => {}
                        }
                    }
                    Err(None) => changed.await,
                }
            }
        })
    }

    fn try_acquire(&self, cap: usize) -> BoxFuture<'_, Result<Slot, Duration>> {
        let inner = &self.inner;
        Box::pin(async move {
            let now = Instant::now();
            let mode = inner.state().mode;
            let until = |next: Option<Instant>| {
                next.map_or(Duration::from_millis(20), |t| {
                    t.saturating_duration_since(now)
                })
            };
            match mode {
                Mode::Shared => inner.try_shared_once(inner.local.track(now), cap).await,
                // The fallback's own limit, less what the cap keeps for others.
                Mode::Fallback | Mode::Rejoining { .. } => {
                    let local_cap =
                        cap.saturating_sub(inner.limit.saturating_sub(inner.fallback_limit));
                    match inner.local.try_start_within(now, local_cap) {
                        Ok(slot) if mode == Mode::Fallback => Ok(slot),
                        Ok(slot) => inner.try_shared_once(slot, cap).await,
                        Err(next) => Err(until(next)),
                    }
                }
            }
        })
    }

    fn stamp(&self, slot: Slot, sent: Instant) {
        let inner = &self.inner;
        inner.local.stamp(slot, sent);
        let granted = inner.state().granted.remove(&slot.id);
        if let Some(grant_us) = granted {
            let score_us = grant_us.saturating_add(micros(sent.saturating_duration_since(slot.at)));
            let _ = inner.ops.send(Op::Stamp {
                member: inner.member(slot.id),
                score_us,
            });
        }
        inner.changed.notify_one();
    }

    fn release(&self, slot: Slot) {
        let inner = &self.inner;
        inner.local.release(slot);
        if inner.state().granted.remove(&slot.id).is_some() {
            let _ = inner.ops.send(Op::Release {
                member: inner.member(slot.id),
            });
        }
        inner.changed.notify_one();
    }

    fn projected_wait(&self, k: usize) -> BoxFuture<'_, Duration> {
        let inner = &self.inner;
        Box::pin(async move {
            if inner.state().mode == Mode::Shared {
                match inner.projected_shared(k).await {
                    Ok(d) => return d,
                    Err(e) => inner.fall_back(&e),
                }
            }
            inner.local.projected_wait(k).await
        })
    }

    fn pause(&self, until: Instant) -> BoxFuture<'_, ()> {
        let inner = &self.inner;
        Box::pin(async move {
            inner.local.pause_until(until);
            inner.changed.notify_one();
            if inner.state().mode == Mode::Fallback {
                return;
            }
            let d = until.saturating_duration_since(Instant::now());
            let mut conn = inner.conn.clone();
            let mut inv = inner.pause.key(&inner.pause_key);
            inv.arg(micros(d));
            let r: Result<i64, _> = redis_conn::op(inv.invoke_async(&mut conn)).await;
            if let Err(e) = r {
                inner.fall_back(&e);
            }
        })
    }
}
