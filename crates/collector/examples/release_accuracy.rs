//! How close released values come to the truth: a simulated population
//! reports through the collector's own validation into a store, and the
//! release engine answers queries that are compared with the exact totals.
//!
//! ```text
//! cargo run --release -p candor-collector --example release_accuracy -- \
//!     [--devices 100000] [--days 7] [--seed 1] [--trials 20]
//! ```
//!
//! - The schema is examples/browser.toml; every device is in region `eu`.
//! - Each device has fixed dimensions (platform, app version, OS major) and
//!   habits (a heavy-tailed activity level, dark mode, text size, search
//!   engine, storage in use), and every day it sends one report per purpose
//!   (usage, diagnostics and, when it met slow sites, browsing) with the
//!   metrics it recorded that day. Popularity is skewed: app opens, crash
//!   kinds, categories and the 5 000 slow domains (Zipf, s = 1) have a few
//!   common values and a long tail.
//! - Reports are clamped to the schema's bounds and local-DP values are
//!   randomized exactly as candor-sdk's `report.rs` does (proportional
//!   flooring for labeled counters and distributions, a uniform sample of
//!   domains, `RandomizedResponse::new(ε, k).randomize(index)` with the
//!   category's position in the schema, `false` = 0 and `true` = 1, drawn
//!   once per device and true value and reused every day, as the SDK's
//!   permanent randomized response does), then
//!   go through `validate::to_delta` and `Store::commit` (on a second
//!   thread) into an in-memory SQLite store, in batches of 5 000 reports.
//! - The truth is the exact total of the values the devices reported, before
//!   any noise: after clamping (a contribution bound the schema declares),
//!   before randomized response. How much clamping removed is printed apart.
//! - Queries go through `release::release` with an all-scope token over the
//!   whole day range. Central-DP metrics are asked at ε × {0.25, 0.5, 1, 2}
//!   of the schema's ε, `--trials` times each; to allow that, region eu's
//!   ε caps (per metric and per purpose) are raised to 1 000 000 and its δ
//!   cap to 1 in the parsed schema (the TOML validator caps them at 10 and
//!   10⁻³). The budget changes no released value. Each trial's ε is the nominal ε × (1 + t·10⁻⁷), a distinct
//!   query (not a cache hit) with the same noise scale, since the engine
//!   rounds ε down to a multiple of 0.001. Local-DP metrics are answered at
//!   the devices' ε; for their ε sweep the same devices' true values are
//!   randomized again at each ε into a separate store. Then each metric is
//!   asked once more at the schema's ε, grouped by day and by every
//!   dimension it declares (small groups, where k and τ bite).
//!
//! Output: Markdown tables (BENCHMARKS.md, "Release accuracy").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use candor_collector::release::{self, Answer, Query, Scope};
use candor_collector::validate::{self, DayWindow, Registry};
use candor_privacy::ldp::RandomizedResponse;
use candor_privacy::uniform_below;
use candor_protocol::{Day, MetricValue, Report, ReportId};
use candor_schema::{Metric, MetricKind, Release, Schema};
use candor_store::sqlite::SqliteStore;
use candor_store::{ReportDelta, Store};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

const SCHEMA_SRC: &str = include_str!("../../../examples/browser.toml");
const REGION: &str = "eu";
const BATCH: usize = 5_000;
const DOMAINS: usize = 5_000;
/// The domain-set sweep also follows the error on this many most-mentioned
/// domains, a fixed set (the released set changes with ε).
const TOP_DOMAINS: usize = 50;
/// ε multipliers of the sweep; 1.0 is the schema's ε.
const SWEEP: [f64; 4] = [0.25, 0.5, 1.0, 2.0];
const PLATFORMS: [(&str, f64); 3] = [("android", 0.6), ("ios", 0.3), ("exampleos", 0.1)];
const APP_VERSIONS: [(&str, f64); 6] = [
    ("123.0", 0.35),
    ("122.1", 0.25),
    ("122.0", 0.15),
    ("121.3", 0.12),
    ("121.0", 0.08),
    ("120.1", 0.05),
];
const OS_MAJORS: [(&str, f64); 4] = [("15", 0.35), ("14", 0.35), ("13", 0.2), ("12", 0.1)];

struct Args {
    devices: usize,
    days: usize,
    seed: u64,
    trials: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        devices: 100_000,
        days: 7,
        seed: 1,
        trials: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{flag}: {value:?} is not a number"))?;
        match flag.as_str() {
            "--devices" => args.devices = n as usize,
            "--days" => args.days = n as usize,
            "--seed" => args.seed = n,
            "--trials" => args.trials = n as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.devices == 0 || args.days == 0 || args.trials == 0 || args.days > 400 {
        return Err("--devices, --days (≤ 400) and --trials must be positive".into());
    }
    Ok(args)
}

// ---------------------------------------------------------------------------
// Sampling helpers (deterministic from the seed).
// ---------------------------------------------------------------------------

fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = uniform(rng).max(f64::MIN_POSITIVE);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// A count with an exponential tail and the given mean (before flooring).
fn count(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    (-(1.0 - uniform(rng)).ln() * mean).floor() as u64
}

/// A categorical distribution by its cumulative weights.
struct Weighted {
    cdf: Vec<f64>,
}

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Weighted { cdf }
    }

    /// Zipf over `n` ranks with exponent `s`.
    fn zipf(n: usize, s: f64) -> Self {
        Weighted::new((1..=n).map(|r| (r as f64).powf(-s)))
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        let u = uniform(rng);
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

/// SplitMix64: a device's fixed habits from its seed and a salt.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A device-fixed generator for one habit.
fn habit(device_seed: u64, salt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(device_seed ^ mix(salt)))
}

/// candor-sdk's `clamp_total`: proportional, flooring, to at most `bound`.
fn clamp_total(counts: &mut [u64], bound: u64) {
    let total: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    if total > u128::from(bound) {
        for c in counts.iter_mut() {
            *c = (u128::from(*c) * u128::from(bound) / total) as u64;
        }
    }
}

fn domain_name(i: usize) -> String {
    format!("site{i}.example")
}

// ---------------------------------------------------------------------------
// The usage model.
// ---------------------------------------------------------------------------

/// How one metric's daily value is drawn.
enum Model {
    /// A counter: active with probability `p`, then an exponential count of
    /// mean `mean` × the device's activity.
    Counter { p: f64, mean: f64 },
    /// Events of a labeled counter, each label drawn from `labels`.
    Labeled { p: f64, mean: f64, labels: Weighted },
    /// A yes/no: `p` true, drawn daily or fixed per device.
    Boolean { p: f64, fixed: bool },
    /// A category fixed per device.
    Category { weights: Weighted },
    /// Samples of a log-normal quantity. `fixed`: one sample a day of a
    /// device-fixed value.
    Distribution {
        p: f64,
        mean_samples: f64,
        median: f64,
        sigma: f64,
        fixed: bool,
    },
    /// Slow domains: active with probability `p`, 1 + count(mean) visits of
    /// domains drawn from a Zipf over [`DOMAINS`].
    Domains { p: f64, mean: f64, zipf: Weighted },
}

fn model(metric: &Metric) -> Model {
    let named = |names: &[String], weights: &[(&str, f64)]| {
        Weighted::new(names.iter().enumerate().map(|(i, n)| {
            weights
                .iter()
                .find(|(w, _)| w == n)
                .map_or(1.0 / (i + 1) as f64, |(_, w)| *w)
        }))
    };
    match (&metric.kind, metric.id.as_str()) {
        (MetricKind::LabeledCounter { labels }, "app.opened") => Model::Labeled {
            p: 1.0,
            mean: 15.0,
            labels: named(
                labels,
                &[
                    ("browser", 0.25),
                    ("messages", 0.22),
                    ("phone", 0.15),
                    ("camera", 0.12),
                    ("gallery", 0.1),
                    ("music", 0.08),
                    ("settings", 0.05),
                    ("clock", 0.03),
                ],
            ),
        },
        (MetricKind::LabeledCounter { labels }, "diagnostics.crashes") => Model::Labeled {
            p: 0.06,
            mean: 1.5,
            labels: named(
                labels,
                &[
                    ("renderer", 0.35),
                    ("browser_main", 0.15),
                    ("gpu", 0.15),
                    ("system_ui", 0.15),
                    ("network", 0.1),
                    ("launcher", 0.1),
                ],
            ),
        },
        (MetricKind::LabeledCounter { labels }, _) => Model::Labeled {
            p: 0.5,
            mean: 5.0,
            labels: Weighted::zipf(labels.len(), 1.0),
        },
        (MetricKind::Counter, "browser.tabs_opened") => Model::Counter { p: 0.9, mean: 12.0 },
        (MetricKind::Counter, "browser.bookmarks_added") => Model::Counter { p: 0.15, mean: 2.0 },
        (MetricKind::Counter, "diagnostics.app_not_responding") => {
            Model::Counter { p: 0.04, mean: 1.2 }
        }
        (MetricKind::Counter, _) => Model::Counter { p: 0.5, mean: 5.0 },
        (MetricKind::Boolean, "settings.dark_mode") => Model::Boolean {
            p: 0.35,
            fixed: true,
        },
        (MetricKind::Boolean, "system.battery_saver") => Model::Boolean {
            p: 0.2,
            fixed: false,
        },
        (MetricKind::Boolean, "diagnostics.update_failed") => Model::Boolean {
            p: 0.03,
            fixed: false,
        },
        (MetricKind::Boolean, _) => Model::Boolean {
            p: 0.3,
            fixed: false,
        },
        (MetricKind::Category { categories }, "settings.text_size") => Model::Category {
            weights: named(
                categories,
                &[
                    ("default", 0.62),
                    ("large", 0.22),
                    ("small", 0.08),
                    ("largest", 0.08),
                ],
            ),
        },
        (MetricKind::Category { categories }, "browser.default_search") => Model::Category {
            weights: named(
                categories,
                &[
                    ("google", 0.72),
                    ("bing", 0.09),
                    ("duckduckgo", 0.06),
                    ("ecosia", 0.035),
                    ("yandex", 0.03),
                    ("other", 0.03),
                    ("baidu", 0.02),
                    ("qwant", 0.015),
                ],
            ),
        },
        (MetricKind::Category { categories }, _) => Model::Category {
            weights: Weighted::zipf(categories.len(), 1.0),
        },
        (MetricKind::Distribution { .. }, "browser.session_minutes") => Model::Distribution {
            p: 0.9,
            mean_samples: 3.0,
            median: 12.0,
            sigma: 1.2,
            fixed: false,
        },
        (MetricKind::Distribution { .. }, "system.storage_used_gb") => Model::Distribution {
            p: 1.0,
            mean_samples: 0.0,
            median: 60.0,
            sigma: 0.8,
            fixed: true,
        },
        (MetricKind::Distribution { .. }, "browser.page_load_ms") => Model::Distribution {
            p: 0.9,
            mean_samples: 25.0,
            median: 900.0,
            sigma: 0.9,
            fixed: false,
        },
        (MetricKind::Distribution { buckets }, _) => Model::Distribution {
            p: 0.5,
            mean_samples: 5.0,
            median: buckets.get(buckets.len() / 2).copied().unwrap_or(10) as f64,
            sigma: 1.0,
            fixed: false,
        },
        (MetricKind::DomainSet, _) => Model::Domains {
            p: 0.3,
            mean: 4.0,
            zipf: Weighted::zipf(DOMAINS, 1.0),
        },
        _ => panic!(
            "{}: a metric type this simulation does not model",
            metric.id
        ),
    }
}

/// One device: fixed dimensions and habits.
struct Device {
    seed: u64,
    activity: f64,
    dimensions: BTreeMap<String, String>,
    /// Per metric (schema order): the interned canonical dimensions.
    dims_id: Vec<u32>,
}

/// What a device reported for one metric on one day.
struct Sample {
    /// Value as sent for the central/true case.
    value: MetricValue,
    /// (cell id, value) of the truth (the true, unrandomized cell for LDP).
    truth: Vec<(u32, i64)>,
    /// The raw volume before clamping, and after.
    raw: u64,
    clamped: u64,
    /// For local DP: the true index and k.
    ldp: Option<(usize, usize)>,
}

/// A metric with its model and what the release calls its cells.
struct MetricInfo<'a> {
    metric: &'a Metric,
    model: Model,
    /// Closed cells in the engine's naming (labels, categories,
    /// `false`/`true`, bucket indices); `[""]` for a counter; empty for
    /// domains.
    cells: Vec<String>,
    ldp_epsilon: Option<f64>,
}

impl MetricInfo<'_> {
    fn cell_id(&self, name: &str) -> Option<u32> {
        match self.metric.kind {
            MetricKind::DomainSet => name
                .strip_prefix("site")
                .and_then(|s| s.strip_suffix(".example"))
                .and_then(|s| s.parse().ok()),
            _ => self.cells.iter().position(|c| c == name).map(|i| i as u32),
        }
    }

    fn sample(&self, device: &Device, day: usize, rng: &mut ChaCha8Rng) -> Option<Sample> {
        let bound = self.metric.max_per_report;
        let salt = self
            .metric
            .id
            .bytes()
            .fold(0u64, |h, b| mix(h ^ u64::from(b)));
        match (&self.model, &self.metric.kind) {
            (Model::Counter { p, mean }, _) => {
                if uniform(rng) >= *p {
                    return None;
                }
                let raw = count(rng, mean * device.activity);
                if raw == 0 {
                    return None;
                }
                let n = raw.min(bound);
                Some(Sample {
                    value: MetricValue::Counter(n),
                    truth: vec![(0, n as i64)],
                    raw,
                    clamped: n,
                    ldp: None,
                })
            }
            (Model::Labeled { p, mean, labels }, MetricKind::LabeledCounter { labels: names }) => {
                if uniform(rng) >= *p {
                    return None;
                }
                let events = 1 + count(rng, mean * device.activity);
                let mut counts = vec![0u64; names.len()];
                for _ in 0..events {
                    counts[labels.sample(rng)] += 1;
                }
                clamp_total(&mut counts, bound);
                let map: BTreeMap<String, u64> = names
                    .iter()
                    .zip(&counts)
                    .filter(|(_, c)| **c > 0)
                    .map(|(l, c)| (l.clone(), *c))
                    .collect();
                if map.is_empty() {
                    return None;
                }
                Some(Sample {
                    value: MetricValue::LabeledCounter(map),
                    truth: counts
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| **c > 0)
                        .map(|(i, c)| (i as u32, *c as i64))
                        .collect(),
                    raw: events,
                    clamped: counts.iter().sum(),
                    ldp: None,
                })
            }
            (Model::Boolean { p, fixed }, _) => {
                let u = if *fixed {
                    uniform(&mut habit(device.seed, salt))
                } else {
                    uniform(rng)
                };
                let b = usize::from(u < *p);
                Some(Sample {
                    value: MetricValue::Boolean(b == 1),
                    truth: vec![(b as u32, 1)],
                    raw: 1,
                    clamped: 1,
                    ldp: Some((b, 2)),
                })
            }
            (Model::Category { weights }, MetricKind::Category { categories }) => {
                let i = weights.sample(&mut habit(device.seed, salt));
                Some(Sample {
                    value: MetricValue::Category(categories[i].clone()),
                    truth: vec![(i as u32, 1)],
                    raw: 1,
                    clamped: 1,
                    ldp: Some((i, categories.len())),
                })
            }
            (
                Model::Distribution {
                    p,
                    mean_samples,
                    median,
                    sigma,
                    fixed,
                },
                MetricKind::Distribution { buckets },
            ) => {
                if uniform(rng) >= *p {
                    return None;
                }
                let mut counts = vec![0u64; buckets.len() + 1];
                let bucket = |v: f64| {
                    let v = v.round().max(0.0) as u64;
                    self.metric.bucket_index(v).unwrap_or(0)
                };
                let samples = if *fixed {
                    // A device-fixed value that drifts a little from day to day.
                    let base = lognormal(&mut habit(device.seed, salt), *median, *sigma);
                    counts[bucket(base * (1.0 + 0.002 * day as f64))] += 1;
                    1
                } else {
                    let n = 1 + count(rng, mean_samples * device.activity);
                    for _ in 0..n {
                        counts[bucket(lognormal(rng, *median, *sigma))] += 1;
                    }
                    n
                };
                clamp_total(&mut counts, bound);
                if counts.iter().all(|&c| c == 0) {
                    return None;
                }
                Some(Sample {
                    truth: counts
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| **c > 0)
                        .map(|(i, c)| (i as u32, *c as i64))
                        .collect(),
                    clamped: counts.iter().sum(),
                    value: MetricValue::Distribution(counts),
                    raw: samples,
                    ldp: None,
                })
            }
            (Model::Domains { p, mean, zipf }, _) => {
                if uniform(rng) >= *p {
                    return None;
                }
                let visits = 1 + count(rng, mean * device.activity);
                let mut set: Vec<usize> = (0..visits).map(|_| zipf.sample(rng)).collect();
                set.sort_unstable();
                set.dedup();
                let raw = set.len() as u64;
                // candor-sdk's `sample_domains`: a uniform subset (partial
                // Fisher–Yates).
                let bound = usize::try_from(bound).unwrap_or(usize::MAX);
                if set.len() > bound {
                    for i in 0..bound {
                        let j = i + uniform_below((set.len() - i) as u64, rng) as usize;
                        set.swap(i, j);
                    }
                    set.truncate(bound);
                }
                Some(Sample {
                    value: MetricValue::DomainSet(set.iter().map(|&d| domain_name(d)).collect()),
                    truth: set.iter().map(|&d| (d as u32, 1)).collect(),
                    raw,
                    clamped: set.len() as u64,
                    ldp: None,
                })
            }
            _ => unreachable!("model and metric kind agree"),
        }
    }
}

fn closed_cells(metric: &Metric) -> Vec<String> {
    match &metric.kind {
        MetricKind::Counter => vec![String::new()],
        MetricKind::LabeledCounter { labels } => labels.clone(),
        MetricKind::Category { categories } => categories.clone(),
        MetricKind::Boolean => vec!["false".into(), "true".into()],
        MetricKind::Distribution { buckets } => {
            (0..=buckets.len()).map(|i| i.to_string()).collect()
        }
        _ => Vec::new(),
    }
}

/// Truth key: metric index, day offset, dimensions id, cell id.
fn key(metric: usize, day: usize, dims: u32, cell: u32) -> u64 {
    ((metric as u64) << 56) | ((day as u64) << 46) | (u64::from(dims) << 32) | u64::from(cell)
}

fn unkey(k: u64) -> (usize, usize, u32, u32) {
    (
        (k >> 56) as usize,
        ((k >> 46) & 0x3ff) as usize,
        ((k >> 32) & 0x3fff) as u32,
        k as u32,
    )
}

// ---------------------------------------------------------------------------
// Comparison and statistics.
// ---------------------------------------------------------------------------

/// One released cell against its truth.
#[derive(Clone, Copy)]
struct Cell {
    truth: f64,
    value: f64,
    low: f64,
    high: f64,
    /// A domain among the [`TOP_DOMAINS`] most mentioned (whole range).
    top: bool,
}

#[derive(Default)]
struct Outcome {
    cells: Vec<Cell>,
    suppressed: u64,
    /// Domain sets: distinct true domains (group × domain) and their
    /// mentions, and how many of each were released.
    true_values: u64,
    true_mentions: f64,
    released_mentions: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

struct Stats {
    n: usize,
    median: f64,
    p90: f64,
    weighted: f64,
    coverage: f64,
    /// Median of the 95% interval's half-width relative to the truth.
    half: f64,
}

fn stats(cells: &[Cell]) -> Stats {
    let mut rel: Vec<f64> = cells
        .iter()
        .filter(|c| c.truth > 0.0)
        .map(|c| (c.value - c.truth).abs() / c.truth)
        .collect();
    rel.sort_by(f64::total_cmp);
    let abs: f64 = cells.iter().map(|c| (c.value - c.truth).abs()).sum();
    let total: f64 = cells.iter().map(|c| c.truth).sum();
    let covered = cells
        .iter()
        .filter(|c| c.low <= c.truth && c.truth <= c.high)
        .count();
    let mut half: Vec<f64> = cells
        .iter()
        .filter(|c| c.truth > 0.0)
        .map(|c| (c.high - c.low) / 2.0 / c.truth)
        .collect();
    half.sort_by(f64::total_cmp);
    Stats {
        half: percentile(&half, 0.5),
        n: cells.len(),
        median: percentile(&rel, 0.5),
        p90: percentile(&rel, 0.9),
        weighted: abs / total,
        coverage: covered as f64 / cells.len().max(1) as f64,
    }
}

fn pct(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else if x == 0.0 {
        "0".into()
    } else if x < 0.0001 {
        format!("{:.4}%", x * 100.0)
    } else if x < 0.001 {
        format!("{:.3}%", x * 100.0)
    } else if x < 0.1 {
        format!("{:.2}%", x * 100.0)
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

/// Everything the comparison needs.
struct World<'a> {
    metrics: Vec<MetricInfo<'a>>,
    dims_index: HashMap<String, u32>,
    first_day: i32,
    /// (metric, day, dims, cell) → true total.
    grouped: HashMap<u64, i64>,
    /// (metric, cell) → true total over every day and dimension.
    whole: HashMap<(usize, u32), i64>,
    /// (metric, domain) of the [`TOP_DOMAINS`] most mentioned domains.
    top: HashSet<(usize, u32)>,
}

impl World<'_> {
    /// Compares an answer with the truth. `grouped`: the query grouped by
    /// day and every dimension of the metric; otherwise no grouping.
    fn compare(&self, m: usize, answer: &Answer, grouped: bool) -> Outcome {
        let info = &self.metrics[m];
        let mut out = Outcome {
            suppressed: answer.suppressed.unwrap_or(0),
            ..Outcome::default()
        };
        for g in &answer.groups {
            let cell = info
                .cell_id(g.cell.as_deref().unwrap_or(""))
                .expect("a released cell is one of the metric's");
            let truth = if grouped {
                let day = g.day.as_deref().and_then(release::parse_day).expect("day") as usize;
                let dims: Vec<String> = g
                    .dimensions
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                self.dims_index
                    .get(&dims.join(","))
                    .and_then(|&d| {
                        self.grouped
                            .get(&key(m, day - self.first_day as usize, d, cell))
                    })
                    .copied()
                    .unwrap_or(0)
            } else {
                assert!(g.day.is_none() && g.dimensions.is_empty());
                self.whole.get(&(m, cell)).copied().unwrap_or(0)
            };
            out.cells.push(Cell {
                truth: truth as f64,
                value: g.value,
                low: g.ci95[0],
                high: g.ci95[1],
                top: !grouped && self.top.contains(&(m, cell)),
            });
            out.released_mentions += truth as f64;
        }
        if matches!(info.metric.kind, MetricKind::DomainSet) {
            let truths: Vec<i64> = if grouped {
                self.grouped
                    .iter()
                    .filter(|(k, _)| unkey(**k).0 == m)
                    .map(|(_, v)| *v)
                    .collect()
            } else {
                self.whole
                    .iter()
                    .filter(|((mm, _), _)| *mm == m)
                    .map(|(_, v)| *v)
                    .collect()
            };
            out.true_values = truths.len() as u64;
            out.true_mentions = truths.iter().sum::<i64>() as f64;
        }
        out
    }
}

fn query(
    registry: &Registry,
    store: &mut SqliteStore,
    metric: &Metric,
    days: (&str, &str),
    group_by: Vec<String>,
    epsilon: Option<f64>,
    rng: &mut ChaCha8Rng,
) -> Answer {
    let scope = Scope {
        name: "accuracy".into(),
        admin: true,
        regions: Vec::new(),
        purposes: Vec::new(),
    };
    let q = Query {
        region: REGION.into(),
        metric: metric.id.clone(),
        schema: None,
        from: days.0.into(),
        to: days.1.into(),
        group_by,
        filters: BTreeMap::new(),
        cells: Vec::new(),
        epsilon,
    };
    // The whole simulated range is closed long ago.
    let window = DayWindow {
        today: release::parse_day(days.1).expect("a day") + 100,
        past_override: None,
        future: 1,
    };
    let answer = release::release(registry, store, &scope, &q, 0, &window, rng)
        .unwrap_or_else(|e| panic!("{}: {e}", metric.id));
    assert!(!answer.cached, "{}: every query must be fresh", metric.id);
    answer
}

fn with_ldp_epsilon(schema: &Schema, factor: f64) -> Schema {
    let mut s = schema.clone();
    for m in s.metrics.values_mut() {
        if let Release::LocalDp {
            epsilon,
            count_epsilon,
            delta,
        } = m.release
        {
            m.release = Release::LocalDp {
                epsilon: epsilon * factor,
                count_epsilon,
                delta,
            };
        }
    }
    s
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("release_accuracy: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let first = Day::from_ymd(2026, 11, 1).expect("a day");
    let today = first.date();
    let mut schema = candor_schema::parse(SCHEMA_SRC, "examples/browser.toml", today)
        .unwrap_or_else(|e| panic!("{e}"))
        .schema;
    let k_min = schema.region(REGION).expect("region eu").k_min;
    let eu = schema.regions.get_mut(REGION).expect("region eu");
    let budget = (eu.epsilon_per_metric_day, eu.epsilon_per_purpose_day);
    eu.epsilon_per_metric_day = 1_000_000.0;
    eu.epsilon_per_purpose_day = 1_000_000.0;
    eu.delta_per_purpose_day = 1.0;
    let registry = Registry::new([schema.clone()]);
    // Local-DP ε sweep: the same schema with the devices' ε scaled.
    let ldp_factors: Vec<f64> = SWEEP.iter().copied().filter(|&f| f != 1.0).collect();
    let ldp_registries: Vec<Registry> = ldp_factors
        .iter()
        .map(|&f| Registry::new([with_ldp_epsilon(&schema, f)]))
        .collect();

    let metrics: Vec<MetricInfo<'_>> = schema
        .metrics
        .values()
        .map(|m| MetricInfo {
            metric: m,
            model: model(m),
            cells: closed_cells(m),
            ldp_epsilon: match m.release {
                Release::LocalDp { epsilon, .. } => Some(epsilon),
                _ => None,
            },
        })
        .collect();
    let sim = simulate(
        &args,
        &schema,
        &registry,
        &ldp_factors,
        &ldp_registries,
        &metrics,
    );
    let (mut store, mut ldp_stores, grouped, volume, reports, dims_index) = (
        sim.store,
        sim.ldp_stores,
        sim.grouped,
        sim.volume,
        sim.reports,
        sim.dims_index,
    );
    let simulated = start.elapsed();
    eprintln!(
        "simulated {} devices × {} days: {reports} reports in {:.1} s",
        args.devices,
        args.days,
        simulated.as_secs_f64()
    );

    let mut whole: HashMap<(usize, u32), i64> = HashMap::new();
    for (&k, &v) in &grouped {
        let (m, _, _, cell) = unkey(k);
        *whole.entry((m, cell)).or_default() += v;
    }
    let mut top = HashSet::new();
    for (m, info) in metrics.iter().enumerate() {
        if matches!(info.metric.kind, MetricKind::DomainSet) {
            let mut ranked: Vec<(i64, u32)> = whole
                .iter()
                .filter(|((mm, _), _)| *mm == m)
                .map(|((_, cell), v)| (*v, *cell))
                .collect();
            ranked.sort_unstable_by(|a, b| b.cmp(a));
            top.extend(ranked.iter().take(TOP_DOMAINS).map(|(_, cell)| (m, *cell)));
        }
    }
    let first_day = release::parse_day("2026-11-01").expect("a day");
    let world = World {
        metrics,
        dims_index,
        first_day,
        grouped,
        whole,
        top,
    };
    let from = release::format_day(first_day);
    let to = release::format_day(first_day + args.days as i32 - 1);
    let range = (from.as_str(), to.as_str());
    let mut noise = ChaCha8Rng::seed_from_u64(args.seed ^ 0x5eed);

    let results = run_queries(
        &world,
        &args,
        range,
        (&registry, &mut store),
        (&ldp_factors, &ldp_registries, &mut ldp_stores),
        &mut noise,
    );
    let queried = start.elapsed() - simulated;
    let header = format!(
        "Simulated: {} devices in region {REGION} (k_min = {k_min}, schema budget ε = {} \
         per metric and {} per purpose and day, raised to 1 000 000 here so that the sweep can \
         run), {} days \
         ({from} … {to}), seed {}: {reports} reports. Central-DP queries: {} trials per ε. \
         Simulation and storage {:.0} s, queries {:.0} s.\n",
        args.devices,
        budget.0,
        budget.1,
        args.days,
        args.seed,
        args.trials,
        simulated.as_secs_f64(),
        queried.as_secs_f64()
    );
    print_tables(&world, &results, &volume, &header, args.trials);
}

/// What the simulation left: the stores and the truth.
struct Simulated {
    store: SqliteStore,
    ldp_stores: Vec<SqliteStore>,
    /// (metric, day, dims, cell) → true total.
    grouped: HashMap<u64, i64>,
    /// Per metric: volume recorded and reported (after clamping).
    volume: Vec<(u64, u64)>,
    reports: u64,
    dims_index: HashMap<String, u32>,
}

/// Builds the population, simulates its days, validates every report with
/// `validate::to_delta` and commits them (in a second thread).
fn simulate(
    args: &Args,
    schema: &Schema,
    registry: &Registry,
    ldp_factors: &[f64],
    ldp_registries: &[Registry],
    metrics: &[MetricInfo<'_>],
) -> Simulated {
    let first = Day::from_ymd(2026, 11, 1).expect("a day");
    let today = first.date();
    let purposes: Vec<(&str, u32, Vec<usize>)> = schema
        .purposes
        .iter()
        .map(|(id, p)| {
            let ms = metrics
                .iter()
                .enumerate()
                .filter(|(_, m)| &m.metric.purpose == id)
                .map(|(i, _)| i)
                .collect();
            (id.as_str(), p.consent_version, ms)
        })
        .collect();

    // The population.
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let platforms = Weighted::new(PLATFORMS.iter().map(|p| p.1));
    let versions = Weighted::new(APP_VERSIONS.iter().map(|p| p.1));
    let oses = Weighted::new(OS_MAJORS.iter().map(|p| p.1));
    let mut dims_index: HashMap<String, u32> = HashMap::new();
    let devices: Vec<Device> = (0..args.devices)
        .map(|_| {
            let mut d = BTreeMap::new();
            d.insert(
                "platform".to_string(),
                PLATFORMS[platforms.sample(&mut rng)].0.to_string(),
            );
            d.insert(
                "app_version".to_string(),
                APP_VERSIONS[versions.sample(&mut rng)].0.to_string(),
            );
            d.insert(
                "os_major".to_string(),
                OS_MAJORS[oses.sample(&mut rng)].0.to_string(),
            );
            let dims_id = metrics
                .iter()
                .map(|m| {
                    let canonical = d
                        .iter()
                        .filter(|(k, _)| m.metric.dimensions.contains(k))
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    let next = dims_index.len() as u32;
                    *dims_index.entry(canonical).or_insert(next)
                })
                .collect();
            Device {
                seed: rng.next_u64(),
                activity: lognormal(&mut rng, 1.0, 0.75),
                dimensions: d,
                dims_id,
            }
        })
        .collect();

    // Simulate and validate here; a second thread commits to the stores.
    let mut store = SqliteStore::open_in_memory().expect("store");
    let mut ldp_stores: Vec<SqliteStore> = ldp_factors
        .iter()
        .map(|_| SqliteStore::open_in_memory().expect("store"))
        .collect();
    type Batches = (Vec<ReportDelta>, Vec<Vec<ReportDelta>>);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batches>(2);
    let writer = std::thread::spawn(move || {
        for (batch, ldp_batches) in rx {
            store.commit(&batch).expect("commit");
            for (j, b) in ldp_batches.iter().enumerate() {
                ldp_stores[j].commit(b).expect("commit");
            }
        }
        (store, ldp_stores)
    });
    let window = DayWindow {
        today: release::parse_day("2026-11-01").expect("a day"),
        past_override: Some(100_000),
        future: 100_000,
    };
    // Permanent randomized response: (device, metric, sweep index or
    // usize::MAX for the schema's ε, true value) → the answer drawn once.
    let mut answers: HashMap<(usize, usize, usize, usize), usize> = HashMap::new();
    let mut grouped: HashMap<u64, i64> = HashMap::new();
    let mut volume = vec![(0u64, 0u64); metrics.len()];
    let mut batch: Vec<ReportDelta> = Vec::new();
    let mut ldp_batches: Vec<Vec<ReportDelta>> = ldp_factors.iter().map(|_| Vec::new()).collect();
    let mut reports = 0u64;
    let mut day = first;
    let new_report = |purpose: &str, consent: u32, day: Day, rng: &mut ChaCha8Rng| {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Report::new(
            ReportId(id),
            schema.id.clone(),
            schema.version,
            purpose,
            consent,
            REGION,
            day,
        )
    };
    let add_dims = |report: &mut Report, metric: &Metric, device: &Device| {
        for d in &metric.dimensions {
            if let Some(v) = device.dimensions.get(d) {
                report.dimensions.insert(d.clone(), v.clone());
            }
        }
    };
    for d in 0..args.days {
        for (di, device) in devices.iter().enumerate() {
            for (purpose, consent, ids) in &purposes {
                let mut report = new_report(purpose, *consent, day, &mut rng);
                let mut ldp_reports: Vec<Report> = Vec::new();
                for &m in ids {
                    let info = &metrics[m];
                    let Some(sample) = info.sample(device, d, &mut rng) else {
                        continue;
                    };
                    volume[m].0 += sample.raw;
                    volume[m].1 += sample.clamped;
                    for &(cell, v) in &sample.truth {
                        *grouped
                            .entry(key(m, d, device.dims_id[m], cell))
                            .or_default() += v;
                    }
                    let value = match (sample.ldp, info.ldp_epsilon) {
                        (Some((index, k)), Some(epsilon)) => {
                            // The SDK's encoder, once per ε of the sweep.
                            for (j, f) in ldp_factors.iter().enumerate() {
                                if ldp_reports.len() <= j {
                                    ldp_reports.push(new_report(purpose, *consent, day, &mut rng));
                                }
                                let rr = RandomizedResponse::new(epsilon * f, k).expect("ε");
                                let i = *answers
                                    .entry((di, m, j, index))
                                    .or_insert_with(|| rr.randomize(index, &mut rng));
                                ldp_reports[j]
                                    .metrics
                                    .insert(info.metric.id.clone(), ldp_value(info.metric, i));
                                add_dims(&mut ldp_reports[j], info.metric, device);
                            }
                            let rr = RandomizedResponse::new(epsilon, k).expect("ε");
                            let i = *answers
                                .entry((di, m, usize::MAX, index))
                                .or_insert_with(|| rr.randomize(index, &mut rng));
                            ldp_value(info.metric, i)
                        }
                        _ => sample.value,
                    };
                    report.metrics.insert(info.metric.id.clone(), value);
                    add_dims(&mut report, info.metric, device);
                }
                if report.metrics.is_empty() {
                    continue;
                }
                let delta = validate::to_delta(registry, &report, window, today)
                    .unwrap_or_else(|e| panic!("a simulated report is refused: {e:?}"));
                batch.push(delta);
                reports += 1;
                for (j, r) in ldp_reports.iter().enumerate() {
                    let delta = validate::to_delta(&ldp_registries[j], r, window, today)
                        .unwrap_or_else(|e| panic!("a simulated report is refused: {e:?}"));
                    ldp_batches[j].push(delta);
                }
            }
            if batch.len() >= BATCH {
                let fresh = ldp_factors.iter().map(|_| Vec::new()).collect();
                tx.send((
                    std::mem::take(&mut batch),
                    std::mem::replace(&mut ldp_batches, fresh),
                ))
                .expect("the writer runs");
            }
        }
        day = day.next().expect("a next day");
    }
    tx.send((batch, ldp_batches)).expect("the writer runs");
    drop(tx);
    let (store, ldp_stores) = writer.join().expect("the writer succeeds");
    Simulated {
        store,
        ldp_stores,
        grouped,
        volume,
        reports,
        dims_index,
    }
}

/// Per metric: whole-range outcomes per ε of the sweep (over trials), the
/// domain threshold per ε, and the grouped outcome at the schema's ε.
struct Results {
    whole: Vec<Vec<Vec<Outcome>>>,
    taus: Vec<Vec<Option<f64>>>,
    grouped: Vec<Outcome>,
}

fn run_queries(
    world: &World<'_>,
    args: &Args,
    range: (&str, &str),
    (registry, store): (&Registry, &mut SqliteStore),
    (ldp_factors, ldp_registries, ldp_stores): (&[f64], &[Registry], &mut [SqliteStore]),
    noise: &mut ChaCha8Rng,
) -> Results {
    // Whole range, no group-by: every ε of the sweep, `trials` times.
    // results[m][s] = outcomes over trials.
    let mut results: Vec<Vec<Vec<Outcome>>> = Vec::new();
    let mut taus: Vec<Vec<Option<f64>>> = Vec::new();
    for (m, info) in world.metrics.iter().enumerate() {
        let mut per_eps = Vec::new();
        let mut tau = Vec::new();
        for &factor in &SWEEP {
            let mut outs = Vec::new();
            if info.ldp_epsilon.is_some() {
                let answer = if factor == 1.0 {
                    query(registry, store, info.metric, range, Vec::new(), None, noise)
                } else {
                    let j = ldp_factors.iter().position(|&f| f == factor).expect("f");
                    query(
                        &ldp_registries[j],
                        &mut ldp_stores[j],
                        info.metric,
                        range,
                        Vec::new(),
                        None,
                        noise,
                    )
                };
                outs.push(world.compare(m, &answer, false));
                tau.push(None);
            } else {
                let base = info.metric.release.epsilon() * factor;
                for t in 0..args.trials {
                    let eps = base * (1.0 + t as f64 * 1e-7);
                    let answer = query(
                        registry,
                        store,
                        info.metric,
                        range,
                        Vec::new(),
                        Some(eps),
                        noise,
                    );
                    if t == 0 {
                        tau.push(answer.threshold);
                    }
                    outs.push(world.compare(m, &answer, false));
                }
            }
            per_eps.push(outs);
        }
        results.push(per_eps);
        taus.push(tau);
    }

    // Grouped by day and every dimension, at the schema's ε, once.
    let mut grouped_results: Vec<Outcome> = Vec::new();
    for (m, info) in world.metrics.iter().enumerate() {
        let mut group_by = vec![release::DAY.to_string()];
        group_by.extend(info.metric.dimensions.iter().cloned());
        let eps = info
            .ldp_epsilon
            .is_none()
            .then(|| info.metric.release.epsilon());
        let answer = query(registry, store, info.metric, range, group_by, eps, noise);
        grouped_results.push(world.compare(m, &answer, true));
    }
    Results {
        whole: results,
        taus,
        grouped: grouped_results,
    }
}

fn print_tables(
    world: &World<'_>,
    results: &Results,
    volume: &[(u64, u64)],
    header: &str,
    trials: usize,
) {
    let (taus, grouped_results) = (&results.taus, &results.grouped);
    let results = &results.whole;
    println!("{header}");

    println!("### Whole range, no group-by, at the schema's ε\n");
    println!(
        "| metric | type | mechanism | ε | cells | true total | median rel. error | p90 | \
         weighted | ±ci95 / truth | ci95 covers truth | suppressed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let at_one = SWEEP
        .iter()
        .position(|&f| f == 1.0)
        .expect("1.0 in the sweep");
    for (m, info) in world.metrics.iter().enumerate() {
        let outs = &results[m][at_one];
        let cells: Vec<Cell> = outs.iter().flat_map(|o| o.cells.iter().copied()).collect();
        let st = stats(&cells);
        let suppressed: u64 = outs.iter().map(|o| o.suppressed).sum();
        let (cells_col, supp_col) = if matches!(info.metric.kind, MetricKind::DomainSet) {
            let o = &outs[0];
            (
                format!(
                    "{} of {} domains ({} of mentions)",
                    o.cells.len(),
                    o.true_values,
                    pct(o.released_mentions / o.true_mentions)
                ),
                format!("τ = {:.0}", taus[m][at_one].unwrap_or(f64::NAN)),
            )
        } else {
            (
                format!("{}", st.n / outs.len()),
                format!("{}", suppressed / outs.len() as u64),
            )
        };
        let truth: i64 = world
            .whole
            .iter()
            .filter(|((mm, _), _)| *mm == m)
            .map(|(_, v)| *v)
            .sum();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            info.metric.id,
            info.metric.type_name(),
            info.metric.release.mechanism(),
            info.metric.release.epsilon(),
            cells_col,
            truth,
            pct(st.median),
            pct(st.p90),
            pct(st.weighted),
            pct(st.half),
            pct(st.coverage),
            supp_col
        );
    }

    println!("\n### ε sweep, whole range, per metric type\n");
    println!(
        "Median / p90 relative error per released cell, pooled over the metrics of a type \
         (central: over {trials} trials), and the share of 95% intervals that cover the truth.\n"
    );
    let mut header = "| type | mechanism |".to_string();
    let mut rule = "|---|---|".to_string();
    for f in SWEEP {
        header.push_str(&format!(" ε × {f} |"));
        rule.push_str("---|");
    }
    println!("{header}\n{rule}");
    let mut kinds: Vec<(&str, &str)> = world
        .metrics
        .iter()
        .map(|i| (i.metric.type_name(), i.metric.release.mechanism()))
        .collect();
    kinds.sort();
    kinds.dedup();
    for (kind, mech) in &kinds {
        let mut row = format!("| {kind} | {mech} |");
        for (s, _) in SWEEP.iter().enumerate() {
            let cells: Vec<Cell> = world
                .metrics
                .iter()
                .enumerate()
                .filter(|(_, i)| {
                    i.metric.type_name() == *kind && i.metric.release.mechanism() == *mech
                })
                .flat_map(|(m, _)| results[m][s].iter().flat_map(|o| o.cells.iter().copied()))
                .collect();
            let st = stats(&cells);
            row.push_str(&format!(
                " {} / {} ({} covered) |",
                pct(st.median),
                pct(st.p90),
                pct(st.coverage)
            ));
        }
        println!("{row}");
    }

    println!("\n### ε sweep per metric\n");
    println!(
        "Median relative error of the released cells, and in brackets the median half-width \
         of their 95% interval relative to the truth (the error to expect). Domain set: the \
         released domains (those over τ), then the {TOP_DOMAINS} most mentioned domains alone.\n"
    );
    let mut header = "| metric | schema ε |".to_string();
    let mut rule = "|---|---|".to_string();
    for f in SWEEP {
        header.push_str(&format!(" ε × {f} |"));
        rule.push_str("---|");
    }
    println!("{header}\n{rule}");
    for (m, info) in world.metrics.iter().enumerate() {
        let mut row = format!("| {} | {} |", info.metric.id, info.metric.release.epsilon());
        for s in 0..SWEEP.len() {
            let cells: Vec<Cell> = results[m][s]
                .iter()
                .flat_map(|o| o.cells.iter().copied())
                .collect();
            let st = stats(&cells);
            if matches!(info.metric.kind, MetricKind::DomainSet) {
                let o = &results[m][s][0];
                let top: Vec<Cell> = cells.iter().copied().filter(|c| c.top).collect();
                let tst = stats(&top);
                row.push_str(&format!(
                    " {} (±{}), {} of {} domains over τ = {:.0}; top {TOP_DOMAINS}: {} \
                     released, {} (±{}) |",
                    pct(st.median),
                    pct(st.half),
                    o.cells.len(),
                    o.true_values,
                    taus[m][s].unwrap_or(f64::NAN),
                    top.len() / results[m][s].len(),
                    pct(tst.median),
                    pct(tst.half),
                ));
            } else {
                row.push_str(&format!(" {} (±{}) |", pct(st.median), pct(st.half)));
            }
        }
        println!("{row}");
    }

    println!("\n### Grouped by day and every dimension of the metric, at the schema's ε\n");
    println!(
        "| metric | dimensions | released cells | median rel. error | p90 | weighted | \
         ci95 covers truth | suppressed (< k) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (m, info) in world.metrics.iter().enumerate() {
        let o = &grouped_results[m];
        let st = stats(&o.cells);
        let supp = if matches!(info.metric.kind, MetricKind::DomainSet) {
            format!(
                "{} of {} (day, platform, domain) released, {} of mentions",
                o.cells.len(),
                o.true_values,
                pct(o.released_mentions / o.true_mentions)
            )
        } else {
            format!(
                "{} of {} ({})",
                o.suppressed,
                o.suppressed + o.cells.len() as u64,
                pct(o.suppressed as f64 / (o.suppressed + o.cells.len() as u64).max(1) as f64)
            )
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            info.metric.id,
            info.metric.dimensions.join(" × "),
            st.n,
            pct(st.median),
            pct(st.p90),
            pct(st.weighted),
            pct(st.coverage),
            supp
        );
    }

    println!("\n### Contribution bounds (not noise): volume the devices' clamping removed\n");
    println!("| metric | max_per_report | recorded | reported | removed |");
    println!("|---|---|---|---|---|");
    for (m, info) in world.metrics.iter().enumerate() {
        let (raw, clamped) = volume[m];
        if matches!(
            info.metric.kind,
            MetricKind::Boolean | MetricKind::Category { .. }
        ) {
            continue;
        }
        println!(
            "| {} | {} | {raw} | {clamped} | {} |",
            info.metric.id,
            info.metric.max_per_report,
            pct(1.0 - clamped as f64 / raw.max(1) as f64)
        );
    }
}

/// A randomized index as the SDK sends it.
fn ldp_value(metric: &Metric, index: usize) -> MetricValue {
    match &metric.kind {
        MetricKind::Boolean => MetricValue::Boolean(index == 1),
        MetricKind::Category { categories } => MetricValue::Category(categories[index].clone()),
        _ => unreachable!("local DP only on booleans and categories"),
    }
}
