//! How late a day's reports arrive with devices offline at random, and so
//! how much each report window would lose (BENCHMARKS.md, "Report
//! arrival"; the default `report_window_days` of 3 comes from it).
//!
//! ```text
//! cargo run --release -p candor-sim --example report_arrival -- \
//!     [--devices 100000] [--days 28] [--seed 1]
//! ```
//!
//! Prints one table per connectivity scenario: always online, and offline
//! on 5 %, 10 % and 20 % of days on average, in spells of 1, 2 and 3 days.

use candor_protocol::Day;
use candor_sim::simulate::{OfflineModel, report_arrival};

fn main() {
    let mut devices = 100_000usize;
    let mut days = 28u32;
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        let n: u64 = value.parse().unwrap_or_else(|_| {
            eprintln!("report_arrival: {flag} needs a number, got {value:?}");
            std::process::exit(2);
        });
        match flag.as_str() {
            "--devices" => devices = n as usize,
            "--days" => days = n as u32,
            "--seed" => seed = n,
            _ => {
                eprintln!("report_arrival: unknown flag {flag}");
                std::process::exit(2);
            }
        }
    }
    let schema = candor_schema::parse(
        include_str!("../../../examples/browser.toml"),
        "examples/browser.toml",
        time::OffsetDateTime::now_utc().date(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .schema;
    let start = Day::from_ymd(2026, 11, 2).expect("a Monday");
    println!("{devices} devices, {days} days from {start}, seed {seed}.\n");
    for (share, spell) in [(0.0, 1.0), (0.05, 2.0), (0.1, 2.0), (0.1, 3.0), (0.2, 3.0)] {
        let offline = OfflineModel {
            share,
            mean_spell_days: spell,
        };
        let a = report_arrival(&schema, devices, days, start, seed, offline);
        println!(
            "Offline on {:.0} % of days on average, spells of {spell} days ({} reports):\n",
            share * 100.0,
            a.reports
        );
        println!("{a}");
    }
}
