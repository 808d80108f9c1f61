//! The queue's Prometheus series, per region: what fronts published, and
//! what workers pulled, redelivered, committed and how far behind they
//! are. Counts and durations only, never a payload.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Counters and gauges of one region's queue in this process.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Envelopes the stream acknowledged (front).
    pub published: AtomicU64,
    /// Envelopes pulled (worker).
    pub pulled: AtomicU64,
    /// Envelopes pulled that had been delivered before (worker).
    pub redeliveries: AtomicU64,
    /// Batches committed and acknowledged (worker).
    pub batches: AtomicU64,
    /// Time from the end of a pull to the commit of its batch, µs (worker).
    pub commit_micros: AtomicU64,
    /// Batches whose commit failed and that were left for redelivery (worker).
    pub naks: AtomicU64,
    /// Messages the consumer had not delivered yet, as of the last pull (worker).
    pub pending: AtomicU64,
    /// Now minus the publish time of the oldest message of the last batch, ms (worker).
    pub lag_ms: AtomicI64,
    /// Whether the worker's consumer answered its last pull.
    pub consumer_ok: AtomicBool,
    /// Whether the worker's last commit succeeded (or none was tried).
    pub store_ok: AtomicBool,
}

impl QueueStats {
    /// Fresh counters; a worker's store is taken as healthy until a commit
    /// fails.
    pub fn new() -> Self {
        QueueStats {
            store_ok: AtomicBool::new(true),
            ..QueueStats::default()
        }
    }
}

/// The text exposition of every region's queue series.
pub(crate) fn render<'a>(
    regions: impl Iterator<Item = (&'a str, &'a QueueStats)> + Clone,
) -> String {
    let mut out = String::new();
    let series: [(&str, &str, &str); 8] = [
        (
            "candor_queue_published_total",
            "counter",
            "Envelopes the region's stream acknowledged to this front.",
        ),
        (
            "candor_queue_pulled_total",
            "counter",
            "Envelopes this worker pulled from the region's stream.",
        ),
        (
            "candor_queue_redeliveries_total",
            "counter",
            "Envelopes pulled that had been delivered before (a crash or a failed commit).",
        ),
        (
            "candor_queue_batches_total",
            "counter",
            "Batches committed and acknowledged by this worker.",
        ),
        (
            "candor_queue_commit_seconds_total",
            "counter",
            "Time from the end of a pull to the commit of its batch.",
        ),
        (
            "candor_queue_naks_total",
            "counter",
            "Batches whose commit failed, left in the stream for redelivery.",
        ),
        (
            "candor_queue_pending",
            "gauge",
            "Envelopes waiting in the stream for a worker, as of this worker's last pull.",
        ),
        (
            "candor_queue_lag_seconds",
            "gauge",
            "Age of the oldest envelope of this worker's last batch when it was pulled.",
        ),
    ];
    for (name, kind, help) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (region, s) in regions.clone() {
            let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
            let value = match name {
                "candor_queue_published_total" => load(&s.published).to_string(),
                "candor_queue_pulled_total" => load(&s.pulled).to_string(),
                "candor_queue_redeliveries_total" => load(&s.redeliveries).to_string(),
                "candor_queue_batches_total" => load(&s.batches).to_string(),
                "candor_queue_commit_seconds_total" => {
                    format!("{:.6}", load(&s.commit_micros) as f64 / 1e6)
                }
                "candor_queue_naks_total" => load(&s.naks).to_string(),
                "candor_queue_pending" => load(&s.pending).to_string(),
                _ => format!("{:.3}", s.lag_ms.load(Ordering::Relaxed) as f64 / 1e3),
            };
            let _ = writeln!(out, "{name}{{region=\"{region}\"}} {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_rendered_per_region() {
        let s = QueueStats::new();
        s.published.store(7, Ordering::Relaxed);
        s.lag_ms.store(1500, Ordering::Relaxed);
        let text = render([("eu", &s)].into_iter());
        assert!(text.contains("candor_queue_published_total{region=\"eu\"} 7\n"));
        assert!(text.contains("candor_queue_lag_seconds{region=\"eu\"} 1.500\n"));
        assert_eq!(text.matches("# TYPE").count(), 8);
    }
}
