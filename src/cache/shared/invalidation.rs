//! Invalidation across the fleet: a write (or Altur's webhook) on one replica
//! drops the groups it changed from the shared cache and, through one Redis
//! pub/sub message, from every replica's memory.
//!
//! In Redis, a group's invalidation is its time (Redis's `TIME`, so replica
//! clocks do not matter) under `altur-gateway:v1:inval:<group>`; a shared
//! entry whose request was sent before it is neither served nor stored (the
//! GET and PUT scripts compare). A detail group's entry is also deleted.
//! The same script publishes the groups on [`CHANNEL`]; each replica drops
//! them from moka, fencing its own reads in flight.
//!
//! A replica that loses its subscription cannot know what it missed: when it
//! subscribes again, it drops its whole first level (the shared cache is
//! still correct, so this costs misses, not wrong answers).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::Script;

use crate::redis_conn::KEY_PREFIX;

/// The channel invalidations are published on.
pub const CHANNEL: &str = "altur-gateway:v1:invalidations";

/// Resubscribing backs off from this...
const RETRY_MIN: Duration = Duration::from_millis(100);
/// ...to this.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The key holding a group's last invalidation time.
pub fn group_key(group: &str) -> String {
    format!("{KEY_PREFIX}:inval:{group}")
}

/// KEYS: (invalidation key, entry key) per group. ARGV: keep_ms, channel,
/// message. Keeps the later of two invalidation times.
const INVALIDATE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #KEYS, 2 do
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if now > cur then
    redis.call('SET', KEYS[i], string.format('%d', now), 'PX', ARGV[1])
  end
  redis.call('DEL', KEYS[i + 1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
";

/// A replica's side of fleet-wide invalidation.
pub struct Invalidations {
    client: redis::Client,
    script: Script,
    /// This replica, to skip its own messages (it already invalidated).
    me: String,
    /// How long an invalidation time is kept: the longest a shared entry lives.
    keep: Duration,
}

impl std::fmt::Debug for Invalidations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its URL may hold a password.
        f.debug_struct("Invalidations")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Message {
    from: String,
    groups: Vec<String>,
}

impl Invalidations {
    /// # Errors
    /// A Redis URL the client cannot use.
    pub fn new(url: &str, me: String, keep: Duration) -> Result<Invalidations, String> {
        let client = redis::Client::open(url).map_err(|_| "cannot use this URL".to_string())?;
        Ok(Invalidations {
            client,
            script: Script::new(INVALIDATE),
            me,
            keep,
        })
    }

    /// The script invocation recording `groups` and publishing them.
    pub fn invocation(&self, groups: &[String]) -> redis::ScriptInvocation<'_> {
        let mut inv = self.script.prepare_invoke();
        for g in groups {
            inv.key(group_key(g)).key(format!("{KEY_PREFIX}:cache:{g}"));
        }
        let message = serde_json::to_string(&Message {
            from: self.me.clone(),
            groups: groups.to_vec(),
        })
        .unwrap_or_default();
        inv.arg(u64::try_from(self.keep.as_millis()).unwrap_or(u64::MAX))
            .arg(CHANNEL)
            .arg(message);
        inv
    }

    /// Listens to the other replicas' invalidations while the returned task
    /// lives: `drop` gets each message's groups; `drop_all` runs when a lost
    /// subscription is taken up again.
    pub fn listen(
        self: &Arc<Self>,
        drop: impl Fn(&[String]) + Send + Sync + 'static,
        drop_all: impl Fn() + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut delay = RETRY_MIN;
            let mut lost = false;
            loop {
                match this.subscribe().await {
                    Ok(pubsub) => {
                        if lost {
                            tracing::warn!(
                                "invalidation channel back: dropping the whole first level"
                            );
                            drop_all();
                        }
                        delay = RETRY_MIN;
                        let mut messages = pubsub.into_on_message();
                        while let Some(msg) = messages.next().await {
                            let Ok(payload) = msg.get_payload::<String>() else {
                                continue;
                            };
                            match serde_json::from_str::<Message>(&payload) {
                                Ok(m) if m.from != this.me => drop(&m.groups),
                                Ok(_) => {}
                                Err(_) => tracing::warn!("unreadable invalidation message ignored"),
                            }
                        }
                        tracing::warn!("invalidation channel lost; resubscribing");
                        lost = true;
                    }
                    Err(e) => {
                        if !lost {
                            tracing::warn!(error = %e, "cannot subscribe to invalidations; retrying");
                        }
                        lost = true;
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
            }
        })
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSub, String> {
        let connect = async {
            let mut ps = self.client.get_async_pubsub().await?;
            ps.subscribe(CHANNEL).await?;
            Ok::<_, redis::RedisError>(ps)
        };
        match tokio::time::timeout(Duration::from_secs(2), connect).await {
            Ok(Ok(ps)) => Ok(ps),
            Ok(Err(e)) => Err(format!("{:?}", e.kind())),
            Err(_) => Err("timed out".into()),
        }
    }
}
