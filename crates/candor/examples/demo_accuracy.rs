//! How close the demo's released statistics are to what the simulated
//! devices really did.
//!
//! ```sh
//! cargo build --release -p candor --example demo_accuracy
//! target/release/candor demo --dir /tmp/candor-demo --no-serve
//! target/release/examples/demo_accuracy /tmp/candor-demo
//! ```
//!
//! For every metric and every region the fleet used, it releases the whole
//! simulated range without grouping (through the release engine, on the
//! demo's own stores, so budget and cache apply as for any analyst) and
//! compares each released cell with the ground truth's *eligible* value
//! (what consenting devices outside private mode and child profiles
//! recorded, summed over days and dimensions). It prints a Markdown table:
//! cells released out of the cells the devices used, the median and 90th
//! percentile relative error, and how often the 95% interval covered the
//! truth. The truth is raw, before the SDK clamps a day's value to the
//! metric's bound; the last column counts device-days it clamped.

use std::collections::BTreeMap;
use std::path::PathBuf;

use candor_collector::release::{self, Query, Scope};
use candor_collector::validate::{DayWindow, Registry};
use candor_store::StoreConfig;
use rand_core::SeedableRng;
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: demo_accuracy <demo directory>")?,
    );
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json"))?)?;
    let src = include_str!("../../../examples/browser.toml");
    let schema = candor_schema::parse(src, "browser.toml", time::OffsetDateTime::now_utc().date())
        .map_err(|e| e.to_string())?
        .schema;
    let registry = Registry::new([schema.clone()]);
    let start = truth["start"]
        .as_str()
        .ok_or("truth without start")?
        .to_owned();
    let days = truth["days"].as_u64().ok_or("truth without days")? as i32;
    let first = release::parse_day(&start).ok_or("bad start")?;
    let last = release::format_day(first + days - 1);
    // The study reads a finished demo: every simulated day is closed.
    let window = DayWindow {
        today: first + days + candor_schema::limits::MAX_REPORT_WINDOW_DAYS as i32 + 1,
        past_override: None,
        future: 0,
    };
    let scope = Scope {
        name: "accuracy-check".into(),
        admin: true,
        regions: vec![],
        purposes: vec![],
    };
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    println!("Demo of {} devices, {start} to {last}.\n", truth["devices"]);
    println!(
        "| region | metric | type | mechanism | ε | cells released / used | median rel. error | p90 rel. error | 95% interval covers | clamped device-days |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let cells = truth["cells"].as_object().ok_or("truth without cells")?;
    for (region, by_day) in cells {
        let mut store = StoreConfig::sqlite(dir.join("data")).open_region(region)?;
        for metric in schema.metrics.values() {
            // Truth per cell, summed over days and dimensions.
            let mut want: BTreeMap<String, f64> = BTreeMap::new();
            let mut clamped = 0u64;
            for day in by_day.as_object().into_iter().flat_map(|d| d.values()) {
                for dims in day[&metric.id]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.values())
                {
                    for (cell, v) in dims["eligible"].as_object().into_iter().flatten() {
                        *want.entry(cell.clone()).or_default() += v[0].as_f64().unwrap_or(0.0);
                    }
                    clamped += dims["over_bound"][1].as_u64().unwrap_or(0);
                }
            }
            let q = Query {
                region: region.clone(),
                metric: metric.id.clone(),
                schema: None,
                from: start.clone(),
                to: last.clone(),
                group_by: vec![],
                filters: BTreeMap::new(),
                cells: vec![],
                epsilon: None,
            };
            let answer =
                match release::release(&registry, &mut store, &scope, &q, 0, &window, &mut rng) {
                    Ok(a) => a,
                    Err(e) => {
                        println!("| {region} | {} | | | | refused: {e} | | | | |", metric.id);
                        continue;
                    }
                };
            let mut errors = Vec::new();
            let (mut covered, mut compared) = (0, 0);
            for g in &answer.groups {
                let cell = g.cell.clone().unwrap_or_default();
                let t = want.get(&cell).copied().unwrap_or(0.0);
                if t > 0.0 {
                    errors.push((g.value - t).abs() / t);
                }
                compared += 1;
                if g.ci95[0] <= t && t <= g.ci95[1] {
                    covered += 1;
                }
            }
            errors.sort_by(f64::total_cmp);
            let pct = |p: f64| {
                errors
                    .get(((errors.len() as f64 - 1.0) * p).round().max(0.0) as usize)
                    .map_or("–".to_owned(), |e| format!("{:.2}%", e * 100.0))
            };
            let used = want.values().filter(|v| **v > 0.0).count();
            println!(
                "| {region} | {} | {} | {} | {} | {} / {used} | {} | {} | {} | {clamped} |",
                metric.id,
                metric.type_name(),
                answer.mechanism,
                answer.epsilon,
                answer.groups.len(),
                pct(0.5),
                pct(0.9),
                if compared == 0 {
                    "–".to_owned()
                } else {
                    format!("{covered}/{compared}")
                },
            );
        }
    }
    Ok(())
}
