//! How many reports per second a store commits, in batches: the
//! collector's group-commit path without HTTP and crypto. SQLite in a file
//! by default; PostgreSQL with `--postgres URL` (feature `postgres`), in a
//! namespace of its own that is dropped afterwards.
//!
//! ```text
//! cargo run --release -p candor-store --example commit_rate -- \
//!     [--sync full|normal] [--batches 100] [--batch-size 500] \
//!     [--prefill 0] [--dir DIR]
//! cargo run --release -p candor-store --features postgres --example commit_rate -- \
//!     --postgres postgres://postgres@127.0.0.1:5432/test [--batches …]
//! ```
//!
//! With PostgreSQL the server's CPU is measured too (its backend process's
//! /proc counters; the server must run on this machine).
//!
//! Reports look like the example browser schema's `usage` reports: nine
//! contributions each (three app-open labels, tabs by app version, two
//! session-length buckets, dark mode, text size, default search) over about
//! two hundred distinct rows of one day, with a tenth of the reports from
//! the day before. Ids are random, as real ones are. `--prefill N` first
//! records N ids of older days, as a store a few days into its dedup window
//! holds (a bigger `seen_reports` B-tree makes every insert dearer).
//!
//! Only commits are timed; the batches are built beforehand. Timing is
//! printed, never asserted.

use std::time::{Duration, Instant};

use candor_store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use candor_store::{Contribution, DayNumber, ReportDelta, RowKey, Store};

const SCHEMA: &str = "org.example.browser";
const TODAY: DayNumber = 20_500;
const PLATFORMS: [&str; 3] = ["android", "exampleos", "ios"];
const OS_MAJORS: [&str; 4] = ["12", "13", "14", "15"];
const APP_VERSIONS: [&str; 6] = ["120.1", "120.2", "121.0", "121.1", "121.3", "122.0"];
const APPS: [&str; 8] = [
    "browser", "camera", "clock", "gallery", "messages", "music", "phone", "settings",
];
const SESSION_BUCKETS: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "7"];
const TEXT_SIZES: [&str; 4] = ["default", "large", "largest", "small"];
const SEARCH: [&str; 8] = [
    "baidu",
    "bing",
    "duckduckgo",
    "ecosia",
    "google",
    "other",
    "qwant",
    "yandex",
];

struct Args {
    synchronous: Synchronous,
    batches: usize,
    batch_size: usize,
    prefill: usize,
    dir: Option<std::path::PathBuf>,
    postgres: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        synchronous: Synchronous::Full,
        batches: 100,
        batch_size: 500,
        prefill: 0,
        dir: None,
        postgres: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--sync" => {
                args.synchronous = match value()?.as_str() {
                    "full" => Synchronous::Full,
                    "normal" => Synchronous::Normal,
                    other => return Err(format!("--sync full|normal, not {other}")),
                }
            }
            "--batches" => args.batches = value()?.parse().map_err(|e| format!("{e}"))?,
            "--batch-size" => args.batch_size = value()?.parse().map_err(|e| format!("{e}"))?,
            "--prefill" => args.prefill = value()?.parse().map_err(|e| format!("{e}"))?,
            "--dir" => args.dir = Some(value()?.into()),
            "--postgres" => args.postgres = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// Xorshift64*: reproducible runs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn id(&mut self) -> [u8; 16] {
        let mut id = [0; 16];
        id[..8].copy_from_slice(&self.next().to_le_bytes());
        id[8..].copy_from_slice(&self.next().to_le_bytes());
        id
    }
}

fn report(rng: &mut Rng) -> ReportDelta {
    let day = if rng.next().is_multiple_of(10) {
        TODAY - 1
    } else {
        TODAY
    };
    let platform = rng.pick(&PLATFORMS);
    let os = rng.pick(&OS_MAJORS);
    let version = rng.pick(&APP_VERSIONS);
    let os_platform = format!("os_major={os},platform={platform}");
    let by_platform = format!("platform={platform}");
    let key = |metric: &str, dimensions: &str, cell: &str| RowKey {
        schema_id: SCHEMA.to_owned(),
        day,
        purpose: "usage".to_owned(),
        consent_version: 1,
        metric: metric.to_owned(),
        dimensions: dimensions.to_owned(),
        cell: cell.to_owned(),
    };
    let mut contributions = Vec::with_capacity(9);
    let mut push = |key: RowKey, value: u64| {
        contributions.push(Contribution {
            key,
            value: i64::try_from(value).unwrap_or(i64::MAX),
        });
    };
    // Three distinct apps opened (a labeled counter).
    let first = rng.next() as usize % APPS.len();
    for step in [0, 3, 5] {
        let app = APPS[(first + step) % APPS.len()];
        push(key("app.opened", &os_platform, app), 1 + rng.next() % 20);
    }
    push(
        key(
            "browser.tabs_opened",
            &format!("app_version={version},platform={platform}"),
            "",
        ),
        rng.next() % 60,
    );
    let bucket = rng.next() as usize % (SESSION_BUCKETS.len() - 1);
    push(
        key(
            "browser.session_minutes",
            &by_platform,
            SESSION_BUCKETS[bucket],
        ),
        1 + rng.next() % 5,
    );
    push(
        key(
            "browser.session_minutes",
            &by_platform,
            SESSION_BUCKETS[bucket + 1],
        ),
        1 + rng.next() % 3,
    );
    let dark = if rng.next().is_multiple_of(3) {
        "true"
    } else {
        "false"
    };
    push(key("settings.dark_mode", &os_platform, dark), 1);
    push(
        key("settings.text_size", &by_platform, rng.pick(&TEXT_SIZES)),
        1,
    );
    push(
        key("browser.default_search", &by_platform, rng.pick(&SEARCH)),
        1,
    );
    ReportDelta {
        report_id: rng.id(),
        day,
        schema_id: SCHEMA.to_owned(),
        purpose: "usage".to_owned(),
        contributions,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    let path = dir.join("commit_rate.sqlite");
    let pg = match &args.postgres {
        Some(url) => Some(pg::Bench::open(url)?),
        None => None,
    };
    let mut store: Box<dyn Store> = match &pg {
        Some(bench) => bench.store()?,
        None => {
            let options = SqliteOptions::default().with_synchronous(args.synchronous);
            Box::new(SqliteStore::open_with(&path, &options)?)
        }
    };
    let mut rng = Rng(0x0DDB_A11C_A4D0_5EED);

    // Older days' ids, committed as plain reports without contributions.
    let mut filled = 0;
    while filled < args.prefill {
        let n = (args.prefill - filled).min(10_000);
        let batch: Vec<ReportDelta> = (0..n)
            .map(|i| ReportDelta {
                report_id: rng.id(),
                day: TODAY - 2 - (i % 3) as DayNumber,
                schema_id: SCHEMA.to_owned(),
                purpose: "usage".to_owned(),
                contributions: Vec::new(),
            })
            .collect();
        store.commit(&batch)?;
        filled += n;
    }

    let batches: Vec<Vec<ReportDelta>> = (0..args.batches)
        .map(|_| (0..args.batch_size).map(|_| report(&mut rng)).collect())
        .collect();
    let contributions: usize = batches
        .iter()
        .flatten()
        .map(|r| r.contributions.len())
        .sum();

    let mut latencies: Vec<Duration> = Vec::with_capacity(batches.len());
    let before = ProcCounters::read();
    let server_before = pg.as_ref().and_then(pg::Bench::server_cpu);
    let start = Instant::now();
    for batch in &batches {
        let t = Instant::now();
        store.commit(batch)?;
        latencies.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    let after = ProcCounters::read();
    let server_after = pg.as_ref().and_then(pg::Bench::server_cpu);

    let reports = args.batches * args.batch_size;
    let rows = store.rows(&Default::default())?.len();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).copied().unwrap_or_default()
    };
    let db_size = match &pg {
        Some(bench) => bench.size().unwrap_or(0),
        None => std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
    };
    println!(
        "backend={} synchronous={:?} batches={} batch_size={} prefill={} contributions/report={:.1} distinct rows={}",
        if pg.is_some() { "postgres" } else { "sqlite" },
        args.synchronous,
        args.batches,
        args.batch_size,
        args.prefill,
        contributions as f64 / reports as f64,
        rows
    );
    println!(
        "{reports} reports in {:.3} s: {:.0} reports/s; batch p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; file {:.1} MiB",
        elapsed.as_secs_f64(),
        reports as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
        db_size as f64 / (1024.0 * 1024.0),
    );
    if let (Some(before), Some(after)) = (before, after) {
        // CPU time and bytes written do not depend on what else the machine
        // is doing; wall time on a shared 2-core box does.
        let cpu = after.cpu_seconds - before.cpu_seconds;
        let written = after.written.saturating_sub(before.written);
        println!(
            "cpu {cpu:.3} s ({:.0} reports per cpu-second); written {:.1} MiB ({:.0} bytes/report)",
            reports as f64 / cpu.max(1e-9),
            written as f64 / (1024.0 * 1024.0),
            written as f64 / reports as f64,
        );
    }
    if let (Some(before), Some(after)) = (server_before, server_after) {
        let cpu = after - before;
        println!(
            "server cpu {cpu:.3} s ({:.0} reports per server cpu-second)",
            reports as f64 / cpu.max(1e-9)
        );
    }
    drop(store);
    if let Some(bench) = pg {
        bench.drop_namespace()?;
    }
    Ok(())
}

/// The PostgreSQL side of the benchmark (a stub without the feature).
#[cfg(feature = "postgres")]
mod pg {
    use candor_store::{Store, StoreConfig};

    /// A namespace of its own, and the tag that finds the store's server
    /// process.
    pub(crate) struct Bench {
        url: String,
        namespace: String,
    }

    impl Bench {
        pub(crate) fn open(url: &str) -> Result<Self, Box<dyn std::error::Error>> {
            let namespace = format!("bench{}", std::process::id());
            let sep = if url.contains('?') { '&' } else { '?' };
            Ok(Self {
                url: format!("{url}{sep}application_name={namespace}"),
                namespace,
            })
        }

        pub(crate) fn store(&self) -> Result<Box<dyn Store>, Box<dyn std::error::Error>> {
            Ok(
                StoreConfig::postgres(self.url.clone(), self.namespace.clone())
                    .open_region("eu")?,
            )
        }

        /// Bytes of the region's tables and indexes.
        pub(crate) fn size(&self) -> Option<u64> {
            let mut client = postgres::Client::connect(&self.url, postgres::NoTls).ok()?;
            let bytes: i64 = client
                .query_one(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relkind = 'r'",
                    &[&format!("{}_region_eu", self.namespace)],
                )
                .ok()?
                .get(0);
            u64::try_from(bytes).ok()
        }

        /// CPU seconds of the store's server process so far.
        pub(crate) fn server_cpu(&self) -> Option<f64> {
            let mut client = postgres::Client::connect(&self.url, postgres::NoTls).ok()?;
            let pid: i32 = client
                .query_one(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
                     AND pid <> pg_backend_pid() LIMIT 1",
                    &[&self.namespace],
                )
                .ok()?
                .get(0);
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks: u64 =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        }

        pub(crate) fn drop_namespace(self) -> Result<(), Box<dyn std::error::Error>> {
            candor_store::postgres::drop_namespace(&self.url, &self.namespace)?;
            Ok(())
        }
    }
}

#[cfg(not(feature = "postgres"))]
mod pg {
    use candor_store::Store;

    /// Without the feature there is no PostgreSQL to measure.
    pub(crate) enum Bench {}

    impl Bench {
        pub(crate) fn open(_: &str) -> Result<Self, Box<dyn std::error::Error>> {
            Err("--postgres needs the `postgres` feature".into())
        }
        pub(crate) fn store(&self) -> Result<Box<dyn Store>, Box<dyn std::error::Error>> {
            match *self {}
        }
        pub(crate) fn server_cpu(&self) -> Option<f64> {
            match *self {}
        }
        pub(crate) fn size(&self) -> Option<u64> {
            match *self {}
        }
        pub(crate) fn drop_namespace(self) -> Result<(), Box<dyn std::error::Error>> {
            match self {}
        }
    }
}

/// Process CPU time and bytes passed to write(2), from /proc (Linux only).
struct ProcCounters {
    cpu_seconds: f64,
    written: u64,
}

impl ProcCounters {
    fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name; utime and stime are
        // fields 14 and 15 of the whole line, in clock ticks (100 per second
        // on every Linux configuration we run on).
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let io = std::fs::read_to_string("/proc/self/io").ok()?;
        let written = io
            .lines()
            .find_map(|l| l.strip_prefix("wchar:"))?
            .trim()
            .parse()
            .ok()?;
        Some(Self {
            cpu_seconds: ticks as f64 / 100.0,
            written,
        })
    }
}
