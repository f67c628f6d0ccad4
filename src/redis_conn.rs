//! Connections to Redis for the shared limiter and the shared cache: lazy,
//! reconnecting by themselves, and failing fast.
//!
//! A dead Redis must cost a request at most [`OP_TIMEOUT`], never a hang: the
//! connection manager gets connect and response timeouts and no connect
//! retries of its own (the callers decide what a failure means: the limiter
//! falls back, the cache treats it as a miss), and every operation is wrapped
//! in [`op`] on top.
//!
//! The URL may hold a password, so it is never logged or put in an error.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Longest any one Redis operation may take, connecting included.
pub const OP_TIMEOUT: Duration = Duration::from_millis(500);
/// Establishing a TCP connection (and the handshake) to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// Prefix of every key the gateway writes; `v1` is the layout version.
pub const KEY_PREFIX: &str = "altur-gateway:v1";

/// Why a Redis operation failed (for logs; never holds the URL).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisFailure {
    #[error("redis did not answer within {} ms", OP_TIMEOUT.as_millis())]
    Timeout,
    #[error("redis: {0}")]
    Redis(String),
}

/// A lazily connecting, self-reconnecting handle; nothing is sent until the first operation.
///
/// # Errors
/// A URL the client cannot use (the message never repeats the URL).
pub fn connect(url: &str) -> Result<ConnectionManager, String> {
    let client =
        redis::Client::open(url).map_err(|e| format!("cannot use this URL ({})", e.kind_str()))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(OP_TIMEOUT))
        // One attempt per reconnect: our callers probe with their own backoff.
        .set_number_of_retries(0)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client, config)
        .map_err(|e| format!("cannot create a connection ({})", e.kind_str()))
}

/// Runs one Redis operation under [`OP_TIMEOUT`].
///
/// # Errors
/// Its own error, or [`RedisFailure::Timeout`].
pub async fn op<T>(fut: impl Future<Output = redis::RedisResult<T>>) -> Result<T, RedisFailure> {
    match tokio::time::timeout(OP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(RedisFailure::Redis(e.to_string())),
        Err(_) => Err(RedisFailure::Timeout),
    }
}

/// A whole number from a script's reply: an integer, or a string of
/// digits (what a hash field or `GET` holds). Anything else is `None`, never
/// an error: replies are read as plain values, since a failed conversion
/// would be taken for Redis being down.
pub fn int(v: &redis::Value) -> Option<i64> {
    match v {
        redis::Value::Int(n) => Some(*n),
        redis::Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        redis::Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}
