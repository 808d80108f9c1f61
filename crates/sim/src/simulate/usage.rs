//! The usage model offline: the simulator's devices and their days as
//! metric values, without SDK instances, files or a collector.
//!
//! [`run`](super::run) plays the model into real SDKs; this plays the same
//! model (the same profiles and days for a seed, see the module docs of
//! [`simulate`](super)) into plain [`MetricValue`]s, one per metric and
//! device-day, as the SDK would hold them when the day ends: before it
//! clamps them ([`candor_values::clamp`]) and randomizes local-DP ones
//! ([`candor_sdk::local_dp_answer`]). Tools that need millions of
//! device-days (the accuracy study, `bench/accuracy`) build their reports
//! from these values with those same functions.
//!
//! Every device is in one region, grants every purpose and has no child
//! profile. Private browsing follows the model's `private_share`; what a
//! device records in private mode is dropped for purposes not allowed
//! there, as the SDK does.
//!
//! ```
//! use candor_protocol::Day;
//! use candor_sim::simulate::usage::Usage;
//!
//! let schema = candor_schema::load("../../examples/browser.toml")?.schema;
//! let mut usage = Usage::new(&schema, 1, 0.0, 7);
//! let device = usage.device(0);
//! let day = usage.day(&device, 0, Day::from_ymd(2026, 11, 23).expect("a day"));
//! assert_eq!(day.len(), usage.metrics().count());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use candor_protocol::{Day, MetricValue};
use candor_schema::{Metric, Schema};

use super::model::{DayCtx, Fleet, Interner, Model, Profile, Sink};

/// The usage model of one schema, for offline use.
#[derive(Debug, Clone)]
pub struct Usage {
    model: Model,
    fleet: Fleet,
    interner: Interner,
    schema_dims: BTreeMap<String, candor_schema::Dimension>,
}

/// One device of a [`Usage`]: stable over the run.
#[derive(Debug, Clone)]
pub struct UsageDevice {
    profile: Profile,
    /// The dimension values as the SDK records them (coarsened).
    dimensions: BTreeMap<String, String>,
}

impl UsageDevice {
    /// The device's index (its place in the fleet).
    pub fn index(&self) -> usize {
        self.profile.index
    }

    /// The dimension values its reports carry, coarsened by the schema's
    /// rules as the SDK does (each report keeps only those its metrics
    /// declare).
    pub fn dimensions(&self) -> &BTreeMap<String, String> {
        &self.dimensions
    }
}

impl Usage {
    /// The usage model of `schema` for `seed`, with `private_share` the
    /// average share of browsing sessions in private mode, in [0, 1], for a
    /// run of `days` days (devices installed during the run arrive on one
    /// of them).
    pub fn new(schema: &Schema, seed: u64, private_share: f64, days: u32) -> Self {
        let model = Model::new(schema, seed);
        let fleet = Fleet {
            days,
            region_cdf: vec![1.0],
            consent: vec![1.0; model.purposes.len()],
            private_share,
            child_share: 0.0,
        };
        Usage {
            model,
            fleet,
            interner: Interner::default(),
            schema_dims: schema.dimensions.clone(),
        }
    }

    /// The metrics the model drives, in schema (id) order: the index of a
    /// metric here is its index in [`Usage::day`]'s values.
    pub fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.model.metrics.iter().map(|m| &m.metric)
    }

    /// Device `index` (the same profile for the same seed and index).
    pub fn device(&mut self, index: usize) -> UsageDevice {
        let profile = self.model.profile(index, &self.fleet, &mut self.interner);
        let dimensions = profile
            .dims_raw
            .iter()
            .filter_map(|(id, raw)| {
                let coarse = self.schema_dims.get(id)?.coarsen(raw)?;
                Some((id.clone(), coarse))
            })
            .collect();
        UsageDevice {
            profile,
            dimensions,
        }
    }

    /// What `device` recorded on day `day`, the `index`-th simulated day
    /// (0 for the first): per metric of [`Usage::metrics`], the day's value
    /// as the SDK holds it at the end of the day, before clamping and
    /// randomizing, or `None` when nothing was recorded (every value is
    /// `None` on a day the device is not used).
    pub fn day(&self, device: &UsageDevice, index: u32, day: Day) -> Vec<Option<MetricValue>> {
        let mut recorder = ValueRecorder {
            model: &self.model,
            private: false,
            values: vec![None; self.model.metrics.len()],
        };
        self.model
            .day(&device.profile, DayCtx::new(index, day), &mut recorder);
        recorder.values
    }
}

/// Records a device-day as metric values; a [`Sink`].
struct ValueRecorder<'a> {
    model: &'a Model,
    private: bool,
    values: Vec<Option<MetricValue>>,
}

impl ValueRecorder<'_> {
    /// The value of metric `m`, unless private mode drops what it records.
    fn value(&mut self, m: usize) -> Option<(&Metric, &mut Option<MetricValue>)> {
        let mm = &self.model.metrics[m];
        if self.private && !self.model.purposes[mm.purpose].private_ok {
            return None;
        }
        Some((&mm.metric, &mut self.values[m]))
    }
}

impl Sink for ValueRecorder<'_> {
    fn private_mode(&mut self, on: bool) {
        self.private = on;
    }

    fn counter(&mut self, m: usize, n: u64) {
        if let Some((_, value)) = self.value(m) {
            let total = match value {
                Some(MetricValue::Counter(c)) => c.saturating_add(n),
                _ => n,
            };
            *value = Some(MetricValue::Counter(total));
        }
    }

    fn labeled(&mut self, m: usize, label: usize, n: u64) {
        if let Some((metric, value)) = self.value(m)
            && let Some(label) = metric.closed_set().and_then(|l| l.get(label))
        {
            if !matches!(value, Some(MetricValue::LabeledCounter(_))) {
                *value = Some(MetricValue::LabeledCounter(BTreeMap::new()));
            }
            if let Some(MetricValue::LabeledCounter(map)) = value {
                let c = map.entry(label.clone()).or_default();
                *c = c.saturating_add(n);
            }
        }
    }

    fn boolean(&mut self, m: usize, on: bool) {
        if let Some((_, value)) = self.value(m) {
            *value = Some(MetricValue::Boolean(on));
        }
    }

    fn category(&mut self, m: usize, category: usize) {
        if let Some((metric, value)) = self.value(m)
            && let Some(v) = u32::try_from(category)
                .ok()
                .and_then(|i| candor_values::choice_value(metric, i))
        {
            *value = Some(v);
        }
    }

    fn sample(&mut self, m: usize, sample: u64) {
        if let Some((metric, value)) = self.value(m)
            && let (Some(buckets), Some(i)) = (metric.kind.buckets(), metric.bucket_index(sample))
        {
            if !matches!(value, Some(MetricValue::Distribution(_))) {
                *value = Some(MetricValue::Distribution(vec![0; buckets.len() + 1]));
            }
            if let Some(MetricValue::Distribution(counts)) = value {
                counts[i] += 1;
            }
        }
    }

    fn domain(&mut self, m: usize, d: usize, _url_variant: u64) {
        // The model's domains are the SDK sanitizer's own outputs (see
        // `Domains::new`), so the name is what the SDK would keep of any
        // URL on it.
        let Some(name) = self.model.domains.names.get(d).cloned() else {
            return;
        };
        if let Some((_, value)) = self.value(m) {
            if !matches!(value, Some(MetricValue::DomainSet(_))) {
                *value = Some(MetricValue::DomainSet(BTreeSet::new()));
            }
            if let Some(MetricValue::DomainSet(set)) = value {
                set.insert(name);
            }
        }
    }
}
