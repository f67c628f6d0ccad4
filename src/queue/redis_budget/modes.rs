//! The budget's own work with Redis: one attempt at a start, the switch to
//! the local fallback and back (replay, rejoin, promote), the projection.

use super::*;

impl Inner {
    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section is a few map or field writes that cannot be
        // left half done, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn member(&self, id: u64) -> String {
        format!("{}:{id}", self.replica)
    }

    pub(super) async fn try_shared(&self, slot: Slot, cap: usize) -> Result<Answer, RedisFailure> {
        let mut conn = self.conn.clone();
        let mut inv = self.acquire.key(&self.starts_key);
        inv.key(&self.pause_key)
            .arg(cap.min(self.limit))
            .arg(micros(self.window))
            .arg(micros(self.lease))
            .arg(self.member(slot.id))
            .arg(reply::max_pause_us());
        let v: redis::Value = redis_conn::op(inv.invoke_async(&mut conn)).await?;
        reply::acquire(&v, self.window)
    }

    /// One try at a start through Redis, for a slot already held locally.
    /// `Ok(true)`: granted; `Ok(false)`: slept (or was woken), try again.
    pub(super) async fn shared_start(
        &self,
        slot: Slot,
        changed: tokio::sync::futures::Notified<'_>,
    ) -> bool {
        match self.try_shared(slot, self.limit).await {
            Ok(Answer::Granted { redis_now_us }) => {
                self.state().granted.insert(slot.id, redis_now_us);
                true
            }
            Ok(Answer::Wait { wait, paused }) => {
                self.local.release(slot);
                if paused {
                    // Remembered, in case the fallback takes over meanwhile.
                    self.local.pause_until(Instant::now() + wait);
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = changed => {}
                }
                false
            }
            Err(e) => {
                self.local.release(slot);
                // The script may have run before the answer was lost: its
                // pending member must go, or it would hold a slot for a lease.
                self.keep_unsynced(Op::Release {
                    member: self.member(slot.id),
                });
                self.fall_back(&e);
                false
            }
        }
    }

    /// One capped attempt through Redis for a slot held locally; never sleeps.
    pub(super) async fn try_shared_once(&self, slot: Slot, cap: usize) -> Result<Slot, Duration> {
        match self.try_shared(slot, cap).await {
            Ok(Answer::Granted { redis_now_us }) => {
                self.state().granted.insert(slot.id, redis_now_us);
                Ok(slot)
            }
            Ok(Answer::Wait { wait, paused }) => {
                self.local.release(slot);
                if paused {
                    self.local.pause_until(Instant::now() + wait);
                }
                Err(wait)
            }
            Err(e) => {
                self.local.release(slot);
                self.keep_unsynced(Op::Release {
                    member: self.member(slot.id),
                });
                self.fall_back(&e);
                Err(Duration::ZERO)
            }
        }
    }

    pub(super) fn keep_unsynced(&self, op: Op) {
        let mut s = self.state();
        if s.unsynced.len() >= MAX_UNSYNCED {
            s.unsynced.pop_front();
        }
        s.unsynced.push_back(op);
    }

    /// Switches to the local fallback (once per outage), with a quiet window.
    pub(super) fn fall_back(&self, err: &RedisFailure) {
        {
            let mut s = self.state();
            if s.mode == Mode::Fallback {
                return;
            }
            s.mode = Mode::Fallback;
        }
        // No start for one window: the other replicas' shared starts of the
        // last window are unknown here and may fill the budget.
        self.local.pause_until(Instant::now() + self.window);
        tracing::warn!(
            error = %err,
            fallback_requests_per_second = self.fallback_limit,
            "shared rate limiter unreachable: using the local fallback limit"
        );
        self.metrics.rate_limit_fallback.set(1);
        self.readiness
            .note(NOTE, Some("fallback: redis unreachable".into()));
        self.changed.notify_one();
        self.down.notify_one();
    }

    pub(super) async fn exec(&self, ops: &[Op]) -> Result<(), RedisFailure> {
        let mut pipe = redis::pipe();
        for op in ops {
            match op {
                Op::Stamp { member, score_us } => {
                    pipe.zadd(&self.starts_key, member, *score_us).ignore();
                }
                Op::Release { member } => {
                    pipe.zrem(&self.starts_key, member).ignore();
                }
            }
        }
        let mut conn = self.conn.clone();
        redis_conn::op(pipe.exec_async(&mut conn)).await
    }

    pub(super) async fn ping(&self) -> Result<(), RedisFailure> {
        let mut conn = self.conn.clone();
        let _: String = redis_conn::op(redis::cmd("PING").query_async(&mut conn)).await?;
        Ok(())
    }

    /// Redis answers again: replay what could not be written, then rejoin.
    pub(super) async fn rejoin(&self) -> Result<Instant, RedisFailure> {
        let ops: Vec<Op> = {
            let mut s = self.state();
            let until = Instant::now() + PROBE_MAX + self.window;
            s.mode = Mode::Rejoining { until };
            s.unsynced.drain(..).collect()
        };
        if !ops.is_empty()
            && let Err(e) = self.exec(&ops).await
        {
            for op in ops {
                self.keep_unsynced(op);
            }
            self.fall_back(&e);
            return Err(e);
        }
        let until = Instant::now() + PROBE_MAX + self.window;
        if let Mode::Rejoining { until: u } = &mut self.state().mode {
            *u = until;
        }
        tracing::info!(
            replayed = ops.len(),
            "redis reachable again: rejoining the shared rate limiter"
        );
        self.readiness
            .note(NOTE, Some("fallback: rejoining the shared limiter".into()));
        self.changed.notify_one();
        Ok(until)
    }

    pub(super) fn promote(&self) {
        {
            let mut s = self.state();
            if !matches!(s.mode, Mode::Rejoining { .. }) {
                return;
            }
            s.mode = Mode::Shared;
        }
        tracing::info!("shared rate limiter back in use");
        self.metrics.rate_limit_fallback.set(0);
        self.readiness.note(NOTE, None);
        self.changed.notify_one();
    }

    pub(super) async fn projected_shared(&self, k: usize) -> Result<Duration, RedisFailure> {
        let mut conn = self.conn.clone();
        let mut inv = self.project.key(&self.starts_key);
        inv.key(&self.pause_key)
            .arg(self.limit)
            .arg(micros(self.window))
            .arg(k.saturating_add(1))
            .arg(micros(self.lease))
            .arg(reply::max_pause_us());
        let v: redis::Value = redis_conn::op(inv.invoke_async(&mut conn)).await?;
        reply::projection(&v, self.limit, micros(self.window), k)
    }
}
