//! Latency of a release over a year of aggregates.
//!
//! `cargo bench -p candor-collector --bench query`. Figures go to
//! BENCHMARKS.md ("Query latency").
//!
//! Runs on SQLite, then on PostgreSQL when one answers (found by
//! candor-testkit, `CANDOR_TEST_POSTGRES_URL`; a namespace of its own,
//! dropped afterwards; without a server it prints a SKIPPED line). The
//! criterion groups are `query/sqlite` and `query/postgres`.
//!
//! Setup (timed and printed, then the roll-up of the whole year, as the
//! first release after the days closed would do it): a file-backed SQLite
//! store (a temporary directory, default options: WAL, `synchronous=FULL`,
//! since every release commits its ledger charge, cached answer and audit
//! entry), or a PostgreSQL region schema, holding 365
//! days of region eu's aggregates for every metric of examples/browser.toml:
//! each metric's cells × every combination of the dimensions it declares
//! (platform × 6 app versions × 4 OS majors where declared), and for
//! `browser.slow_domains` a Zipf-like long tail of a few thousand domains a
//! day (1 500 / 1 000 / 500 per platform). Rows are written as
//! `ReportDelta`s, 12 synthetic reports per purpose and day, each adding to
//! every closed-set row (so those rows have 12 contributors, over the
//! region's k = 10) and the domains split over 1–12 of them by popularity
//! (so the tail falls under k). A synthetic report names far more rows than
//! a real one may; the store does not care, and the rows are what a query
//! reads.
//!
//! Every (metric, dimensions) also gets its report-count row
//! (`candor_store::REPORTS_CELL`) with all 12 reports, as ingest writes it.
//!
//! The registry is the example schema with region eu's ε caps raised to
//! 1 000 000 and its δ cap to 1 after parsing (the TOML validator caps them
//! at 10 and 10⁻³), so that thousands of releases fit in the budget. Every measured iteration is a new query, not a cache hit: its ε
//! is `0.5 + (i mod 1000)·0.001 + ⌊i/1000⌋·10⁻⁷` (distinct cache keys,
//! noise scales between Δ/0.5 and Δ/1.5). The cached case repeats one query.
//!
//! `QUERY_BENCH_DIR=/some/dir` keeps the database there for inspection
//! (region eu's store in that data directory; its `eu/` is replaced each
//! run).
//!
//! One case per metric type over the year (the labeled counter also by
//! day), a week, a cached repeat, and the store's read alone.
//!
//! Besides criterion's report (median of per-sample means), each case
//! prints the p50/p90 of its individually timed iterations.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use candor_collector::release::{self, Query, Scope};
use candor_collector::validate::{DayWindow, Registry};
use candor_schema::Schema;
use candor_store::{Contribution, ReportDelta, RowFilter, RowKey, Store, StoreConfig};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const REGION: &str = "eu";
const LAST_DAY: &str = "2026-11-28";
const DAYS: i32 = 365;
/// Synthetic reports per purpose and day (contributors of a closed-set row).
const REPORTS: usize = 12;
const PLATFORMS: [&str; 3] = ["android", "ios", "exampleos"];
/// Distinct slow domains per day, per platform.
const DOMAINS_PER_DAY: [usize; 3] = [1_500, 1_000, 500];
const APP_VERSIONS: [&str; 6] = ["120.1", "121.0", "121.3", "122.0", "122.1", "123.0"];
const OS_MAJORS: [&str; 4] = ["12", "13", "14", "15"];

fn schema() -> Schema {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/browser.toml"
    ))
    .expect("example schema");
    let mut schema =
        candor_schema::parse(&src, "browser.toml", time::macros::date!(2026 - 11 - 29))
            .expect("valid")
            .schema;
    let eu = schema.regions.get_mut(REGION).expect("region eu");
    eu.epsilon_per_metric_day = 1_000_000.0;
    eu.epsilon_per_purpose_day = 1_000_000.0;
    eu.delta_per_purpose_day = 1.0;
    schema
}

/// Canonical dimension strings: every combination of the declared ones.
fn combinations(dims: &[String]) -> Vec<String> {
    let mut sorted = dims.to_vec();
    sorted.sort();
    let mut out = vec![Vec::<String>::new()];
    for d in &sorted {
        let values: &[&str] = match d.as_str() {
            "platform" => &PLATFORMS,
            "app_version" => &APP_VERSIONS,
            "os_major" => &OS_MAJORS,
            other => panic!("unknown dimension {other}"),
        };
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push(format!("{d}={v}"));
                    p
                })
            })
            .collect();
    }
    out.into_iter().map(|p| p.join(",")).collect()
}

/// Fills `store` with a year of aggregates; returns the rows written per day.
fn fill(store: &mut dyn Store, schema: &Schema, first: i32) -> usize {
    let mut id = 0u128;
    let mut rows_per_day = 0;
    for day in first..first + DAYS {
        let mut batch = Vec::new();
        for (purpose, p) in &schema.purposes {
            let mut reports: Vec<ReportDelta> = (0..REPORTS)
                .map(|_| {
                    id += 1;
                    ReportDelta {
                        report_id: id.to_le_bytes(),
                        day,
                        schema_id: schema.id.clone(),
                        purpose: purpose.clone(),
                        contributions: Vec::new(),
                    }
                })
                .collect();
            let row = |metric: &str, dimensions: &str, cell: &str| RowKey {
                schema_id: schema.id.clone(),
                day,
                purpose: purpose.clone(),
                consent_version: p.consent_version,
                metric: metric.to_owned(),
                dimensions: dimensions.to_owned(),
                cell: cell.to_owned(),
            };
            for metric in schema.metrics.values().filter(|m| &m.purpose == purpose) {
                let cells: Vec<String> = match metric.kind.cells() {
                    Some(cells) => cells,
                    // An open set (domains): a Zipf-like tail per platform.
                    None => {
                        for (p, &n) in PLATFORMS.iter().zip(&DOMAINS_PER_DAY) {
                            let dims = format!("platform={p}");
                            let count = row(&metric.id, &dims, candor_store::REPORTS_CELL);
                            for r in reports.iter_mut() {
                                r.contributions.push(Contribution {
                                    key: count.clone(),
                                    value: 1,
                                });
                            }
                            for rank in 0..n {
                                let count = (8 * n / (rank + 1)).max(1);
                                let contributors = count.min(REPORTS);
                                let key = row(&metric.id, &dims, &format!("site{rank}.example"));
                                for (j, r) in reports.iter_mut().take(contributors).enumerate() {
                                    let share = count / contributors
                                        + usize::from(j < count % contributors);
                                    r.contributions.push(Contribution {
                                        key: key.clone(),
                                        value: share as i64,
                                    });
                                }
                                rows_per_day += usize::from(day == first);
                            }
                        }
                        continue;
                    }
                };
                for dims in combinations(&metric.dimensions) {
                    let count = row(&metric.id, &dims, candor_store::REPORTS_CELL);
                    for r in reports.iter_mut() {
                        r.contributions.push(Contribution {
                            key: count.clone(),
                            value: 1,
                        });
                    }
                    rows_per_day += usize::from(day == first);
                    for (c, cell) in cells.iter().enumerate() {
                        let key = row(&metric.id, &dims, cell);
                        for (j, r) in reports.iter_mut().enumerate() {
                            r.contributions.push(Contribution {
                                key: key.clone(),
                                value: ((j + 3 * c + day as usize) % 7 + 1) as i64,
                            });
                        }
                        rows_per_day += usize::from(day == first);
                    }
                }
            }
            batch.extend(reports);
        }
        store.commit(&batch).expect("commit");
    }
    rows_per_day
}

fn scope() -> Scope {
    Scope {
        name: "bench".into(),
        admin: true,
        regions: Vec::new(),
        purposes: Vec::new(),
    }
}

fn query(metric: &str, from: &str, to: &str, by_day: bool, epsilon: f64) -> Query {
    Query {
        region: REGION.into(),
        metric: metric.into(),
        schema: None,
        from: from.into(),
        to: to.into(),
        group_by: if by_day {
            vec![release::DAY.into()]
        } else {
            Vec::new()
        },
        filters: BTreeMap::new(),
        cells: Vec::new(),
        epsilon: Some(epsilon),
    }
}

/// A fresh ε for every call: distinct cache keys, scales in [Δ/1.5, Δ/0.5].
fn fresh_epsilon(i: &mut u64) -> f64 {
    let e = 0.5 + (*i % 1000) as f64 * 1e-3 + (*i / 1000) as f64 * 1e-7;
    *i += 1;
    e
}

/// Bytes of a region's files: everything but the WAL and the shared-memory
/// index, and the WAL.
fn file_sizes(dir: &std::path::Path) -> (u64, u64) {
    let (mut database, mut wal) = (0u64, 0u64);
    for entry in std::fs::read_dir(dir).expect("the region's directory") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if name.ends_with("-wal") {
            wal += len;
        } else if !name.ends_with("-shm") {
            database += len;
        }
    }
    (database, wal)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// This thread's nanoseconds on a CPU and waiting for one so far
/// (`/proc/thread-self/schedstat`; zeros where the kernel has none): on a
/// loaded machine the wall time is mostly waiting for a CPU, and these
/// say how much of it was the release's own work.
fn sched() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut fields = text
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(0));
    (fields.next().unwrap_or(0), fields.next().unwrap_or(0))
}

/// One timed call: wall time, time on a CPU, time waiting for one.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
    waited: Duration,
}

/// Times `f` (wall clock and the scheduler's counters).
fn timed<T>(f: impl FnOnce() -> T) -> (T, Timing) {
    let (cpu0, wait0) = sched();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed();
    let (cpu1, wait1) = sched();
    (
        out,
        Timing {
            wall,
            cpu: Duration::from_nanos(cpu1.saturating_sub(cpu0)),
            waited: Duration::from_nanos(wait1.saturating_sub(wait0)),
        },
    )
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn bench(c: &mut Criterion) {
    // QUERY_BENCH_DIR keeps the SQLite database for inspection (region eu
    // of that data directory, written afresh each run); by default it
    // lives in a temporary directory under the target directory (on disk,
    // not tmpfs).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let data_dir = match std::env::var_os("QUERY_BENCH_DIR") {
        Some(keep) => {
            let keep = std::path::PathBuf::from(keep);
            let _ = std::fs::remove_dir_all(keep.join(REGION));
            keep
        }
        None => dir.path().to_owned(),
    };
    let store = StoreConfig::sqlite(&data_dir)
        .open_region(REGION)
        .expect("store");
    run(c, "sqlite", store, Some(&data_dir.join(REGION)));

    // PostgreSQL: a namespace of its own in the test database (see
    // candor-testkit), dropped afterwards; skipped, saying so, without a
    // server.
    if let Some(url) = candor_testkit::POSTGRES.get("the query bench on PostgreSQL") {
        let namespace = format!("querybench{}", std::process::id());
        let store = StoreConfig::postgres(&url, &namespace)
            .open_region(REGION)
            .expect("a PostgreSQL store");
        run(c, "postgres", store, None);
        candor_store::postgres::drop_namespace(&url, &namespace).expect("drop the namespace");
    }
}

/// Fills `store` with the year, rolls it up and times every case in the
/// criterion group `query/<backend>`. `files` is the SQLite store's
/// directory, whose size is printed.
fn run(c: &mut Criterion, backend: &str, mut store: Box<dyn Store>, files: Option<&Path>) {
    let schema = schema();
    let registry = Registry::new([schema.clone()]);
    let last = release::parse_day(LAST_DAY).expect("day");
    let first = last - (DAYS - 1);
    let (from, to) = (release::format_day(first), release::format_day(last));
    let week = release::format_day(last - 6);
    let size = || {
        files.map_or(String::new(), |dir| {
            let (database, wal) = file_sizes(dir);
            format!(
                "; database {:.1} MiB + WAL {:.1} MiB",
                mib(database),
                mib(wal)
            )
        })
    };

    let started = Instant::now();
    let rows_per_day = fill(&mut *store, &schema, first);
    let filled = started.elapsed();
    let rows = store.rows(&RowFilter::default()).expect("rows").len();
    eprintln!(
        "{backend} setup: {rows} aggregate rows ({rows_per_day} a day) over {DAYS} days \
         ({from} … {to}) in {:.1} s{}",
        filled.as_secs_f64(),
        size(),
    );
    // Every day of the year is sealed: roll them up, as the first release
    // after they closed would.
    let started = Instant::now();
    let spans = store.roll_up(last + 1).expect("roll up");
    eprintln!(
        "{backend} roll-up: {spans} spans in {:.1} s{}",
        started.elapsed().as_secs_f64(),
        size(),
    );

    let store = RefCell::new(store);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    // Every day of the year is closed.
    let window = DayWindow {
        today: release::parse_day(LAST_DAY).expect("a day") + 30,
        past_override: None,
        future: 1,
    };
    let mut i = 0u64;
    let tabs = "browser.tabs_opened";
    // The cached case's query, released once here (outside the timing).
    release::release(
        &registry,
        &mut **store.borrow_mut(),
        &scope(),
        &query(tabs, &from, &to, false, 0.25),
        0,
        &window,
        &mut rng,
    )
    .expect("released");
    let timings: RefCell<BTreeMap<&str, Vec<Timing>>> = RefCell::new(BTreeMap::new());
    let mut group = c.benchmark_group(format!("query/{backend}"));
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    let mut case = |name: &'static str, make: &dyn Fn(f64) -> Query, fresh: bool| {
        let fixed = make(0.25);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let q = if fresh {
                        make(fresh_epsilon(&mut i))
                    } else {
                        fixed.clone()
                    };
                    let mut s = store.borrow_mut();
                    let (answer, timing) = timed(|| {
                        release::release(&registry, &mut **s, &scope(), &q, 0, &window, &mut rng)
                            .expect("released")
                    });
                    assert_eq!(answer.cached, !fresh, "{name}");
                    std::hint::black_box(answer);
                    total += timing.wall;
                    timings.borrow_mut().entry(name).or_default().push(timing);
                }
                total
            })
        });
    };

    // One case per metric type over the year, the labeled counter also
    // by day (2 920 groups).
    for (name, metric, by_day) in [
        ("counter, 365 days", tabs, false),
        ("labeled counter, 365 days", "app.opened", false),
        ("labeled counter, 365 days by day", "app.opened", true),
        ("distribution, 365 days", "browser.page_load_ms", false),
        ("boolean (local DP), 365 days", "settings.dark_mode", false),
        (
            "category (local DP), 365 days",
            "browser.default_search",
            false,
        ),
        ("domain set, 365 days", "browser.slow_domains", false),
    ] {
        case(name, &|e| query(metric, &from, &to, by_day, e), true);
    }
    case(
        "counter, 7 days",
        &|e| query(tabs, &week, &to, false, e),
        true,
    );
    // Cached repeat: the query released once below.
    case(
        "cached repeat (counter, 365 days)",
        &|e| query(tabs, &from, &to, false, e),
        false,
    );
    // Where the time goes: the store's read alone.
    let filter = |metric: &str| RowFilter {
        schema_id: Some(schema.id.clone()),
        metric: Some(metric.into()),
        purpose: Some(schema.metric(metric).expect("metric").purpose.clone()),
        from_day: Some(first),
        to_day: Some(last),
    };
    for (name, f, by_day) in [
        (
            "Store::visit_spans only: labeled counter, 365 days by day",
            filter("app.opened"),
            true,
        ),
        (
            "Store::visit_spans only: domain set, 365 days",
            filter("browser.slow_domains"),
            false,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let s = store.borrow();
                    let mut n = 0usize;
                    let ((), timing) = timed(|| {
                        s.visit_spans(&f, by_day, &mut |_| n += 1)
                            .expect("visit spans");
                    });
                    std::hint::black_box(n);
                    total += timing.wall;
                    timings.borrow_mut().entry(name).or_default().push(timing);
                }
                total
            })
        });
    }
    group.finish();

    eprintln!("\n{backend}: per-iteration latency (every timed call, warm-up included):");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (name, t) in timings.into_inner() {
        let mut wall: Vec<Duration> = t.iter().map(|t| t.wall).collect();
        wall.sort();
        // The scheduler's counters move at ticks and switches, so a single
        // call's are coarse: their means are what is meaningful.
        let mean = |field: fn(&Timing) -> Duration| {
            ms(t.iter().map(field).sum::<Duration>()) / t.len() as f64
        };
        eprintln!(
            "  {name}: n = {}, p50 = {:.2} ms, p90 = {:.2} ms, max = {:.2} ms; \
             mean {:.2} ms: {:.2} ms on a CPU, {:.2} ms waiting for one",
            t.len(),
            ms(percentile(&wall, 0.5)),
            ms(percentile(&wall, 0.9)),
            ms(*wall.last().expect("timed")),
            mean(|t| t.wall),
            mean(|t| t.cpu),
            mean(|t| t.waited),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
