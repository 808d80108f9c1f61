//! Recording cost of Candor's SDK and of Mozilla's `glean` crate, measured
//! in one run on the same machine.
//!
//! Per operation (see README.md for why there are several glean figures):
//!
//! - `candor`: one `add` on the calling thread. Candor records synchronously
//!   into an atomic; nothing is left to do afterwards (persistence happens
//!   on `flush`, measured separately as `persist/candor_flush`).
//! - `glean_caller_idle`: what the calling (host app) thread pays for one
//!   `add` when Glean's dispatcher thread is asleep, as it is between the
//!   sporadic calls of a real app: enqueueing a closure and waking the
//!   dispatcher. Each add is timed alone (the figure includes one
//!   `Instant::now`); before each, untimed, the dispatcher is drained and
//!   left to park.
//! - `glean_caller_burst`: the calling thread's cost per `add` in bursts of
//!   100 back-to-back adds, while the dispatcher works through the backlog
//!   on the other core (queueing, one wake-up per burst). The queue is
//!   drained, untimed, after each burst.
//! - `glean_drained`: N `add`s followed by waiting until the dispatcher has
//!   recorded them all (`test_get_value` blocks on the dispatcher queue),
//!   divided by N: the full cost of recording, including Glean's per-write
//!   persistence, i.e. the rate the SDK can sustain.
//! - `labeled_counter_add/glean_get_only`: Glean's label lookup alone
//!   (`get("camera")`, which queues nothing), to show where the caller's
//!   time goes.

use std::borrow::Cow;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use glean::net::{CapablePingUploadRequest, PingUploader, UploadResult};
use glean::private::{CounterMetric, LabeledMetric, PingType};
use glean::{ClientInfoMetrics, CommonMetricData, LabeledMetricData, Lifetime, TestGetValue};

/// The labels of `app.opened` in examples/browser.toml, so both SDKs check
/// the label against the same closed set.
const APP_LABELS: [&str; 8] = [
    "camera", "gallery", "browser", "settings", "music", "phone", "messages", "clock",
];

// ---------------------------------------------------------------------------
// Candor
// ---------------------------------------------------------------------------

/// Candor as the integration tests set it up: the example schema, a derived
/// EU key, no background thread, consent to `usage` granted, system clock.
fn candor_open(dir: &Path) -> candor_sdk::Candor {
    let src = include_str!("../../../examples/browser.toml");
    let schema = candor_schema::parse(src, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("the example schema is valid")
        .schema;
    let keys = candor_protocol::KeyPair::derive("eu", 1, &[42; 32]).expect("valid key");
    let mut config = candor_sdk::Config::new(dir, schema, keys.config().clone());
    config.persist_interval = None;
    for (k, v) in [
        ("platform", "android"),
        ("app_version", "121.0.6167.101"),
        ("os_major", "14.2"),
    ] {
        config.dimensions.insert(k.into(), v.into());
    }
    let candor = candor_sdk::Candor::open(config).expect("opens");
    candor.grant("usage").expect("consent stored");
    candor
}

// ---------------------------------------------------------------------------
// Glean
// ---------------------------------------------------------------------------

/// An uploader that never sends: it answers `Done`, so Glean stops its upload
/// thread and keeps the pings pending on disk. (The crate's default
/// `HttpUploader` does not send either: it logs and reports HTTP 200.)
#[derive(Debug)]
struct NeverSends;

impl PingUploader for NeverSends {
    fn upload(&self, _request: CapablePingUploadRequest) -> UploadResult {
        UploadResult::done()
    }
}

struct GleanMetrics {
    /// Keeps the custom ping registered.
    _ping: PingType,
    tabs_opened: CounterMetric,
    app_opened: LabeledMetric<CounterMetric>,
}

fn meta(category: &str, name: &str) -> CommonMetricData {
    CommonMetricData {
        category: category.into(),
        name: name.into(),
        send_in_pings: vec!["usage".into()],
        lifetime: Lifetime::Ping,
        disabled: false,
        ..Default::default()
    }
}

/// Initializes the process-global Glean with upload enabled, Glean's default
/// persistence (`delay_ping_lifetime_io = false`: every write to a
/// ping-lifetime metric is committed to its rkv store, which rewrites its
/// file) unless `GLEAN_DELAY_PING_LIFETIME_IO=1`, and the metrics a
/// `metrics.yaml` would generate. Blocks until initialization has finished.
fn glean_init(dir: &Path) -> GleanMetrics {
    let ping = PingType::new(
        "usage",
        true,   // include_client_id
        false,  // send_if_empty
        true,   // precise_timestamps
        true,   // include_info_sections
        true,   // enabled
        vec![], // schedules_pings
        vec![], // reason_codes
        true,   // follows_collection_enabled
        vec![], // uploader_capabilities
    );
    let tabs_opened = CounterMetric::new(meta("browser", "tabs_opened"));
    let app_opened = LabeledMetric::<CounterMetric>::new(
        LabeledMetricData::Common {
            cmd: meta("app", "opened"),
        },
        Some(APP_LABELS.iter().map(|l| Cow::Borrowed(*l)).collect()),
    );
    // Optional second configuration, Firefox Desktop's: ping-lifetime data
    // kept in memory and persisted in bulk (on shutdown or on request).
    let delay_io = std::env::var_os("GLEAN_DELAY_PING_LIFETIME_IO").is_some_and(|v| v == "1");
    let cfg = glean::ConfigurationBuilder::new(true, dir, "org.example.browser")
        .with_uploader(NeverSends)
        .with_delay_ping_lifetime_io(delay_io)
        .build();
    eprintln!("glean: delay_ping_lifetime_io = {delay_io}");
    glean::initialize(cfg, ClientInfoMetrics::unknown());
    // Blocks on the dispatcher, which starts only once init has finished.
    drain_glean(&tabs_opened);
    GleanMetrics {
        _ping: ping,
        tabs_opened,
        app_opened,
    }
}

/// Waits until Glean's dispatcher has run every task queued so far. Glean
/// has no public "flush" outside its test API; `test_get_value` blocks on
/// the dispatcher queue and then does one small in-memory read.
fn drain_glean(metric: &CounterMetric) -> Option<i32> {
    metric.test_get_value(None)
}

/// Times `iters` calls of `add`, each alone on an idle dispatcher: before
/// every call the dispatcher is drained and left time to go to sleep
/// (crossbeam's receiver spins and yields for some µs before it parks), as
/// between the sporadic calls of a real app. Both are untimed.
fn caller_idle(iters: u64, sync: &CounterMetric, add: impl Fn()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        drain_glean(sync);
        std::thread::sleep(Duration::from_micros(500));
        let start = Instant::now();
        add();
        total += start.elapsed();
    }
    drain_glean(sync);
    total
}

/// Adds per burst in `caller_burst`.
const BURST: u32 = 100;

/// Times `iters` bursts of `BURST` back-to-back calls of `add` on the
/// calling thread only, and returns the time per add (so criterion reports
/// per add); the dispatcher work queued by each burst is waited for
/// afterwards, untimed. A fixed burst length keeps the share of the one
/// wake-up per burst the same from run to run.
fn caller_burst(iters: u64, sync: &CounterMetric, add: impl Fn()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        for _ in 0..BURST {
            add();
        }
        total += start.elapsed();
        drain_glean(sync);
    }
    total / BURST
}

/// Times `iters` calls of `add` plus the dispatcher recording all of them.
fn drained(iters: u64, sync: &CounterMetric, add: impl Fn()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        add();
    }
    drain_glean(sync);
    start.elapsed()
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Criterion's defaults: 3 s warm-up, 5 s measurement, 100 samples.
fn tune_candor(group: &mut Group<'_>) {
    group
        .sampling_mode(SamplingMode::Auto)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(5));
}

// Criterion sizes samples by wall-clock time, which for the glean caller
// benches includes the untimed draining (a database commit per queued add,
// 0.1 to 1.5 ms here): their measurement times are wall budgets, and flat
// sampling gives every sample the same number of iterations.

/// Single adds on a parked dispatcher: ~3 s of wall time, a few thousand adds.
fn tune_idle(group: &mut Group<'_>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
}

/// Bursts of 100 adds, each followed by a drain: ~3 s of wall time.
fn tune_burst(group: &mut Group<'_>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
}

/// Full recording cost: 1 s warm-up, 5 s, flat sampling (N adds per sample).
fn tune_drained(group: &mut Group<'_>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
}

fn compare(c: &mut Criterion) {
    let glean_dir = tempfile::tempdir().expect("tempdir");
    let candor_dir = tempfile::tempdir().expect("tempdir");
    let g = glean_init(glean_dir.path());
    let candor = candor_open(candor_dir.path());
    let tabs = candor.counter("browser.tabs_opened");
    let opened = candor.labeled_counter("app.opened");

    // Each bench is sized by its tune_* function (see their comments).
    let mut group = c.benchmark_group("counter_add");
    tune_candor(&mut group);
    group.bench_function("candor", |b| b.iter(|| tabs.add(black_box(1))));
    tune_idle(&mut group);
    group.bench_function("glean_caller_idle", |b| {
        b.iter_custom(|n| caller_idle(n, &g.tabs_opened, || g.tabs_opened.add(black_box(1))))
    });
    tune_burst(&mut group);
    group.bench_function("glean_caller_burst", |b| {
        b.iter_custom(|n| caller_burst(n, &g.tabs_opened, || g.tabs_opened.add(black_box(1))))
    });
    tune_drained(&mut group);
    group.bench_function("glean_drained", |b| {
        b.iter_custom(|n| drained(n, &g.tabs_opened, || g.tabs_opened.add(black_box(1))))
    });
    group.finish();

    let camera = || g.app_opened.get(black_box("camera")).add(black_box(1));
    let mut group = c.benchmark_group("labeled_counter_add");
    tune_candor(&mut group);
    group.bench_function("candor", |b| {
        b.iter(|| opened.add(black_box("camera"), black_box(1)))
    });
    tune_idle(&mut group);
    group.bench_function("glean_caller_idle", |b| {
        b.iter_custom(|n| caller_idle(n, &g.tabs_opened, camera))
    });
    tune_burst(&mut group);
    group.bench_function("glean_caller_burst", |b| {
        b.iter_custom(|n| caller_burst(n, &g.tabs_opened, camera))
    });
    tune_drained(&mut group);
    group.bench_function("glean_drained", |b| {
        b.iter_custom(|n| drained(n, &g.tabs_opened, camera))
    });
    // Where the caller's time goes: the label lookup alone, which queues
    // nothing (glean_parser's generated code calls `get` on every use).
    tune_candor(&mut group);
    group.bench_function("glean_get_only", |b| {
        b.iter(|| g.app_opened.get(black_box("camera")))
    });
    group.finish();

    // Candor's counterpart of Glean's per-write commit: one persist of the
    // day's aggregates (write, fsync, rename, fsync the directory), which
    // the SDK does on flush() and every persist_interval (60 s by default).
    let mut group = c.benchmark_group("persist");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("candor_flush", |b| {
        b.iter(|| {
            tabs.add(1);
            opened.add("camera", 1);
            candor.flush();
        })
    });
    group.finish();

    // Both SDKs really recorded: a bench of a no-op path would be worthless.
    let glean_tabs = drain_glean(&g.tabs_opened).unwrap_or(0);
    let glean_camera = g.app_opened.get("camera").test_get_value(None).unwrap_or(0);
    assert!(glean_tabs > 0 && glean_camera > 0, "glean recorded nothing");
    assert!(
        candor.error_counts().is_empty(),
        "{:?}",
        candor.error_counts()
    );
    candor.end_day();
    let reports = candor.pending_reports();
    assert!(
        reports.iter().any(|r| r.contains("browser.tabs_opened")),
        "candor recorded nothing: {reports:?}"
    );
    eprintln!(
        "check: glean browser.tabs_opened = {glean_tabs}, app.opened[camera] = {glean_camera}; \
         candor queued {} report(s)",
        reports.len()
    );
    eprintln!(
        "glean database file: {} bytes",
        std::fs::metadata(glean_dir.path().join("db").join("data.safe.bin"))
            .map(|m| m.len())
            .unwrap_or(0)
    );
    glean::shutdown();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    compare(&mut c);
    c.final_summary();
}
