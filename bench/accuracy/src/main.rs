//! How close released values come to the truth: the simulator's usage
//! model reports through the collector's own validation into a store, and
//! the release engine answers queries that are compared with the exact
//! totals.
//!
//! ```text
//! cargo run --release -p candor-accuracy -- \
//!     [--devices 100000] [--days 7] [--seed 1] [--trials 20]
//! ```
//!
//! - The schema is examples/browser.toml; every device is in region `eu`
//!   and grants every purpose (no child profiles, no private browsing).
//! - Devices and their days come from the fleet simulator's usage model
//!   ([`candor_sim::simulate::usage`], documented in `candor_sim::simulate`):
//!   fixed dimensions (platform, app version, OS version, coarsened as the
//!   SDK does), a heavy-tailed activity level, per-device settings and
//!   favourites, weekday and weekend patterns, browsing sessions with page
//!   loads over 3 000 synthetic domains. A device used on a day sends one
//!   report per purpose with the metrics it recorded that day.
//! - Reports are built with the SDK's own functions: each value clamped by
//!   [`candor_values::clamp`] (proportional flooring for labeled counters
//!   and distributions, a uniform sample of domains), local-DP values
//!   randomized by [`candor_sdk::local_dp_answer`] (permanent randomized
//!   response: drawn once per device and true value, reused every day).
//!   They go through `validate::to_delta` and `Store::commit` (on a second
//!   thread) into a throwaway store ([`store::throwaway`]), in batches of
//!   5 000 reports.
//! - The truth is the exact total of the values the devices reported, before
//!   any noise: after clamping (a contribution bound the schema declares),
//!   before randomized response. How much clamping removed is printed apart.
//! - Queries go through `release::release` with an all-scope token over the
//!   whole day range. Central-DP metrics are asked at ε × {0.25, 0.5, 1, 2}
//!   of the schema's ε, `--trials` times each; to allow that, region eu's
//!   ε caps (per metric and per purpose) are raised to 1 000 000 and its δ
//!   cap to 1 in the parsed schema (the TOML validator caps them at 10 and
//!   10⁻³). The budget changes no released value. Each trial's ε is the
//!   nominal ε × (1 + t·10⁻⁷), a distinct query (not a cache hit) with the
//!   same noise scale, since the engine rounds ε down to a multiple of
//!   0.001. Local-DP metrics are answered at the devices' ε; for their ε
//!   sweep the same devices' true values are randomized again at each ε
//!   into a separate store. Then each metric is asked once more at the
//!   schema's ε, grouped by day and by every dimension it declares (small
//!   groups, where k and τ bite).
//!
//! Output: Markdown tables (BENCHMARKS.md, "Release accuracy").

mod query;
mod simulate;
mod stats;
mod store;
mod tables;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use candor_collector::release;
use candor_collector::validate::Registry;
use candor_protocol::Day;
use candor_schema::{Release, Schema};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::query::World;

const SCHEMA_SRC: &str = include_str!("../../../examples/browser.toml");
const REGION: &str = "eu";
/// The domain-set sweep also follows the error on this many most-mentioned
/// domains, a fixed set (the released set changes with ε).
const TOP_DOMAINS: usize = 50;
/// ε multipliers of the sweep; 1.0 is the schema's ε.
const SWEEP: [f64; 4] = [0.25, 0.5, 1.0, 2.0];

/// The command line.
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

/// `schema` with every local-DP metric's device ε multiplied by `factor`.
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
            eprintln!("candor-accuracy: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let first = Day::from_ymd(2026, 11, 1).expect("a day");
    let mut schema = candor_schema::parse(SCHEMA_SRC, "examples/browser.toml", first.date())
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

    let sim = simulate::run(
        &args,
        &schema,
        first,
        &registry,
        &ldp_factors,
        &ldp_registries,
    );
    let simulated = start.elapsed();
    let reports = sim.reports;
    eprintln!(
        "simulated {} devices × {} days: {reports} reports in {:.1} s",
        args.devices,
        args.days,
        simulated.as_secs_f64()
    );

    let mut whole: HashMap<(usize, String), i64> = HashMap::new();
    for ((m, _, _, cell), &v) in &sim.grouped {
        *whole.entry((*m, cell.clone())).or_default() += v;
    }
    let mut top = HashSet::new();
    for (m, metric) in sim.metrics.iter().enumerate() {
        if metric.kind.has_open_cells() {
            let mut ranked: Vec<(i64, &String)> = whole
                .iter()
                .filter(|((mm, _), _)| *mm == m)
                .map(|((_, cell), v)| (*v, cell))
                .collect();
            ranked.sort_unstable_by(|a, b| b.cmp(a));
            top.extend(
                ranked
                    .iter()
                    .take(TOP_DOMAINS)
                    .map(|(_, cell)| (m, (*cell).clone())),
            );
        }
    }
    let first_day = release::parse_day("2026-11-01").expect("a day");
    let world = World {
        metrics: sim.metrics,
        dims_index: sim.dims_index,
        first_day,
        grouped: sim.grouped,
        whole,
        top,
    };
    let from = release::format_day(first_day);
    let to = release::format_day(first_day + args.days as i32 - 1);
    let range = (from.as_str(), to.as_str());
    let mut noise = ChaCha8Rng::seed_from_u64(args.seed ^ 0x5eed);
    let (mut store, mut ldp_stores) = (sim.store, sim.ldp_stores);

    let results = query::run_queries(
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
    tables::print(&world, &results, &sim.volume, &header, args.trials);
}
