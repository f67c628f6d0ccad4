//! Logging and tracing: tracing-subscriber, text for people or one JSON
//! object per line for machines; the level follows `RUST_LOG` (default
//! `info`). With `telemetry.otlp_endpoint`, request spans are exported over
//! OTLP ([`otlp`]).
//!
//! Request lines use the target `altur_gateway::access`, so
//! `RUST_LOG=info,altur_gateway::access=off` silences them alone.
//!
//! Text logs carry ANSI colours only when standard output is a terminal and
//! `NO_COLOR` is unset: a pipe, a file or the journal would otherwise store
//! escape codes that break grep and log shippers.
//!
//! Spans have their own target, [`SPANS`], which the log layer never takes:
//! the log format does not change with tracing on, and with export off no
//! layer wants a span, so creating one is a cached "disabled" check with no
//! allocation (the hit path stays as cheap as before).

use std::io::IsTerminal;

use tracing::Metadata;
use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::LogFormat;

mod otlp;

/// The target of every span the gateway makes (request, upstream, refresh).
pub const SPANS: &str = "altur_gateway::trace";

/// What the export needs at exit; dropping it flushes the spans still
/// buffered (bounded by the exporter's timeout).
#[derive(Default)]
pub struct Telemetry {
    export: Option<otlp::Export>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(export) = self.export.take() {
            export.shutdown();
        }
    }
}

/// Installs the global subscriber (logs only); a second call is a no-op.
pub fn init(format: LogFormat) {
    drop(install(format, None));
}

/// Installs the global subscriber: logs, and with `otlp_endpoint` the span
/// export. A second call installs nothing (and exports nothing).
pub fn install(format: LogFormat, otlp_endpoint: Option<&str>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let logs_filter = logs_filter(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_ansi(std::io::stdout().is_terminal() && !no_color);
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => fmt.with_filter(logs_filter).boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(logs_filter)
            .boxed(),
    };
    let mut layers = vec![logs];
    let export = otlp_endpoint.and_then(|endpoint| match otlp::Export::start(endpoint) {
        Ok(export) => Some(export),
        Err(e) => {
            // Logged once the subscriber is up; serving matters more than tracing.
            eprintln!("altur-gateway: cannot export traces to {endpoint}: {e}");
            None
        }
    });
    if let Some(export) = &export {
        // Our spans (at INFO), and warnings and errors inside them as span events.
        let wanted = filter_fn(|m: &Metadata<'_>| {
            is_our_span(m)
                || (m.is_event()
                    && *m.level() <= tracing::Level::WARN
                    && m.target().starts_with("altur_gateway"))
        })
        .with_max_level_hint(LevelFilter::INFO);
        layers.push(export.layer().with_filter(wanted).boxed());
    }
    if tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_err()
    {
        return Telemetry::default();
    }
    if let Some(export) = &export {
        let endpoint = crate::redact::url(export.endpoint());
        tracing::info!(endpoint = %endpoint, "exporting traces over OTLP/HTTP");
    }
    Telemetry { export }
}

/// What the log layer takes: every event and span `RUST_LOG` lets through,
/// no span of ours. The hint keeps `RUST_LOG`'s level as the global maximum:
/// without it the combination has none, and every `trace!` in hyper and h2
/// would cost a callsite check on every request.
fn logs_filter(env: EnvFilter) -> impl Filter<Registry> {
    let not_ours = filter_fn(|m: &Metadata<'_>| !is_our_span(m));
    env.and(not_ours.with_max_level_hint(LevelFilter::TRACE))
}

fn is_our_span(m: &Metadata<'_>) -> bool {
    m.is_span() && m.target() == SPANS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without export no layer wants our spans: they are disabled, so the
    /// hit path allocates none. Events still reach the log layer.
    #[test]
    fn our_spans_are_disabled_without_export() {
        let logs = tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .with_filter(logs_filter(EnvFilter::new("trace")));
        let layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![logs.boxed()];
        let subscriber = tracing_subscriber::registry().with(layers);
        tracing::subscriber::with_default(subscriber, || {
            let ours = tracing::info_span!(target: "altur_gateway::trace", "request");
            assert!(ours.is_disabled(), "a span nobody exports");
            let other = tracing::info_span!(target: "altur_gateway::other", "other");
            assert!(!other.is_disabled(), "other spans are untouched");
            assert!(tracing::enabled!(target: "altur_gateway::access", tracing::Level::INFO));
        });
    }

    /// `RUST_LOG=warn` stays the global maximum level: `trace!` and `debug!`
    /// anywhere (hyper's included) are skipped by one static comparison.
    #[test]
    fn the_log_level_is_the_global_maximum() {
        use tracing::Subscriber;
        let logs = tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .with_filter(logs_filter(EnvFilter::new("warn")));
        let layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![logs.boxed()];
        let subscriber = tracing_subscriber::registry().with(layers);
        assert_eq!(subscriber.max_level_hint(), Some(LevelFilter::WARN));
    }
}
