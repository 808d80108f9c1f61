//! The ground truth: what the devices really did, aggregated the way the
//! collector keys its rows, before and after consent and privacy.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use candor_protocol::Day;
use candor_time::{IsoWeek, Month};
use serde::{Deserialize, Serialize};

use super::model::{Model, Profile, Sink};

/// The cells of a [`GroundTruth`]: region → day (`YYYY-MM-DD`) → metric →
/// canonical dimensions → group.
pub type TruthCells =
    BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<String, TruthGroup>>>>;

/// The version of the ground-truth JSON written by [`GroundTruth::write_json`].
///
/// 2 added [`GroundTruth::activity`].
pub const TRUTH_FORMAT: u32 = 2;

/// What a simulated fleet really did, aggregated per (region, day, metric,
/// dimensions, cell), in two versions: everything the devices did (`all`),
/// and only what a device could report (`eligible`: its user granted the
/// metric's purpose, it is not a child profile, the recording did not
/// happen in private mode unless the purpose is allowed there, and the
/// metric had not expired on the day).
///
/// Values are **raw**: the SDK later clamps each report to the metric's
/// `max_per_report` (proportionally for labeled counters and distributions,
/// a uniform sample of domains) and randomizes `local_dp` booleans and
/// categories, so the collector's rows equal `eligible` only where no
/// device-day went over the bound (see [`TruthGroup::over_bound`]) and only
/// for metrics without local DP. Cells keep nothing per device; the
/// activity figures ([`GroundTruth::activity`]) are computed from each
/// device's own days of use, kept while the run lasts.
///
/// The JSON (`--truth FILE`) has this shape, every map sorted by key:
///
/// ```json
/// {
///   "format": 2,
///   "schema": "org.example.browser", "schema_version": 3,
///   "seed": 1, "start": "2026-11-23", "days": 7, "devices": 1000,
///   "devices_by_region": {"eu": 603, "us": 397},
///   "child_devices": 48,
///   "consenting_devices": {"browsing": 287, "diagnostics": 571, "usage": 666},
///   "metrics": {"app.opened": {"type": "labeled_counter", "purpose": "usage",
///                "max_per_report": 100, "dimensions": ["platform", "os_major"]}},
///   "cells": {
///     "eu": {
///       "2026-11-23": {
///         "app.opened": {
///           "os_major=14,platform=android": {
///             "all":      {"browser": [412, 96], "camera": [97, 51]},
///             "eligible": {"browser": [280, 63], "camera": [61, 33]},
///             "over_bound": [2, 1]
///           }
///         }
///       }
///     }
///   },
///   "activity": {
///     "app.active": {
///       "eu": {
///         "all": {
///           "daily":     {"2026-11-23": 310, "2026-11-24": 298},
///           "new":       {"2026-11-23": 310, "2026-11-24": 101},
///           "weekly":    {"2026-W48": 455},
///           "monthly":   {"2026-11": 455},
///           "retention": {"2026-W48": {"0": 455, "1": 380}, "2026-W49": {"0": 12}}
///         },
///         "eligible": {"daily": {"2026-11-23": 198}, "...": {}}
///       }
///     }
///   }
/// }
/// ```
///
/// A cell is `[sum, devices]`: the sum of the device-days' values and how
/// many device-days contributed (a device contributes to a day's row at
/// most once, like a report). Cells are named as the collector names them:
/// a label, a category, `true`/`false`, a bucket index (`"0"` for values up
/// to the first bound), a registrable domain, or `""` for a counter.
/// `consenting_devices` counts devices that granted the purpose and are not
/// child profiles.
///
/// `activity` holds, per `activity` metric and region, what its releases
/// estimate, counted in devices from each device's own days of use and
/// nothing of the SDK's flags (see [`ActivityCounts`]). In `eligible` a
/// device's days are those it could report (as for the cells) and its
/// install is its first such day, as the SDK's memory has it; in `all`,
/// every day it was used and its first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroundTruth {
    /// [`TRUTH_FORMAT`].
    pub format: u32,
    /// The schema's id.
    pub schema: String,
    /// The schema's version.
    pub schema_version: u32,
    /// The run's seed.
    pub seed: u64,
    /// The first simulated day, `YYYY-MM-DD`.
    pub start: String,
    /// How many days were simulated.
    pub days: u32,
    /// How many devices were simulated.
    pub devices: u64,
    /// Devices per region.
    pub devices_by_region: BTreeMap<String, u64>,
    /// Devices with a child profile.
    pub child_devices: u64,
    /// Per purpose: devices that granted it and are not child profiles.
    pub consenting_devices: BTreeMap<String, u64>,
    /// Per metric: what a reader needs to interpret its cells.
    pub metrics: BTreeMap<String, TruthMetric>,
    /// region → day → metric → canonical dimensions → group.
    pub cells: TruthCells,
    /// Activity metric → region → the devices its releases count.
    #[serde(default)]
    pub activity: BTreeMap<String, BTreeMap<String, ActivityTruth>>,
}

/// The true figures of one activity metric in one region, in both
/// versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivityTruth {
    /// Every device and every day it was used.
    pub all: ActivityCounts,
    /// The days a device could report (consent, no child profile, the
    /// metric not expired); install = its first such day.
    pub eligible: ActivityCounts,
}

/// Devices counted from their days of use. Every simulated day is listed
/// in `daily` and `new` (0 when none), every ISO week and month that
/// overlaps the run in `weekly` and `monthly` (a week or month cut by the
/// run's first or last day counts its simulated days only, which is what a
/// release of it counts: the simulated devices do nothing outside the run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivityCounts {
    /// Day (`YYYY-MM-DD`) → devices used that day.
    pub daily: BTreeMap<String, u64>,
    /// Day → devices whose first day of use it was (installs).
    pub new: BTreeMap<String, u64>,
    /// ISO week (`YYYY-Www`) → devices used on at least one of its days.
    pub weekly: BTreeMap<String, u64>,
    /// Month (`YYYY-MM`) → devices used on at least one of its days.
    pub monthly: BTreeMap<String, u64>,
    /// Install cohort (the ISO week of a device's first day of use) →
    /// weeks since install (0 = the install week) → devices of the cohort
    /// used in that week. Every age from 0 to the run's last week is
    /// listed for each cohort with devices; ages are not folded at the
    /// metric's `cohort_weeks` (a release's `older` cell is the sum of the
    /// ages beyond it).
    pub retention: BTreeMap<String, BTreeMap<u32, u64>>,
}

/// A metric as described in the ground truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TruthMetric {
    /// The metric type, e.g. `labeled_counter`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its purpose.
    pub purpose: String,
    /// The SDK's per-report bound.
    pub max_per_report: u64,
    /// The dimensions its rows carry.
    pub dimensions: Vec<String>,
}

/// The cells of one (region, day, metric, dimensions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TruthGroup {
    /// Everything the devices did: cell → `[sum, devices]`.
    pub all: BTreeMap<String, [u64; 2]>,
    /// What devices could report: cell → `[sum, devices]`.
    pub eligible: BTreeMap<String, [u64; 2]>,
    /// Device-days whose value went over `max_per_report` (so the SDK
    /// clamped the report): `[in all, in eligible]`. Omitted when zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub over_bound: [u64; 2],
}

fn is_zero(v: &[u64; 2]) -> bool {
    *v == [0, 0]
}

/// Which version of the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Everything the devices did.
    All,
    /// What the devices could report.
    Eligible,
}

impl GroundTruth {
    /// The sum of metric `metric` over every region, day, dimension and
    /// cell, in `version`.
    pub fn total(&self, metric: &str, version: Version) -> u64 {
        self.groups(metric)
            .flat_map(|g| match version {
                Version::All => g.all.values(),
                Version::Eligible => g.eligible.values(),
            })
            .map(|[sum, _]| sum)
            .sum()
    }

    /// Every group of `metric`, in key order.
    pub fn groups<'a>(&'a self, metric: &'a str) -> impl Iterator<Item = &'a TruthGroup> + 'a {
        self.cells
            .values()
            .flat_map(|days| days.values())
            .filter_map(move |metrics| metrics.get(metric))
            .flat_map(|dims| dims.values())
    }

    /// The JSON described on [`GroundTruth`], compact, keys sorted.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .expect("the ground truth has only string keys and integers, so it always serializes")
    }

    /// Writes [`Self::to_json`] to `path` (replacing it), ending in a newline.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        serde_json::to_writer(&mut file, self).map_err(std::io::Error::other)?;
        file.write_all(b"\n")?;
        file.flush()
    }
}

/// One device-day's values of one metric: (cell, value) pairs.
type Cells = Vec<(u32, u64)>;

/// Records one device-day as the truth sees it; a [`Sink`].
pub(crate) struct DayRecorder<'a> {
    model: &'a Model,
    /// Per metric: whether the device could report it today, outside
    /// private mode.
    reportable: Vec<bool>,
    private: bool,
    all: Vec<Cells>,
    eligible: Vec<Cells>,
}

impl<'a> DayRecorder<'a> {
    pub(crate) fn new(model: &'a Model) -> Self {
        let n = model.metrics.len();
        DayRecorder {
            model,
            reportable: vec![false; n],
            private: false,
            all: vec![Vec::new(); n],
            eligible: vec![Vec::new(); n],
        }
    }

    /// Starts a device-day.
    pub(crate) fn start(&mut self, p: &Profile, day: candor_protocol::Day) {
        for (m, mm) in self.model.metrics.iter().enumerate() {
            self.reportable[m] =
                p.granted[mm.purpose] && !p.child && !mm.metric.is_expired(day.date());
        }
        self.private = false;
    }

    fn eligible(&self, m: usize) -> bool {
        self.reportable[m]
            && (!self.private || self.model.purposes[self.model.metrics[m].purpose].private_ok)
    }

    fn add(&mut self, m: usize, cell: u32, n: u64) {
        let elig = self.eligible(m);
        for (cells, on) in [(&mut self.all[m], true), (&mut self.eligible[m], elig)] {
            if on {
                match cells.iter_mut().find(|(c, _)| *c == cell) {
                    Some((_, v)) => *v += n,
                    None => cells.push((cell, n)),
                }
            }
        }
    }

    /// The last value of the day wins (booleans, categories).
    fn set(&mut self, m: usize, cell: u32) {
        let elig = self.eligible(m);
        for (cells, on) in [(&mut self.all[m], true), (&mut self.eligible[m], elig)] {
            if on {
                cells.clear();
                cells.push((cell, 1));
            }
        }
    }

    /// Each domain once a day.
    fn insert(&mut self, m: usize, cell: u32) {
        let elig = self.eligible(m);
        for (cells, on) in [(&mut self.all[m], true), (&mut self.eligible[m], elig)] {
            if on && !cells.iter().any(|(c, _)| *c == cell) {
                cells.push((cell, 1));
            }
        }
    }

    /// Adds the device-day to `table` and clears the recorder.
    pub(crate) fn finish(&mut self, table: &mut TruthTable, p: &Profile, day_index: u32) {
        for m in 0..self.model.metrics.len() {
            if self.all[m].is_empty() {
                continue;
            }
            if self.model.metrics[m].metric.kind.cohort_weeks().is_some() {
                let log = table
                    .activity
                    .entry((p.index as u32, m as u32))
                    .or_insert_with(|| DeviceDays::new(p.region as u32));
                log.set(0, day_index);
                if !self.eligible[m].is_empty() {
                    log.set(1, day_index);
                }
            }
            let bound = self.model.metrics[m].metric.max_per_report;
            let key = (p.region as u32, day_index, m as u32, p.dims[m]);
            let group = table.groups.entry(key).or_default();
            for (version, cells) in [&mut self.all[m], &mut self.eligible[m]]
                .into_iter()
                .enumerate()
            {
                // What the SDK's bound applies to: a counter's count, the
                // total of a labeled counter or distribution, the number of
                // domains; booleans and categories always send 1.
                let amount: u64 = cells.iter().map(|(_, v)| v).sum();
                if amount > bound {
                    group.over[version] += 1;
                }
                for &(cell, v) in cells.iter().filter(|(_, v)| *v > 0) {
                    let acc = group.cells[version].entry(cell).or_default();
                    acc[0] += v;
                    acc[1] += 1;
                }
                cells.clear();
            }
        }
    }
}

impl Sink for DayRecorder<'_> {
    fn private_mode(&mut self, on: bool) {
        self.private = on;
    }
    fn counter(&mut self, m: usize, n: u64) {
        self.add(m, 0, n);
    }
    fn labeled(&mut self, m: usize, label: usize, n: u64) {
        self.add(m, label as u32, n);
    }
    fn boolean(&mut self, m: usize, value: bool) {
        self.set(m, u32::from(value));
    }
    fn active(&mut self, m: usize) {
        // Cell 0 of an activity metric is `today`: the day's active devices.
        self.set(m, 0);
    }
    fn category(&mut self, m: usize, category: usize) {
        self.set(m, category as u32);
    }
    fn sample(&mut self, m: usize, value: u64) {
        if let Some(bucket) = self.model.metrics[m].metric.bucket_index(value) {
            self.add(m, bucket as u32, 1);
        }
    }
    fn domain(&mut self, m: usize, d: usize, _url_variant: u64) {
        self.insert(m, d as u32);
    }
}

/// (region, day index, metric, interned dimensions).
type GroupKey = (u32, u32, u32, u32);

/// One group's cells while the run goes on.
#[derive(Debug, Default, Clone)]
pub(crate) struct GroupAcc {
    /// `[all, eligible]`: cell → `[sum, devices]`.
    cells: [HashMap<u32, [u64; 2]>; 2],
    over: [u64; 2],
}

/// The days one device used one activity metric: `[all, eligible]`
/// bitsets over the run's day indices.
#[derive(Debug, Clone)]
pub(crate) struct DeviceDays {
    region: u32,
    days: [Vec<u64>; 2],
}

impl DeviceDays {
    fn new(region: u32) -> Self {
        DeviceDays {
            region,
            days: [Vec::new(), Vec::new()],
        }
    }

    fn set(&mut self, version: usize, day: u32) {
        let bits = &mut self.days[version];
        let word = day as usize / 64;
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        bits[word] |= 1 << (day % 64);
    }

    /// The day indices set in `version`, ascending.
    fn iter(&self, version: usize) -> impl Iterator<Item = u32> + '_ {
        self.days[version]
            .iter()
            .enumerate()
            .flat_map(|(w, &bits)| {
                (0..64u32)
                    .filter(move |b| bits & (1 << b) != 0)
                    .map(move |b| w as u32 * 64 + b)
            })
    }

    fn union(&mut self, other: &DeviceDays) {
        for (mine, theirs) in self.days.iter_mut().zip(&other.days) {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a |= b;
            }
        }
    }
}

/// The truth accumulated by one worker; tables merge by addition (and a
/// device's days by union).
#[derive(Debug, Default, Clone)]
pub(crate) struct TruthTable {
    groups: HashMap<GroupKey, GroupAcc>,
    /// (device index, activity metric) → its days of use.
    activity: HashMap<(u32, u32), DeviceDays>,
}

impl TruthTable {
    /// Adds `other` into `self`.
    pub(crate) fn merge(&mut self, other: TruthTable) {
        for (key, group) in other.groups {
            let mine = self.groups.entry(key).or_default();
            for (version, cells) in group.cells.into_iter().enumerate() {
                for (cell, [sum, devices]) in cells {
                    let acc = mine.cells[version].entry(cell).or_default();
                    acc[0] += sum;
                    acc[1] += devices;
                }
                mine.over[version] += group.over[version];
            }
        }
        for (key, days) in other.activity {
            match self.activity.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().union(&days),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(days);
                }
            }
        }
    }

    /// The activity figures (see [`ActivityCounts`]) of a run of `days`
    /// days from `start`: activity metric → region → truth.
    pub(crate) fn activity(
        &self,
        model: &Model,
        regions: &[String],
        start: Day,
        days: u32,
    ) -> BTreeMap<String, BTreeMap<String, ActivityTruth>> {
        let day_of = |i: u32| start.add_days(i64::from(i)).unwrap_or(start);
        let dates: Vec<Day> = (0..days).map(day_of).collect();
        let weeks: Vec<IsoWeek> = dates.iter().map(|d| IsoWeek::of(*d)).collect();
        let months: Vec<Month> = dates.iter().map(|d| Month::of(*d)).collect();
        let mut out: BTreeMap<String, BTreeMap<String, ActivityTruth>> = BTreeMap::new();
        for (m, mm) in model.metrics.iter().enumerate() {
            if mm.metric.kind.cohort_weeks().is_none() {
                continue;
            }
            // Region → [all, eligible].
            let mut counts: BTreeMap<u32, [Counter; 2]> = BTreeMap::new();
            for ((_, metric), log) in &self.activity {
                if *metric != m as u32 {
                    continue;
                }
                let per_region = counts
                    .entry(log.region)
                    .or_insert_with(|| [0, 1].map(|_| Counter::new(&dates, &weeks, &months)));
                for (version, counter) in per_region.iter_mut().enumerate() {
                    counter.add(log.iter(version), &weeks, &months);
                }
            }
            let regions_out = out.entry(mm.metric.id.clone()).or_default();
            for (region, [all, eligible]) in counts {
                regions_out.insert(
                    regions[region as usize].clone(),
                    ActivityTruth {
                        all: all.into_counts(&dates, &weeks),
                        eligible: eligible.into_counts(&dates, &weeks),
                    },
                );
            }
        }
        out
    }

    /// The named, sorted cells: region → day → metric → dimensions → group.
    pub(crate) fn into_cells(
        self,
        model: &Model,
        regions: &[String],
        days: &[String],
        dims: &[String],
    ) -> TruthCells {
        let mut out: BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<String, _>>>> =
            BTreeMap::new();
        for ((region, day, m, dim), group) in self.groups {
            let name = |cells: HashMap<u32, [u64; 2]>| -> BTreeMap<String, [u64; 2]> {
                cells
                    .into_iter()
                    .map(|(cell, acc)| (model.cell_name(m as usize, cell), acc))
                    .collect()
            };
            let [all, eligible] = group.cells;
            let named = TruthGroup {
                all: name(all),
                eligible: name(eligible),
                over_bound: group.over,
            };
            out.entry(regions[region as usize].clone())
                .or_default()
                .entry(days[day as usize].clone())
                .or_default()
                .entry(model.metrics[m as usize].metric.id.clone())
                .or_default()
                .insert(dims[dim as usize].clone(), named);
        }
        out
    }
}

/// Activity figures while they are counted: per day index, week and month.
struct Counter {
    daily: Vec<u64>,
    new: Vec<u64>,
    weekly: BTreeMap<IsoWeek, u64>,
    monthly: BTreeMap<Month, u64>,
    retention: BTreeMap<IsoWeek, BTreeMap<u32, u64>>,
}

impl Counter {
    /// Zeros for every day, week and month of the run.
    fn new(dates: &[Day], weeks: &[IsoWeek], months: &[Month]) -> Self {
        Counter {
            daily: vec![0; dates.len()],
            new: vec![0; dates.len()],
            weekly: weeks.iter().map(|w| (*w, 0)).collect(),
            monthly: months.iter().map(|m| (*m, 0)).collect(),
            retention: BTreeMap::new(),
        }
    }

    /// Counts one device used on `days` (ascending day indices).
    fn add(&mut self, days: impl Iterator<Item = u32>, weeks: &[IsoWeek], months: &[Month]) {
        let mut install: Option<IsoWeek> = None;
        let (mut last_week, mut last_month) = (None, None);
        for d in days {
            let d = d as usize;
            let (week, month) = (weeks[d], months[d]);
            self.daily[d] += 1;
            let cohort = *install.get_or_insert_with(|| {
                self.new[d] += 1;
                week
            });
            if last_week != Some(week) {
                *self.weekly.entry(week).or_default() += 1;
                let age = u32::try_from(week.weeks_since(cohort)).unwrap_or(0);
                *self
                    .retention
                    .entry(cohort)
                    .or_default()
                    .entry(age)
                    .or_default() += 1;
                last_week = Some(week);
            }
            if last_month != Some(month) {
                *self.monthly.entry(month).or_default() += 1;
                last_month = Some(month);
            }
        }
    }

    /// Named counts, every age of each cohort up to the run's last week.
    fn into_counts(self, dates: &[Day], weeks: &[IsoWeek]) -> ActivityCounts {
        let by_day = |v: Vec<u64>| -> BTreeMap<String, u64> {
            dates.iter().map(|d| d.to_string()).zip(v).collect()
        };
        let last_week = weeks.last().copied();
        ActivityCounts {
            daily: by_day(self.daily),
            new: by_day(self.new),
            weekly: self
                .weekly
                .into_iter()
                .map(|(w, n)| (w.to_string(), n))
                .collect(),
            monthly: self
                .monthly
                .into_iter()
                .map(|(m, n)| (m.to_string(), n))
                .collect(),
            retention: self
                .retention
                .into_iter()
                .map(|(cohort, ages)| {
                    let oldest = last_week.map_or(0, |w| w.weeks_since(cohort).max(0) as u32);
                    let row = (0..=oldest)
                        .map(|age| (age, ages.get(&age).copied().unwrap_or(0)))
                        .collect();
                    (cohort.to_string(), row)
                })
                .collect(),
        }
    }
}

/// How the ground truth describes metric `kind`.
pub(crate) fn describe(metric: &candor_schema::Metric) -> TruthMetric {
    TruthMetric {
        kind: metric.type_name().to_owned(),
        purpose: metric.purpose.clone(),
        max_per_report: metric.per_report_bound(),
        dimensions: metric.dimensions.clone(),
    }
}
