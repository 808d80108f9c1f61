//! The ground truth: what the devices really did, aggregated the way the
//! collector keys its rows, before and after consent and privacy.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::model::{Model, Profile, Sink};

/// The cells of a [`GroundTruth`]: region → day (`YYYY-MM-DD`) → metric →
/// canonical dimensions → group.
pub type TruthCells =
    BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<String, TruthGroup>>>>;

/// The version of the ground-truth JSON written by [`GroundTruth::write_json`].
pub const TRUTH_FORMAT: u32 = 1;

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
/// for metrics without local DP. Nothing is kept per device.
///
/// The JSON (`--truth FILE`) has this shape, every map sorted by key:
///
/// ```json
/// {
///   "format": 1,
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

/// The truth accumulated by one worker; tables merge by addition.
#[derive(Debug, Default, Clone)]
pub(crate) struct TruthTable {
    groups: HashMap<GroupKey, GroupAcc>,
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

/// How the ground truth describes metric `kind`.
pub(crate) fn describe(metric: &candor_schema::Metric) -> TruthMetric {
    TruthMetric {
        kind: metric.type_name().to_owned(),
        purpose: metric.purpose.clone(),
        max_per_report: metric.per_report_bound(),
        dimensions: metric.dimensions.clone(),
    }
}
