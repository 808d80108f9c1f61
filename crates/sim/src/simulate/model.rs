//! The usage model: who the devices are and what they do each day.
//!
//! Everything is a function of the run's seed: a device's profile of
//! (seed, device index), its day of (seed, device index, day index), so the
//! same configuration replays the same fleet whatever the thread count.
//!
//! A device has a stable profile: region, raw dimension values (platform,
//! app and OS versions, coarsened later by the SDK and by [`Model::dims`]
//! exactly as the SDK would), consent per purpose, a child-profile flag, an
//! activity level (log-normal: most devices light, a few heavy), an
//! instability (how crash-prone it is), a network speed factor, a
//! propensity for private browsing, and per-metric state (its settings,
//! its favourite apps, its storage use).
//!
//! It also has a [`Lifecycle`] (its own stream): a daily-use probability
//! (engagement), the day it is installed (before the run, or on a day of
//! it) and the day it is abandoned. Each day of its installed life it is
//! used with its engagement, a little less at weekends (and always on the
//! day it is installed during the run); on an active day it records the day-level metrics (settings, app opens,
//! crashes, storage) outside private mode, then browses in sessions (more at
//! weekends), a share of them in private mode. A session has a length in
//! minutes, tabs and bookmarks, and page loads; a page load has a domain
//! (Zipf over a few thousand synthetic registrable domains), a load time
//! (log-normal, slower on slow networks and slow sites), and a slow load
//! lands in a `domain_set` of slow sites.
//!
//! Metrics are driven by type, so every metric of any schema is exercised;
//! the flavour within a type comes from words in the metric's id (see
//! [`Behaviour`]).

use std::collections::{BTreeMap, HashMap};

use candor_protocol::Day;
use candor_schema::{DimensionRule, Metric, MetricKind, Schema};

use super::rng::{Rng, cumulative, mix};

mod behaviour;
mod domains;

pub(crate) use behaviour::Behaviour;
use behaviour::{
    APP_VERSIONS, classify, label_weekend, label_weight, os_versions, platform_weight, zipf,
};
pub(crate) use domains::Domains;

/// Load time (ms) above which a page counts as slow for a `slow` domain set.
const SLOW_PAGE_MS: u64 = 8_000;

/// The fleet's mean daily-use probability (weekdays) of an installed
/// device, and the concentration of its Beta distribution over devices:
/// 1.5 spreads it U-shaped, many people using the app most days and many
/// only now and then, which is what makes weekly and monthly active devices
/// differ from daily ones.
const ENGAGEMENT_MEAN: f64 = 0.5;
const ENGAGEMENT_CONCENTRATION: f64 = 1.5;
/// Weekend use relative to weekdays (the earlier fixed model's 82 % / 90 %).
const WEEKEND_USE: f64 = 0.82 / 0.9;
/// Share of the fleet installed during the run (on a day drawn uniformly
/// over the run's days, and used that day); the others are installed before
/// it and used from its first day on.
const ARRIVING_SHARE: f64 = 0.3;
/// Share of the devices installed during the run that are only tried:
/// abandoned after an exponentially distributed few days (mean
/// [`TRIAL_MEAN_DAYS`]), which is what makes retention fall in the first
/// weeks after install.
const TRIAL_SHARE: f64 = 0.35;
const TRIAL_MEAN_DAYS: f64 = 7.0;
/// Daily probability that any device is abandoned for good (≈ 20 % over
/// eight weeks).
const CHURN_PER_DAY: f64 = 0.004;
/// The stream of a device's [`Lifecycle`] (day streams use the day index,
/// profiles `u64::MAX`).
const LIFECYCLE_STREAM: u64 = u64::MAX - 1;

/// One metric of the schema and how it is driven.
#[derive(Debug, Clone)]
pub(crate) struct MetricModel {
    pub(crate) metric: Metric,
    /// Index into [`Model::purposes`].
    pub(crate) purpose: usize,
    pub(crate) behaviour: Behaviour,
    /// Base popularity of each label (labeled counters).
    label_weights: Vec<f64>,
    /// Weekend multiplier of each label (labeled counters).
    label_weekend: Vec<f64>,
}

/// A purpose of the schema.
#[derive(Debug, Clone)]
pub(crate) struct PurposeModel {
    pub(crate) id: String,
    pub(crate) private_ok: bool,
}

/// How a dimension's raw value is drawn.
#[derive(Debug, Clone)]
enum DimModel {
    /// A closed set: skewed shares (platform shares for known platforms).
    Values {
        id: String,
        values: Vec<String>,
        cdf: Vec<f64>,
    },
    /// An app version string, coarsened to major.minor by the SDK.
    AppVersion { id: String },
    /// An OS version string, per platform when the device has one.
    OsVersion { id: String },
}

/// Fleet-wide parameters of the profiles.
#[derive(Debug, Clone)]
pub(crate) struct Fleet {
    /// Days of the run: devices installed during it arrive on one of them.
    pub(crate) days: u32,
    /// Cumulative device share of each configured region.
    pub(crate) region_cdf: Vec<f64>,
    /// Grant rate of each purpose of [`Model::purposes`].
    pub(crate) consent: Vec<f64>,
    pub(crate) private_share: f64,
    pub(crate) child_share: f64,
}

/// A device's per-metric state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State {
    None,
    /// A boolean setting.
    Flag(bool),
    /// Daily probability of a boolean state.
    Propensity(f64),
    /// A chosen category.
    Choice(u32),
    /// Favourite labels: weight per label.
    Prefs(Vec<f64>),
    /// A level that grows slowly (storage).
    Level(f64),
}

/// When a device is in use: drawn once per device from its own stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lifecycle {
    /// Probability of use on a weekday while installed (× [`WEEKEND_USE`]
    /// at weekends).
    pub(crate) engagement: f64,
    /// The first day index it can be used on.
    pub(crate) arrival: u32,
    /// Whether it is installed during the run: then it is used on its
    /// arrival day (that is what installing it is for).
    pub(crate) arrives: bool,
    /// The first day index it is no longer used on (abandoned);
    /// `u32::MAX` when that is not within reach.
    pub(crate) churn: u32,
}

impl Lifecycle {
    /// A device installed before the run, never abandoned, used on 90 % of
    /// weekdays and 82 % of weekend days: the steady use the report-arrival
    /// measurement ([`super::arrival`]) is defined for.
    pub(crate) const STEADY: Lifecycle = Lifecycle {
        engagement: 0.9,
        arrival: 0,
        arrives: false,
        churn: u32::MAX,
    };

    /// Whether day `index` is within the device's installed life.
    fn installed(&self, index: u32) -> bool {
        index >= self.arrival && index < self.churn
    }
}

/// A device: stable over the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Profile {
    pub(crate) index: usize,
    /// Index into the configured regions.
    pub(crate) region: usize,
    /// Raw dimension values, as the app would pass them to the SDK.
    pub(crate) dims_raw: BTreeMap<String, String>,
    /// Per metric: the interned canonical dimensions its rows carry.
    pub(crate) dims: Vec<u32>,
    /// Per purpose of [`Model::purposes`]: whether the user granted it.
    pub(crate) granted: Vec<bool>,
    pub(crate) child: bool,
    /// When it is used at all (installed, abandoned, how often).
    pub(crate) life: Lifecycle,
    pub(crate) activity: f64,
    pub(crate) instability: f64,
    pub(crate) network: f64,
    /// Probability that a browsing session is private.
    pub(crate) private_p: f64,
    pub(crate) state: Vec<State>,
}

/// Canonical dimension strings, interned.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    ids: HashMap<String, u32>,
    pub(crate) names: Vec<String>,
}

impl Interner {
    fn intern(&mut self, s: String) -> u32 {
        if let Some(&i) = self.ids.get(&s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(s.clone(), i);
        self.names.push(s);
        i
    }
}

/// One simulated day.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DayCtx {
    /// 0 for the first simulated day.
    pub(crate) index: u32,
    pub(crate) day: Day,
    pub(crate) weekend: bool,
}

impl DayCtx {
    pub(crate) fn new(index: u32, day: Day) -> Self {
        // 1970-01-01 (day number 0) was a Thursday (3 with Monday = 0).
        let weekday = (day.number() + 3).rem_euclid(7);
        DayCtx {
            index,
            day,
            weekend: weekday >= 5,
        }
    }
}

/// What a device's day came to (for the summary).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DayOutcome {
    pub(crate) active: bool,
    pub(crate) sessions: u64,
    pub(crate) private_sessions: u64,
}

/// Where a simulated day's actions go: the SDK, the ground truth, or both.
pub(crate) trait Sink {
    /// App-wide private mode on or off.
    fn private_mode(&mut self, on: bool);
    /// Adds `n` (> 0) to counter `m`.
    fn counter(&mut self, m: usize, n: u64);
    /// Adds `n` (> 0) to label `label` of labeled counter `m`.
    fn labeled(&mut self, m: usize, label: usize, n: u64);
    /// Sets boolean `m`.
    fn boolean(&mut self, m: usize, value: bool);
    /// Sets category `m` to its `category`-th value.
    fn category(&mut self, m: usize, category: usize);
    /// Counts one sample of distribution `m`.
    fn sample(&mut self, m: usize, value: u64);
    /// Visits domain `d` (index into [`Domains::names`]) for domain set `m`,
    /// through a page URL of that domain.
    fn domain(&mut self, m: usize, d: usize, url_variant: u64);
    /// Says activity metric `m`'s app is in use today. Sinks without an
    /// activity memory (the offline usage values) leave it out.
    fn active(&mut self, m: usize) {
        let _ = m;
    }
}

/// Both sinks, in order.
pub(crate) struct Tee<'a, A: Sink, B: Sink>(pub(crate) &'a mut A, pub(crate) &'a mut B);

impl<A: Sink, B: Sink> Sink for Tee<'_, A, B> {
    fn private_mode(&mut self, on: bool) {
        self.0.private_mode(on);
        self.1.private_mode(on);
    }
    fn counter(&mut self, m: usize, n: u64) {
        self.0.counter(m, n);
        self.1.counter(m, n);
    }
    fn labeled(&mut self, m: usize, label: usize, n: u64) {
        self.0.labeled(m, label, n);
        self.1.labeled(m, label, n);
    }
    fn boolean(&mut self, m: usize, value: bool) {
        self.0.boolean(m, value);
        self.1.boolean(m, value);
    }
    fn category(&mut self, m: usize, category: usize) {
        self.0.category(m, category);
        self.1.category(m, category);
    }
    fn sample(&mut self, m: usize, value: u64) {
        self.0.sample(m, value);
        self.1.sample(m, value);
    }
    fn domain(&mut self, m: usize, d: usize, url_variant: u64) {
        self.0.domain(m, d, url_variant);
        self.1.domain(m, d, url_variant);
    }
    fn active(&mut self, m: usize) {
        self.0.active(m);
        self.1.active(m);
    }
}

/// The usage model of one schema.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) metrics: Vec<MetricModel>,
    pub(crate) purposes: Vec<PurposeModel>,
    pub(crate) domains: Domains,
    dims: Vec<DimModel>,
    /// The schema's dimensions, for coarsening as the SDK does.
    schema_dims: BTreeMap<String, candor_schema::Dimension>,
    day_metrics: Vec<usize>,
    session_metrics: Vec<usize>,
    page_metrics: Vec<usize>,
    seed: u64,
}

impl Model {
    /// The model of `schema`; `seed` fixes the synthetic web.
    pub(crate) fn new(schema: &Schema, seed: u64) -> Self {
        let purposes: Vec<PurposeModel> = schema
            .purposes
            .values()
            .map(|p| PurposeModel {
                id: p.id.clone(),
                private_ok: p.allowed_in_private_mode,
            })
            .collect();
        let metrics: Vec<MetricModel> = schema
            .metrics
            .values()
            .filter_map(|metric| {
                let purpose = purposes.iter().position(|p| p.id == metric.purpose)?;
                let labels = match &metric.kind {
                    MetricKind::LabeledCounter { labels } => labels.as_slice(),
                    _ => &[],
                };
                let all_known = labels.iter().all(|l| label_weight(l).is_some());
                let label_weights = labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| match label_weight(l) {
                        Some(w) if all_known => w,
                        _ => zipf(i),
                    })
                    .collect();
                Some(MetricModel {
                    behaviour: classify(metric),
                    metric: metric.clone(),
                    purpose,
                    label_weights,
                    label_weekend: labels.iter().map(|l| label_weekend(l)).collect(),
                })
            })
            .collect();
        let mut day_metrics = Vec::new();
        let mut session_metrics = Vec::new();
        let mut page_metrics = Vec::new();
        for (m, mm) in metrics.iter().enumerate() {
            match mm.behaviour {
                Behaviour::PerSession { .. } | Behaviour::SessionMinutes => session_metrics.push(m),
                Behaviour::PageLoadMs | Behaviour::SlowDomains | Behaviour::VisitedDomains => {
                    page_metrics.push(m)
                }
                Behaviour::Unsupported => {}
                _ => day_metrics.push(m),
            }
        }
        let mut dims: Vec<DimModel> = Vec::new();
        for d in schema.dimensions.values() {
            let id = d.id.clone();
            match &d.rule {
                DimensionRule::Values(values) if !values.is_empty() => {
                    let all_known = values.iter().all(|v| platform_weight(v).is_some());
                    let cdf = cumulative(values.iter().enumerate().map(|(i, v)| {
                        match platform_weight(v) {
                            Some(w) if all_known => w,
                            _ => zipf(i),
                        }
                    }));
                    dims.push(DimModel::Values {
                        id,
                        values: values.clone(),
                        cdf,
                    });
                }
                DimensionRule::MajorMinor => dims.push(DimModel::AppVersion { id }),
                DimensionRule::Major => dims.push(DimModel::OsVersion { id }),
                _ => {}
            }
        }
        // Closed sets first, so an OS version can follow the platform.
        dims.sort_by_key(|d| !matches!(d, DimModel::Values { .. }));
        Model {
            metrics,
            purposes,
            domains: Domains::new(seed),
            dims,
            schema_dims: schema.dimensions.clone(),
            day_metrics,
            session_metrics,
            page_metrics,
            seed,
        }
    }

    /// The canonical dimensions of metric `m`'s rows for a device with
    /// these raw values: coarsened by the schema's rules (as the SDK does at
    /// open), only those the metric declares, `id=value` sorted by id and
    /// joined with `,` (as the collector keys its rows).
    pub(crate) fn dims(&self, m: usize, raw: &BTreeMap<String, String>) -> String {
        let metric = &self.metrics[m].metric;
        raw.iter()
            .filter(|(id, _)| metric.dimensions.contains(id))
            .filter_map(|(id, v)| {
                let coarse = self.schema_dims.get(id)?.coarsen(v)?;
                Some(format!("{id}={coarse}"))
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The profile of device `index`.
    pub(crate) fn profile(&self, index: usize, fleet: &Fleet, interner: &mut Interner) -> Profile {
        let mut rng = Rng::new(mix(mix(self.seed, index as u64), u64::MAX));
        let region = rng.pick(&fleet.region_cdf);
        let child = rng.chance(fleet.child_share);
        // Consent decisions are correlated: a shared attitude decides 60 %
        // of them, so people who allow the sensitive purpose mostly allow
        // the others too. Each purpose's marginal rate stays as configured.
        let attitude = rng.unit();
        let granted = fleet
            .consent
            .iter()
            .map(|&rate| {
                let u = if rng.chance(0.6) {
                    attitude
                } else {
                    rng.unit()
                };
                u < rate
            })
            .collect();
        let activity = rng.lognormal(1.0, 0.7).clamp(0.05, 12.0);
        let instability = rng.lognormal(1.0, 0.9).clamp(0.05, 30.0);
        let network = rng.lognormal(1.0, 0.35);
        // Most people rarely browse privately, a few mostly do: Beta with
        // the configured mean and concentration 2.
        let private_p = rng.beta_mean(fleet.private_share, 2.0);
        let mut dims_raw = BTreeMap::new();
        let mut platform: Option<String> = None;
        for d in &self.dims {
            match d {
                DimModel::Values { id, values, cdf } => {
                    let v = values[rng.pick(cdf)].clone();
                    if platform.is_none() && platform_weight(&v).is_some() {
                        platform = Some(v.clone());
                    }
                    dims_raw.insert(id.clone(), v);
                }
                DimModel::AppVersion { id } => {
                    let table = cumulative(APP_VERSIONS.iter().map(|(_, w)| *w));
                    dims_raw.insert(id.clone(), APP_VERSIONS[rng.pick(&table)].0.to_owned());
                }
                DimModel::OsVersion { id } => {
                    let versions = os_versions(platform.as_deref());
                    let table = cumulative(versions.iter().map(|(_, w)| *w));
                    dims_raw.insert(id.clone(), versions[rng.pick(&table)].0.to_owned());
                }
            }
        }
        let state = self
            .metrics
            .iter()
            .map(|mm| match &mm.behaviour {
                Behaviour::Setting { p_true } => State::Flag(rng.chance(*p_true)),
                // Most people rarely use battery saver, a fifth often.
                Behaviour::DailyState => {
                    State::Propensity(if rng.chance(0.2) { 0.5 } else { 0.04 })
                }
                Behaviour::Choice { cdf } => State::Choice(rng.pick(cdf) as u32),
                Behaviour::PerDay { .. } if !mm.label_weights.is_empty() => State::Prefs(
                    mm.label_weights
                        .iter()
                        .map(|w| w * rng.lognormal(1.0, 0.6))
                        .collect(),
                ),
                Behaviour::DailyLevel { median } => State::Level(rng.lognormal(*median, 0.6)),
                _ => State::None,
            })
            .collect();
        let dims = (0..self.metrics.len())
            .map(|m| interner.intern(self.dims(m, &dims_raw)))
            .collect();
        Profile {
            index,
            region,
            dims_raw,
            dims,
            granted,
            child,
            life: self.lifecycle(index, fleet.days),
            activity,
            instability,
            network,
            private_p,
            state,
        }
    }

    /// The lifecycle of device `index` in a run of `days` days: its
    /// engagement (Beta with mean [`ENGAGEMENT_MEAN`]), whether it arrives
    /// during the run ([`ARRIVING_SHARE`]) and on which day, and when it is
    /// abandoned (a trial of a few days for [`TRIAL_SHARE`] of the arriving
    /// devices, else [`CHURN_PER_DAY`]).
    pub(crate) fn lifecycle(&self, index: usize, days: u32) -> Lifecycle {
        let mut rng = Rng::new(mix(mix(self.seed, index as u64), LIFECYCLE_STREAM));
        let engagement = rng.beta_mean(ENGAGEMENT_MEAN, ENGAGEMENT_CONCENTRATION);
        let arrives = rng.chance(ARRIVING_SHARE);
        let arrival = if arrives {
            rng.below(days.max(1) as usize) as u32
        } else {
            0
        };
        let lifetime = if arrives && rng.chance(TRIAL_SHARE) {
            // At least the day of install.
            1.0 + (-TRIAL_MEAN_DAYS * (1.0 - rng.unit()).ln()).floor()
        } else {
            // Geometric: whole days survived at CHURN_PER_DAY.
            ((1.0 - rng.unit()).ln() / (1.0 - CHURN_PER_DAY).ln()).floor() + 1.0
        };
        let churn = (f64::from(arrival) + lifetime).min(f64::from(u32::MAX)) as u32;
        Lifecycle {
            engagement,
            arrival,
            arrives,
            churn,
        }
    }

    /// Whether device `index` with lifecycle `life` is used on `ctx`'s day,
    /// and the rest of its day's random stream: the first draw of the
    /// stream decides it (drawn whether or not the device is installed, so
    /// the rest of the stream does not depend on the lifecycle).
    fn day_start(&self, index: usize, life: &Lifecycle, ctx: DayCtx) -> (bool, Rng) {
        let mut rng = Rng::new(mix(mix(self.seed, index as u64), u64::from(ctx.index)));
        let p = life.engagement * if ctx.weekend { WEEKEND_USE } else { 1.0 };
        let u = rng.unit();
        let installed = life.installed(ctx.index);
        let active = installed && ((life.arrives && ctx.index == life.arrival) || u < p);
        (active, rng)
    }

    /// Whether device `index` with lifecycle `life` is used on `ctx`'s day
    /// (the same decision [`Model::day`] makes for its profile).
    pub(crate) fn active(&self, index: usize, life: &Lifecycle, ctx: DayCtx) -> bool {
        self.day_start(index, life, ctx).0
    }

    /// Plays device `p`'s day `ctx` into `sink`.
    pub(crate) fn day(&self, p: &Profile, ctx: DayCtx, sink: &mut impl Sink) -> DayOutcome {
        let (active, mut rng) = self.day_start(p.index, &p.life, ctx);
        let mut outcome = DayOutcome::default();
        if !active {
            return outcome;
        }
        outcome.active = true;
        let activity = p.activity * if ctx.weekend { 1.1 } else { 1.0 };
        let mut weights = Vec::new();
        for &m in &self.day_metrics {
            let mm = &self.metrics[m];
            match (&mm.behaviour, &p.state[m]) {
                (Behaviour::Setting { .. }, State::Flag(on)) => sink.boolean(m, *on),
                (Behaviour::DailyState, State::Propensity(q)) => sink.boolean(m, rng.chance(*q)),
                (Behaviour::RareFlag { p: base }, _) => {
                    sink.boolean(m, rng.chance(base * p.instability));
                }
                (Behaviour::Choice { .. }, State::Choice(c)) => sink.category(m, *c as usize),
                (Behaviour::Active, _) => sink.active(m),
                (Behaviour::PerDay { mean, failure }, state) => {
                    let scale = if *failure { p.instability } else { activity };
                    let n = rng.poisson(mean * scale);
                    match (&mm.metric.kind, state) {
                        (MetricKind::LabeledCounter { .. }, State::Prefs(prefs)) => {
                            weights.clear();
                            weights.extend(
                                prefs
                                    .iter()
                                    .zip(&mm.label_weekend)
                                    .map(|(w, f)| if ctx.weekend { w * f } else { *w }),
                            );
                            let cdf = cumulative(weights.iter().copied());
                            // One call per event, as an app would make them.
                            for _ in 0..n {
                                sink.labeled(m, rng.pick(&cdf), 1);
                            }
                        }
                        (MetricKind::Counter, _) if n > 0 => sink.counter(m, n),
                        _ => {}
                    }
                }
                (Behaviour::DailyLevel { .. }, State::Level(level)) => {
                    let grown = level * (1.0 + 0.003 * f64::from(ctx.index));
                    sink.sample(m, grown.round().max(0.0) as u64);
                }
                (Behaviour::Samples { median }, _) => {
                    for _ in 0..rng.poisson(3.0 * activity) {
                        sink.sample(m, rng.lognormal(*median, 1.0).round().max(0.0) as u64);
                    }
                }
                _ => {}
            }
        }
        if self.session_metrics.is_empty() && self.page_metrics.is_empty() {
            return outcome;
        }
        let sessions = rng.poisson(2.5 * activity * if ctx.weekend { 1.2 } else { 1.0 });
        for _ in 0..sessions {
            let private = rng.chance(p.private_p);
            outcome.sessions += 1;
            if private {
                outcome.private_sessions += 1;
                sink.private_mode(true);
            }
            let minutes = rng.lognormal(6.0, 1.0).clamp(1.0, 720.0).round();
            for &m in &self.session_metrics {
                match self.metrics[m].behaviour {
                    Behaviour::SessionMinutes => sink.sample(m, minutes as u64),
                    Behaviour::PerSession { base, per_minute } => {
                        let n = rng.poisson(base + per_minute * minutes);
                        if n > 0 {
                            sink.counter(m, n);
                        }
                    }
                    _ => {}
                }
            }
            if !self.page_metrics.is_empty() && !self.domains.names.is_empty() {
                let pages = rng.poisson(1.0 + 0.6 * minutes).min(400);
                for _ in 0..pages {
                    let d = rng.pick(&self.domains.cdf);
                    let median = 1_000.0 * p.network * self.domains.slowness[d];
                    let ms = rng.lognormal(median, 0.9).round().clamp(1.0, 600_000.0) as u64;
                    let variant = rng.below(1 << 20) as u64;
                    for &m in &self.page_metrics {
                        match self.metrics[m].behaviour {
                            Behaviour::PageLoadMs => sink.sample(m, ms),
                            Behaviour::SlowDomains if ms > SLOW_PAGE_MS => {
                                sink.domain(m, d, variant)
                            }
                            Behaviour::VisitedDomains => sink.domain(m, d, variant),
                            _ => {}
                        }
                    }
                }
            }
            if private {
                sink.private_mode(false);
            }
        }
        outcome
    }

    /// The name of cell `cell` of metric `m`, as the collector keys its
    /// rows: a label, a category, `true`/`false`, a bucket index, a domain,
    /// or empty for a counter.
    pub(crate) fn cell_name(&self, m: usize, cell: u32) -> String {
        let i = cell as usize;
        let kind = &self.metrics[m].metric.kind;
        if kind.has_open_cells() {
            return self.domains.names.get(i).cloned().unwrap_or_default();
        }
        kind.cell_name(i).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
