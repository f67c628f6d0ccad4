//! Process metrics under the names every Prometheus client library uses
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...), read
//! from `/proc/self` at scrape time. Linux only: elsewhere they are absent.
//! With them, `altur_gateway_runtime_tasks`: the tokio tasks alive.
//!
//! Our own rather than a crate: prometheus-client has no process collector,
//! and a procfs crate is a large dependency for six numbers. Each is left
//! out, not faked, when its source cannot be read.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the process's figures on every scrape.
#[derive(Debug, Default)]
pub struct ProcessCollector;

/// One scrape's figures; `None` where a source could not be read.
#[derive(Debug, Default, PartialEq)]
struct Sample {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<i64>,
    virtual_bytes: Option<i64>,
    start_time_seconds: Option<f64>,
    open_fds: Option<i64>,
    max_fds: Option<i64>,
    /// Tasks alive in the tokio runtime that scrapes (connections, fetches,
    /// background tasks): what leaks first when something is never dropped.
    tasks: Option<i64>,
}

impl Sample {
    fn read() -> Sample {
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let page = i64::try_from(rustix::param::page_size()).unwrap_or(4096);
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let fields = stat.as_deref().and_then(stat_fields).unwrap_or_default();
        // Fields counted from 1 as in proc(5); `fields[0]` is field 3, `state`.
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok())
        });
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| i64::try_from(d.count()).unwrap_or(i64::MAX));
        let max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .and_then(|n| i64::try_from(n).ok());
        Sample {
            cpu_seconds: field(14)
                .zip(field(15))
                .map(|(user, system)| (user + system) as f64 / ticks),
            virtual_bytes: field(23).and_then(|b| i64::try_from(b).ok()),
            resident_bytes: field(24)
                .and_then(|p| i64::try_from(p).ok())
                .map(|p| p.saturating_mul(page)),
            start_time_seconds: boot
                .zip(field(22))
                .map(|(boot, start)| boot as f64 + start as f64 / ticks),
            open_fds,
            max_fds,
            tasks: tokio::runtime::Handle::try_current()
                .ok()
                .map(|h| i64::try_from(h.metrics().num_alive_tasks()).unwrap_or(i64::MAX)),
        }
    }
}

/// The fields of `/proc/self/stat` after the command name, which is in
/// parentheses and may itself hold spaces and parentheses.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

fn put(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    metric: &impl EncodeMetric,
) -> fmt::Result {
    let m = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
    metric.encode(m)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let s = Sample::read();
        let e = &mut encoder;
        if let Some(v) = s.cpu_seconds {
            let help = "Total user and system CPU time spent in seconds.";
            put(e, "process_cpu_seconds", help, &ConstCounter::new(v))?;
        }
        let gauges: [(&str, &str, Option<f64>); 6] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                s.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                s.virtual_bytes.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                s.start_time_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                s.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                s.max_fds.map(|v| v as f64),
            ),
            (
                "altur_gateway_runtime_tasks",
                "Tasks alive in the tokio runtime.",
                s.tasks.map(|v| v as f64),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                put(e, name, help, &ConstGauge::new(v))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        let stat = "4242 (altur (gw) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 12345 1000000 300";
        let f = stat_fields(stat).expect("fields");
        assert_eq!(f[0], "S");
        assert_eq!(f[14 - 3], "250", "utime");
        assert_eq!(f[22 - 3], "12345", "starttime");
        assert_eq!(f[24 - 3], "300", "rss");
    }

    #[tokio::test]
    async fn the_runtimes_tasks_are_counted() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let before = Sample::read().tasks.expect("in a runtime");
        let task = tokio::spawn(async move { rx.await.ok() });
        assert_eq!(Sample::read().tasks, Some(before + 1));
        drop(tx);
        task.await.expect("the task ends");
        assert_eq!(Sample::read().tasks, Some(before));
    }

    #[test]
    fn this_process_reads_as_itself() {
        let s = Sample::read();
        assert!(s.cpu_seconds.is_some_and(|c| c >= 0.0));
        assert!(s.resident_bytes.is_some_and(|r| r > 1024 * 1024), "{s:?}");
        assert!(s.open_fds.is_some_and(|n| n >= 3));
        assert_eq!(s.tasks, None, "no runtime here");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let started = s.start_time_seconds.unwrap_or_default();
        assert!(
            started > now - 3600.0 && started <= now + 1.0,
            "{started} vs {now}"
        );
    }
}
