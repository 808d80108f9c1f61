//! Counters for the Prometheus endpoint. Counts and codes only: never an
//! address, a header, a token or a payload.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// Per-report and per-request counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (region, outcome, code) → reports.
    reports: Mutex<BTreeMap<(String, &'static str, &'static str), u64>>,
    /// HTTP status → upload requests.
    requests: Mutex<BTreeMap<u16, u64>>,
    /// Outcome (`released`, `cached` or an error code) → analyst queries.
    queries: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts `n` reports of `region` with `outcome` (`accepted`,
    /// `duplicate`, `rejected`) and rejection `code` (empty otherwise).
    pub fn report(&self, region: &str, outcome: &'static str, code: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        let mut m = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        // Look up before inserting: the region string is allocated only for
        // a new series, not on every report.
        match m
            .iter_mut()
            .find(|((r, o, c), _)| r == region && *o == outcome && *c == code)
        {
            Some((_, count)) => *count += n,
            None => {
                m.insert((region.to_owned(), outcome, code), n);
            }
        }
    }

    /// Counts one upload request answered with `status`.
    pub fn request(&self, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(status).or_default() += 1;
    }

    /// Every (region, outcome, code) report counter, for the dashboard.
    pub fn report_totals(&self) -> Vec<(String, &'static str, &'static str, u64)> {
        let m = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        m.iter()
            .map(|((r, o, c), n)| (r.clone(), *o, *c, *n))
            .collect()
    }

    /// Counts one analyst query by outcome.
    pub fn query(&self, outcome: &'static str) {
        let mut m = self.queries.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(outcome).or_default() += 1;
    }

    /// Reports counted with `outcome` and `code`, over all regions.
    pub fn reports_with(&self, outcome: &str, code: &str) -> u64 {
        let m = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        m.iter()
            .filter(|((_, o, c), _)| *o == outcome && *c == code)
            .map(|(_, n)| n)
            .sum()
    }

    /// The Prometheus text exposition of these counters and the writers'.
    pub fn render(&self, writers: &[(String, &crate::ingest::writer::Writer)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP candor_reports_total Reports received, by region, outcome and rejection code.\n");
        out.push_str("# TYPE candor_reports_total counter\n");
        for ((region, outcome, code), n) in self
            .reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "candor_reports_total{{region=\"{region}\",outcome=\"{outcome}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP candor_upload_requests_total Upload requests, by HTTP status.\n");
        out.push_str("# TYPE candor_upload_requests_total counter\n");
        for (status, n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "candor_upload_requests_total{{status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP candor_queries_total Analyst queries, by outcome (released, cached, or the error code).\n");
        out.push_str("# TYPE candor_queries_total counter\n");
        for (outcome, n) in self
            .queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "candor_queries_total{{outcome=\"{outcome}\"}} {n}");
        }
        let series: [(&str, &str, &str); 5] = [
            (
                "candor_writer_queue_reports",
                "gauge",
                "Reports waiting for the region's writer.",
            ),
            ("candor_commits_total", "counter", "Committed transactions."),
            (
                "candor_committed_reports_total",
                "counter",
                "Reports in committed transactions.",
            ),
            (
                "candor_commit_seconds_total",
                "counter",
                "Time spent committing.",
            ),
            (
                "candor_failed_commits_total",
                "counter",
                "Transactions that failed; nothing of them was stored.",
            ),
        ];
        for (name, kind, help) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (region, w) in writers {
                let s = &w.stats;
                let value = match name {
                    "candor_writer_queue_reports" => w.queued().to_string(),
                    "candor_commits_total" => s.commits.load(Ordering::Relaxed).to_string(),
                    "candor_committed_reports_total" => {
                        s.committed_reports.load(Ordering::Relaxed).to_string()
                    }
                    "candor_commit_seconds_total" => {
                        format!(
                            "{:.6}",
                            s.commit_micros.load(Ordering::Relaxed) as f64 / 1e6
                        )
                    }
                    _ => s.failed_commits.load(Ordering::Relaxed).to_string(),
                };
                let _ = writeln!(out, "{name}{{region=\"{region}\"}} {value}");
            }
        }
        out
    }
}
