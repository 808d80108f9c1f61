//! What a simulation run counted, and its human summary.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::truth::GroundTruth;

/// The collector's verdicts on a set of reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReportCounts {
    /// Counted by the collector.
    pub accepted: u64,
    /// Already counted (a retry whose first answer was lost).
    pub duplicate: u64,
    /// Refused for good (see [`SimSummary::rejected_by_code`]).
    pub rejected: u64,
}

/// Devices and reports of one region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RegionSummary {
    /// Devices in the region.
    pub devices: u64,
    /// Verdicts on the region's reports.
    pub reports: ReportCounts,
}

/// Devices and reports of one purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PurposeSummary {
    /// Devices whose user granted the purpose.
    pub granted: u64,
    /// Of those, devices that collect for it (not child profiles).
    pub collecting: u64,
    /// Verdicts on the purpose's reports.
    pub reports: ReportCounts,
}

/// The outcome of [`super::run`].
///
/// Every report a device built is either in `reports` (by its final
/// verdict) or still queued (`unsent`) when the run ended.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SimSummary {
    /// Devices simulated.
    pub devices: u64,
    /// Days simulated.
    pub days: u32,
    /// The first simulated day, `YYYY-MM-DD`.
    pub start: String,
    /// The last simulated day.
    pub end: String,
    /// Device-days on which the device was used at all.
    pub active_device_days: u64,
    /// Browsing sessions, and how many of them were in private mode.
    pub sessions: u64,
    /// Browsing sessions in private mode.
    pub private_sessions: u64,
    /// Devices with a child profile.
    pub child_devices: u64,
    /// Verdicts on all reports.
    pub reports: ReportCounts,
    /// Upload requests made, retries included.
    pub requests: u64,
    /// Requests answered "try again later" (429, 503, 5xx or no answer);
    /// their reports stayed queued for a later pass.
    pub retried_requests: u64,
    /// Reports still queued on the devices at the end (the collector kept
    /// refusing to take them for now).
    pub unsent: u64,
    /// Refused reports by the collector's error code (e.g.
    /// `day_out_of_window`).
    pub rejected_by_code: BTreeMap<String, u64>,
    /// Per region.
    pub regions: BTreeMap<String, RegionSummary>,
    /// Per purpose.
    pub purposes: BTreeMap<String, PurposeSummary>,
    /// The SDKs' own error counters, summed over devices by code
    /// (`url_dropped:{reason}` for URLs the sanitizer refused).
    pub sdk_errors: BTreeMap<String, u64>,
    /// Where the device data directories were (removed at the end).
    pub device_dir: PathBuf,
    /// Whether that was on tmpfs (`/dev/shm`).
    pub tmpfs: bool,
    /// Worker threads.
    pub threads: usize,
    /// Wall-clock time of the whole run.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// What the devices really did ([`GroundTruth::write_json`] saves it).
    #[serde(skip)]
    pub truth: GroundTruth,
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl SimSummary {
    /// Reports that the collector did not count: refused, or still queued.
    pub fn undelivered(&self) -> u64 {
        self.reports.rejected + self.unsent
    }
}

impl fmt::Display for SimSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let device_days = self.devices * u64::from(self.days);
        writeln!(
            f,
            "simulated {} devices × {} days ({} to {}) in {:.1} s ({:.0} device-days/s, {} threads, device data on {})",
            self.devices,
            self.days,
            self.start,
            self.end,
            secs,
            device_days as f64 / secs.max(1e-9),
            self.threads,
            if self.tmpfs { "tmpfs" } else { "disk" },
        )?;
        let private = if self.sessions > 0 {
            100.0 * self.private_sessions as f64 / self.sessions as f64
        } else {
            0.0
        };
        writeln!(
            f,
            "  active device-days {}, browsing sessions {} ({private:.1} % private), child profiles {}",
            self.active_device_days, self.sessions, self.child_devices
        )?;
        writeln!(
            f,
            "  reports: {} accepted, {} duplicate, {} rejected, {} unsent ({} requests, {} answered retry-later)",
            self.reports.accepted,
            self.reports.duplicate,
            self.reports.rejected,
            self.unsent,
            self.requests,
            self.retried_requests
        )?;
        for (code, n) in &self.rejected_by_code {
            writeln!(f, "    rejected {code}: {n}")?;
        }
        writeln!(f, "  region    devices  accepted  rejected")?;
        for (id, r) in &self.regions {
            writeln!(
                f,
                "  {id:<8} {:>8} {:>9} {:>9}",
                r.devices, r.reports.accepted, r.reports.rejected
            )?;
        }
        writeln!(f, "  purpose       granted  collecting  accepted  rejected")?;
        for (id, p) in &self.purposes {
            writeln!(
                f,
                "  {id:<12} {:>8} {:>11} {:>9} {:>9}",
                p.granted, p.collecting, p.reports.accepted, p.reports.rejected
            )?;
        }
        for (metric, regions) in &self.truth.activity {
            // The eligible truth summed over regions: what the releases
            // of all regions together would estimate.
            let mut daily: BTreeMap<&str, u64> = BTreeMap::new();
            let mut weekly: BTreeMap<&str, u64> = BTreeMap::new();
            let mut new = 0;
            for t in regions.values() {
                for (day, n) in &t.eligible.daily {
                    *daily.entry(day).or_default() += n;
                }
                for (week, n) in &t.eligible.weekly {
                    *weekly.entry(week).or_default() += n;
                }
                new += t.eligible.new.values().sum::<u64>();
            }
            let mean = daily.values().sum::<u64>() as f64 / daily.len().max(1) as f64;
            let (week, wau) = weekly
                .iter()
                .next_back()
                .map_or(("–", 0), |(w, n)| (*w, *n));
            // The run may end inside its last week: say how much of it ran.
            let ran = daily
                .keys()
                .filter_map(|d| candor_time::Day::parse(d))
                .filter(|d| candor_time::IsoWeek::of(*d).to_string() == week)
                .count();
            let part = if ran < 7 {
                format!(" ({ran} of its days simulated)")
            } else {
                String::new()
            };
            writeln!(
                f,
                "  {metric} (true, reportable): {mean:.0} active devices a day on average, {wau} in week {week}{part}, {new} new over the run"
            )?;
        }
        if !self.sdk_errors.is_empty() {
            let list: Vec<String> = self
                .sdk_errors
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            writeln!(f, "  SDK error counters: {}", list.join(", "))?;
        }
        Ok(())
    }
}
