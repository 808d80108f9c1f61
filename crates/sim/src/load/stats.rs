//! What a load run counted, and its human summary.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// A request that started later than this after its scheduled time counts
/// as late: the generator, not the collector, was the bottleneck.
pub(super) const LATE_THRESHOLD: Duration = Duration::from_millis(10);

/// The outcome of a load run.
///
/// Reports are counted once each, by their final verdict, so
/// `sent == accepted + queued + duplicate + Σ rejected_by_code + unanswered`, and
/// `planned == sent + unsent`. Error responses are counted per HTTP request,
/// retries included.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LoadStats {
    /// Reports sealed for the run.
    pub planned: u64,
    /// Most reports per request body.
    pub batch_size: usize,
    /// Concurrent connections.
    pub connections: usize,
    /// The target rate in reports per second, if one was set.
    pub target_rate: Option<f64>,
    /// HTTP requests made, retries included.
    pub requests: u64,
    /// Reports sent (each counted once, however often it was retried).
    pub sent: u64,
    /// Reports the collector accepted.
    pub accepted: u64,
    /// Reports a scale-out front durably queued for its workers
    /// (`queued`): acknowledged, to be counted once a worker commits them.
    pub queued: u64,
    /// Reports the collector had already counted.
    pub duplicate: u64,
    /// Reports the collector refused, by error code: per-report results of
    /// a batch, and every report of a body refused as a whole (a 4xx
    /// problem answer, or `http_NNN` when it carried no code).
    pub rejected_by_code: BTreeMap<String, u64>,
    /// Reports that got no verdict: their request ended in 408, 429, 5xx, a
    /// transport error or an answer that could not be read.
    pub unanswered: u64,
    /// Reports not sent because the time limit was reached.
    pub unsent: u64,
    /// Non-2xx responses by HTTP status.
    pub http_errors_by_status: BTreeMap<u16, u64>,
    /// Non-2xx responses by the problem answer's `code` (`none` without one).
    pub http_errors_by_code: BTreeMap<String, u64>,
    /// Requests that got no HTTP response (connection refused or reset,
    /// timeout).
    pub transport_errors: u64,
    /// The first transport error's message, to tell what went wrong.
    pub first_transport_error: Option<String>,
    /// 2xx answers whose results could not be parsed or did not hold one
    /// result per report.
    pub malformed_answers: u64,
    /// Requests repeated after a 429 or 503 (only with retries enabled).
    pub retries: u64,
    /// Wall time of the sending phase.
    #[serde(rename = "elapsed_secs", serialize_with = "secs")]
    pub elapsed: Duration,
    /// Wall time spent sealing the reports, before the clock started.
    #[serde(rename = "seal_elapsed_secs", serialize_with = "secs")]
    pub seal_elapsed: Duration,
    /// Accepted reports per second of `elapsed`.
    pub accepted_per_sec: f64,
    /// Per-request latency, from sending the request to reading the whole
    /// answer, over every request that got an HTTP response.
    pub latency: Latency,
    /// Requests that started more than 10 ms after their scheduled time
    /// (only with a target rate).
    pub late_requests: u64,
    /// The largest delay of a request behind its scheduled time.
    #[serde(rename = "max_schedule_lag_secs", serialize_with = "secs")]
    pub max_schedule_lag: Duration,
    /// Whether the run stopped at its time limit before sending everything.
    pub stopped_by_time_limit: bool,
}

/// Per-request latency percentiles, in microseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Latency {
    /// Requests measured.
    pub samples: u64,
    /// Mean.
    pub mean_us: u64,
    /// Median.
    pub p50_us: u64,
    /// 95th percentile.
    pub p95_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest.
    pub max_us: u64,
}

impl Latency {
    /// Percentiles of `samples` (microseconds, in any order).
    pub fn from_samples(mut samples: Vec<u64>) -> Self {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        let n = samples.len();
        Latency {
            samples: n as u64,
            mean_us: (sum / n as u128) as u64,
            p50_us: percentile(&samples, 50.0),
            p95_us: percentile(&samples, 95.0),
            p99_us: percentile(&samples, 99.0),
            max_us: samples[n - 1],
        }
    }
}

/// The nearest-rank `p`-th percentile of sorted, non-empty `sorted`: the
/// smallest value with at least p % of the samples at or below it.
pub(super) fn percentile(sorted: &[u64], p: f64) -> u64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// What one sending thread counted; merged into [`LoadStats`] at the end.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) requests: u64,
    pub(super) sent: u64,
    pub(super) accepted: u64,
    pub(super) queued: u64,
    pub(super) duplicate: u64,
    pub(super) rejected_by_code: BTreeMap<String, u64>,
    pub(super) unanswered: u64,
    pub(super) http_errors_by_status: BTreeMap<u16, u64>,
    pub(super) http_errors_by_code: BTreeMap<String, u64>,
    pub(super) transport_errors: u64,
    pub(super) first_transport_error: Option<String>,
    pub(super) malformed_answers: u64,
    pub(super) retries: u64,
    pub(super) latencies_us: Vec<u64>,
    pub(super) late_requests: u64,
    pub(super) max_schedule_lag: Duration,
    pub(super) stopped_by_time_limit: bool,
}

impl Tally {
    pub(super) fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.sent += other.sent;
        self.accepted += other.accepted;
        self.queued += other.queued;
        self.duplicate += other.duplicate;
        for (code, n) in other.rejected_by_code {
            *self.rejected_by_code.entry(code).or_default() += n;
        }
        self.unanswered += other.unanswered;
        for (status, n) in other.http_errors_by_status {
            *self.http_errors_by_status.entry(status).or_default() += n;
        }
        for (code, n) in other.http_errors_by_code {
            *self.http_errors_by_code.entry(code).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        if self.first_transport_error.is_none() {
            self.first_transport_error = other.first_transport_error;
        }
        self.malformed_answers += other.malformed_answers;
        self.retries += other.retries;
        self.latencies_us.extend(other.latencies_us);
        self.late_requests += other.late_requests;
        self.max_schedule_lag = self.max_schedule_lag.max(other.max_schedule_lag);
        self.stopped_by_time_limit |= other.stopped_by_time_limit;
    }

    pub(super) fn reject(&mut self, code: &str, reports: u64) {
        *self.rejected_by_code.entry(code.to_owned()).or_default() += reports;
    }

    pub(super) fn http_error(&mut self, status: u16, code: Option<&str>) {
        *self.http_errors_by_status.entry(status).or_default() += 1;
        *self
            .http_errors_by_code
            .entry(code.unwrap_or("none").to_owned())
            .or_default() += 1;
    }
}

/// The run's shape, copied into the stats for the summary.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub(super) planned: u64,
    pub(super) batch_size: usize,
    pub(super) connections: usize,
    pub(super) target_rate: Option<f64>,
}

impl LoadStats {
    pub(super) fn new(shape: Shape, tally: Tally, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64();
        LoadStats {
            planned: shape.planned,
            batch_size: shape.batch_size,
            connections: shape.connections,
            target_rate: shape.target_rate,
            requests: tally.requests,
            sent: tally.sent,
            accepted: tally.accepted,
            queued: tally.queued,
            duplicate: tally.duplicate,
            rejected_by_code: tally.rejected_by_code,
            unanswered: tally.unanswered,
            unsent: shape.planned.saturating_sub(tally.sent),
            http_errors_by_status: tally.http_errors_by_status,
            http_errors_by_code: tally.http_errors_by_code,
            transport_errors: tally.transport_errors,
            first_transport_error: tally.first_transport_error,
            malformed_answers: tally.malformed_answers,
            retries: tally.retries,
            elapsed,
            seal_elapsed: Duration::ZERO,
            accepted_per_sec: if secs > 0.0 {
                tally.accepted as f64 / secs
            } else {
                0.0
            },
            latency: Latency::from_samples(tally.latencies_us),
            late_requests: tally.late_requests,
            max_schedule_lag: tally.max_schedule_lag,
            stopped_by_time_limit: tally.stopped_by_time_limit,
        }
    }

    /// Reports refused, all codes together.
    pub fn rejected(&self) -> u64 {
        self.rejected_by_code.values().sum()
    }
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

fn list<K: fmt::Display>(map: &BTreeMap<K, u64>) -> String {
    map.iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for LoadStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = match self.target_rate {
            Some(r) => format!("target {r}/s"),
            None => "no rate limit".to_owned(),
        };
        writeln!(
            f,
            "{} reports in bodies of up to {}, {} connection(s), {rate}; sealed in {:.2} s",
            self.planned,
            self.batch_size,
            self.connections,
            self.seal_elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "sent         {:>9} reports in {} requests over {:.2} s",
            self.sent,
            self.requests,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "accepted     {:>9}   {:.1}/s",
            self.accepted, self.accepted_per_sec
        )?;
        if self.queued > 0 {
            let per_sec = if self.elapsed.is_zero() {
                0.0
            } else {
                self.queued as f64 / self.elapsed.as_secs_f64()
            };
            writeln!(
                f,
                "queued       {:>9}   {per_sec:.1}/s   (acknowledged by a front)",
                self.queued
            )?;
        }
        writeln!(f, "duplicate    {:>9}", self.duplicate)?;
        let rejected = self.rejected();
        if rejected == 0 {
            writeln!(f, "rejected     {rejected:>9}")?;
        } else {
            writeln!(
                f,
                "rejected     {rejected:>9}   {}",
                list(&self.rejected_by_code)
            )?;
        }
        writeln!(
            f,
            "unanswered   {:>9}   (429/503/5xx, transport errors, unreadable answers)",
            self.unanswered
        )?;
        if self.unsent > 0 {
            writeln!(f, "not sent     {:>9}   (time limit reached)", self.unsent)?;
        }
        let l = &self.latency;
        writeln!(
            f,
            "latency      p50 {}  p95 {}  p99 {}  max {}  (per request, n = {})",
            ms(l.p50_us),
            ms(l.p95_us),
            ms(l.p99_us),
            ms(l.max_us),
            l.samples
        )?;
        if !self.http_errors_by_status.is_empty() {
            writeln!(
                f,
                "HTTP errors  {}   by code: {}",
                list(&self.http_errors_by_status),
                list(&self.http_errors_by_code)
            )?;
        }
        if self.retries > 0 {
            writeln!(f, "retries      {:>9}", self.retries)?;
        }
        if self.transport_errors > 0 {
            writeln!(
                f,
                "transport errors {:>5}   first: {}",
                self.transport_errors,
                self.first_transport_error.as_deref().unwrap_or("?")
            )?;
        }
        if self.malformed_answers > 0 {
            writeln!(f, "bad answers  {:>9}", self.malformed_answers)?;
        }
        if self.late_requests > 0 {
            writeln!(
                f,
                "warning: the generator fell behind the target rate: {} request(s) started \
                 more than {} ms late (at most {}); use more connections or a lower rate",
                self.late_requests,
                LATE_THRESHOLD.as_millis(),
                ms(self.max_schedule_lag.as_micros() as u64)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u64> = (1..=100).rev().collect();
        let l = Latency::from_samples(samples);
        assert_eq!(
            (l.samples, l.p50_us, l.p95_us, l.p99_us, l.max_us),
            (100, 50, 95, 99, 100)
        );
        assert_eq!(l.mean_us, 50);
        let one = Latency::from_samples(vec![7]);
        assert_eq!((one.p50_us, one.p99_us, one.max_us), (7, 7, 7));
        assert_eq!(Latency::from_samples(vec![]), Latency::default());
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 51.0), 3);
    }
}
