//! The raw, in-process HPKE-open rate: the ceiling for the collector's
//! end-to-end ingest rate (BENCHMARKS.md compares the two).
//!
//! Pre-seals the same kind of reports `candor load` sends (same generator,
//! same seed), then opens and decodes them on every core with
//! `candor_protocol::Opener`, no HTTP, no validation, no storage.
//!
//! `cargo run --release -p candor-sim --example open_rate -- [reports] [threads] [backend]`
//!
//! `backend` is an `OpenBackend` name (`hpke`, or `aws-lc` when built with
//! candor-protocol's `fast-open` feature, as `bench/collector.sh` builds
//! it); without it, the default backend, the one `candor serve` uses.

use std::time::Instant;

use candor_protocol::{Day, KeyPair, OpenBackend, Opener};
use candor_sim::load::preseal;

fn main() {
    let mut args = std::env::args().skip(1);
    let reports: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let threads: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let backend = match args.next() {
        None => OpenBackend::DEFAULT,
        Some(name) => *OpenBackend::ALL
            .iter()
            .find(|b| b.name() == name)
            .unwrap_or_else(|| panic!("no backend {name:?} in this build: {:?}", OpenBackend::ALL)),
    };
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/browser.toml"
    ))
    .expect("example schema");
    let day = Day::from_ymd(2026, 11, 29).expect("day");
    let schema = candor_schema::parse(&src, "browser.toml", day.date())
        .expect("valid")
        .schema;
    let keys = KeyPair::generate("eu", 1).expect("key");
    let envelopes = preseal(&schema, keys.config(), day, reports, 1, false).expect("sealed");
    let bytes: usize = envelopes.iter().map(Vec::len).sum();
    let opener = Opener::new("eu", [keys])
        .expect("opener")
        .with_backend(backend);
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    std::thread::scope(|s| {
        for part in envelopes.chunks(envelopes.len().div_ceil(threads)) {
            let opener = &opener;
            s.spawn(move || {
                for e in part {
                    std::hint::black_box(opener.open(e).expect("opens"));
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let cpu = process_cpu_secs().zip(cpu_before).map(|(a, b)| a - b);
    println!(
        "opened {reports} reports ({} bytes on average) with {backend} on {threads} threads in {secs:.3} s: {:.0} reports/s ({:.1} µs per report per thread)",
        bytes / reports.max(1),
        reports as f64 / secs,
        secs * 1e6 * threads as f64 / reports as f64
    );
    if let Some(cpu) = cpu {
        // On a machine shared with other work the wall-clock figures say how
        // much of the cores this run got; the CPU time what opening needed.
        println!(
            "  CPU time {cpu:.2} s: {:.1} µs of CPU per report",
            cpu * 1e6 / reports as f64
        );
    }
}

/// User + system CPU seconds of this process so far, every thread included
/// (`/proc/self/stat`, in the kernel's 100 Hz user ticks); None off Linux.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}
