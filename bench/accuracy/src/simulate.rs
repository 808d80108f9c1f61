//! The population's reports, as the SDK would build them, validated and
//! stored; and the truth they carry.

use std::collections::{BTreeMap, HashMap};

use candor_collector::release;
use candor_collector::validate::{self, DayWindow, Registry};
use candor_protocol::{Day, MetricValue, Report, ReportId};
use candor_schema::{Metric, Release, Schema};
use candor_sim::simulate::usage::{Usage, UsageDevice};
use candor_store::{ReportDelta, Store};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::store::{self, StudyStore};
use crate::{Args, REGION};

/// Reports per commit.
const BATCH: usize = 5_000;

/// Truth key: metric index, day offset, dimensions id, cell.
pub(crate) type TruthKey = (usize, usize, u32, String);

/// What the simulation left: the stores and the truth.
pub(crate) struct Simulated {
    /// The metrics, in the usage model's order (the index of every key).
    pub(crate) metrics: Vec<Metric>,
    pub(crate) store: StudyStore,
    /// One store per local-DP ε factor of the sweep other than 1.
    pub(crate) ldp_stores: Vec<StudyStore>,
    /// (metric, day, dims, cell) → true total.
    pub(crate) grouped: HashMap<TruthKey, i64>,
    /// Per metric: volume recorded and reported (after clamping).
    pub(crate) volume: Vec<(u64, u64)>,
    pub(crate) reports: u64,
    /// Canonical dimensions (`id=value` joined by `,`) → id.
    pub(crate) dims_index: HashMap<String, u32>,
}

/// The sum over the cells of a value: a count, a total, the number of
/// domains, 1 for one answer.
fn amount(metric: &Metric, value: &MetricValue, day: Day) -> u64 {
    candor_values::cells(metric, value, day)
        .iter()
        .map(|(_, n)| n)
        .sum()
}

/// Builds the population, plays its days through the usage model, builds
/// and validates every report with `validate::to_delta` and commits them
/// (in a second thread).
pub(crate) fn run(
    args: &Args,
    schema: &Schema,
    first: Day,
    registry: &Registry,
    ldp_factors: &[f64],
    ldp_registries: &[Registry],
) -> Simulated {
    let today = first.date();
    let mut usage = Usage::new(schema, args.seed, 0.0, args.days as u32);
    let metrics: Vec<Metric> = usage.metrics().cloned().collect();
    let ldp_epsilon: Vec<Option<f64>> = metrics
        .iter()
        .map(|m| match m.release {
            Release::LocalDp { epsilon, .. } => Some(epsilon),
            _ => None,
        })
        .collect();
    let purposes: Vec<(&str, u32, Vec<usize>)> = schema
        .purposes
        .iter()
        .map(|(id, p)| {
            let ms = metrics
                .iter()
                .enumerate()
                .filter(|(_, m)| &m.purpose == id)
                .map(|(i, _)| i)
                .collect();
            (id.as_str(), p.consent_version, ms)
        })
        .collect();

    // The population, and the canonical dimensions of each metric's rows.
    let mut dims_index: HashMap<String, u32> = HashMap::new();
    let devices: Vec<(UsageDevice, Vec<u32>)> = (0..args.devices)
        .map(|i| {
            let device = usage.device(i);
            let dims_id = metrics
                .iter()
                .map(|m| {
                    let canonical = device
                        .dimensions()
                        .iter()
                        .filter(|(k, _)| m.dimensions.contains(k))
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    let next = dims_index.len() as u32;
                    *dims_index.entry(canonical).or_insert(next)
                })
                .collect();
            (device, dims_id)
        })
        .collect();

    // Simulate and validate here; a second thread commits to the stores.
    let mut store = store::throwaway();
    let mut ldp_stores: Vec<StudyStore> = ldp_factors.iter().map(|_| store::throwaway()).collect();
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
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    // Permanent randomized response, as the SDK keeps it: per (device,
    // metric, sweep index or usize::MAX for the schema's ε), true value →
    // the answer drawn once.
    let mut answers: HashMap<(usize, usize, usize), BTreeMap<u32, u32>> = HashMap::new();
    let mut grouped: HashMap<TruthKey, i64> = HashMap::new();
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
    let add_dims = |report: &mut Report, metric: &Metric, device: &UsageDevice| {
        for d in &metric.dimensions {
            if let Some(v) = device.dimensions().get(d) {
                report.dimensions.insert(d.clone(), v.clone());
            }
        }
    };
    for d in 0..args.days {
        for (di, (device, dims_id)) in devices.iter().enumerate() {
            let mut values = usage.day(device, d as u32, day);
            for (purpose, consent, ids) in &purposes {
                if ids.iter().all(|&m| values[m].is_none()) {
                    continue;
                }
                let mut report = new_report(purpose, *consent, day, &mut rng);
                let mut ldp_reports: Vec<Report> = Vec::new();
                for &m in ids {
                    let metric = &metrics[m];
                    let Some(raw) = values[m].take() else {
                        continue;
                    };
                    let recorded = amount(metric, &raw, day);
                    // The truth: the clamped value, or a local-DP metric's
                    // true answer (before randomized response).
                    let (truth, sent) = match ldp_epsilon[m] {
                        Some(epsilon) => {
                            let index = candor_values::choice_index(metric, &raw)
                                .expect("local DP is only declared for one-answer metrics");
                            // The SDK's encoder, once per ε of the sweep.
                            for (j, f) in ldp_factors.iter().enumerate() {
                                if ldp_reports.len() <= j {
                                    ldp_reports.push(new_report(purpose, *consent, day, &mut rng));
                                }
                                let memo = answers.entry((di, m, j)).or_default();
                                let v = candor_sdk::local_dp_answer(
                                    metric,
                                    epsilon * f,
                                    index,
                                    memo,
                                    &mut rng,
                                )
                                .expect("a one-answer metric");
                                ldp_reports[j].metrics.insert(metric.id.clone(), v);
                                add_dims(&mut ldp_reports[j], metric, device);
                            }
                            let memo = answers.entry((di, m, usize::MAX)).or_default();
                            let sent =
                                candor_sdk::local_dp_answer(metric, epsilon, index, memo, &mut rng)
                                    .expect("a one-answer metric");
                            (raw, sent)
                        }
                        None => match candor_values::clamp(metric, raw, &mut rng) {
                            Some(clamped) => (clamped.clone(), clamped),
                            None => continue,
                        },
                    };
                    volume[m].0 += recorded;
                    volume[m].1 += amount(metric, &truth, day);
                    for (cell, v) in candor_values::cells(metric, &truth, day) {
                        *grouped.entry((m, d, dims_id[m], cell)).or_default() += v as i64;
                    }
                    report.metrics.insert(metric.id.clone(), sent);
                    add_dims(&mut report, metric, device);
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
        metrics,
        store,
        ldp_stores,
        grouped,
        volume,
        reports,
        dims_index,
    }
}
