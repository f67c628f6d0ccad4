//! Logging: tracing-subscriber, text for people or one JSON object per line for
//! machines; the level follows `RUST_LOG` (default `info`).
//!
//! Request lines use the target `altur_gateway::access`, so
//! `RUST_LOG=info,altur_gateway::access=off` silences them alone.
//!
//! Text logs carry ANSI colours only when standard output is a terminal and
//! `NO_COLOR` is unset: a pipe, a file or the journal would otherwise store
//! escape codes that break grep and log shippers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call is a no-op.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(std::io::stdout().is_terminal() && !no_color);
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
