//! Logging: tracing-subscriber, text for people or one JSON object per line for
//! machines; the level follows `RUST_LOG` (default `info`).
//!
//! Request lines use the target `altur_gateway::access`, so
//! `RUST_LOG=info,altur_gateway::access=off` silences them alone.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call is a no-op.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}
