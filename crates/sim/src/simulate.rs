//! The fleet simulator: simulated devices driving the real SDK and
//! uploading over HTTP, on simulated time, with a ground truth to measure
//! released statistics against.
//!
//! [`run`] takes a [`SimConfig`] and does, in order:
//!
//! 1. Builds the fleet's profiles from the seed (see the usage model below)
//!    and fetches each configured region's key from the signed list at
//!    `{collector_url}/v1/regions/{region}/keys` ([`crate::keys::fetch_key`],
//!    shared with the load generator), checked with the region's signing
//!    key ([`SimConfig::signing_keys`]). The devices pin that key's public
//!    half and are handed a list of the fetched key signed for the
//!    simulated days: the collector's own list is dated by its clock, and
//!    devices living in the past would rightly refuse it as issued in
//!    their future.
//! 2. Makes a directory for the devices' SDK data: under `/dev/shm` when it
//!    exists and is writable (the SDK fsyncs every state file; on tmpfs that
//!    costs nothing), else under [`SimConfig::work_dir`]. It is removed at
//!    the end.
//! 3. For each simulated day: sets one shared SDK
//!    [`ManualClock`](candor_sdk::ManualClock) to the day's noon (UTC) and
//!    calls [`SimHooks::day_started`] with it, so that a collector embedded
//!    in the same process can set its own clock (a collector accepts days
//!    within its window around its today). On the first day every device
//!    opens its [`Candor`](candor_sdk::Candor) instance and stores its
//!    consent decisions and child-profile switch. Then each device, on
//!    `threads` worker threads, records its day through the SDK's typed
//!    handles, toggling private mode around its private browsing sessions;
//!    calls `end_day()`, which builds, clamps, randomizes and seals that
//!    day's reports; and `upload_pending()`, which sends them with the
//!    SDK's own `HttpUploader` (one keep-alive agent per worker thread).
//!    Every report of a day is built and sent on that day, the last day
//!    included, so nothing is left behind when `run` returns.
//! 4. Reports the collector asked to retry later stay queued and go with
//!    the device's next upload; after the last day, devices with queued
//!    reports try again a few times (moving the clock on within the day,
//!    past the SDK's backoff). What is still queued then is counted as
//!    [`SimSummary::unsent`].
//!
//! Alongside, the simulator records what every device really did into a
//! [`GroundTruth`], aggregated as the collector keys its rows, in two
//! versions: everything (`all`, before consent and privacy) and what could
//! reach the collector (`eligible`), and, for each activity metric, the
//! true daily, weekly and monthly active devices, new devices and the
//! retention table per region, counted from each device's own days of use
//! (never from the SDK's flags). [`GroundTruth::write_json`] saves it.
//!
//! # The usage model
//!
//! Deterministic for a seed (ChaCha8 streams per device and per device-day,
//! so the thread count does not matter), and so is the ground truth; what
//! the SDK adds — report ids, HPKE keys, local-DP coins — is fresh each run:
//!
//! - **Devices**: region by the configured shares; platform android 55 %,
//!   ios 35 %, exampleos 10 % (other closed sets: Zipf over their values);
//!   app versions `122.0.6261.64`, `121.3.6167.101`, `121.0.6167.85`,
//!   `120.1.6099.230` (a rollout: 42/33/15/10 %); OS versions per platform
//!   (`14`, `13.0.1`, `17.4.1`, ...). The SDK coarsens these raw values.
//! - **Consent**: each purpose granted with its configured rate; 60 % of the
//!   decisions follow one per-device attitude, so people who allow the
//!   sensitive purpose mostly allow the others (each rate stays as set).
//!   Child profiles: `child_share` of devices.
//! - **Engagement and lifecycle**: 70 % of devices are installed before
//!   the run, 30 % on a day of it (uniformly), and used on that day; of
//!   those, 35 % are only tried and abandoned after a few days
//!   (exponential, mean 7), and any device is abandoned with 0.4 % a day.
//!   While installed, a device is used on a day with its own engagement
//!   (Beta, mean 0.5, concentration 1.5: many use it most days, many now
//!   and then), × 0.91 at weekends. So daily, weekly and monthly active
//!   devices differ, and retention falls with the weeks since install.
//! - **Activity** on a day of use: per device log-normal (median 1, σ
//!   0.7), 10 % more at weekends.
//! - **Day-level metrics** (outside private mode), by type and the words
//!   of the id (split at `.` and `_`): labeled counters ~18 events a day × activity over Zipf-skewed
//!   labels with per-device favourites (known app names have a realistic
//!   order; camera and gallery more at weekends, clock less); failures
//!   (`crash`, `fail`, `not_responding`, ...) rare, × a per-device
//!   instability; booleans are per-device settings (35 % on), daily states
//!   (`battery`, `saver`: per-device propensity) or rare failure flags;
//!   categories are per-device settings with skewed shares (search engines
//!   and text sizes have realistic ones); a `storage`/`gb` distribution
//!   is one daily sample of a slowly growing per-device level; other
//!   distributions get a few samples around their middle bucket.
//! - **Browsing**: Poisson(2.5 × activity) sessions a day (× 1.2 at
//!   weekends), each private with the device's propensity (Beta with mean
//!   `private_share` and concentration 2: most people rarely browse
//!   privately, a few mostly do). A session lasts log-normal
//!   minutes (median 6) → `minute`/`session` distributions; opens tabs
//!   (Poisson 0.5 + minutes/4) and bookmarks (rare) → counters with `tab` /
//!   `bookmark`; loads Poisson(1 + 0.6 × minutes) pages, each on a domain
//!   drawn by Zipf (s = 1.05) from 3 000 synthetic registrable domains
//!   (16 popular `sim*.com`-like sites, then `site{n}.{com,net,de,...}`:
//!   real public suffixes, since the SDK refuses reserved ones such as
//!   `.example`), with a load time log-normal around 1 s × the device's
//!   network × the site's slowness → `ms`/`load` distributions; a load
//!   over 8 s puts the domain into a `slow` domain set (other domain sets
//!   get every page's domain).
//!
//! # Performance
//!
//! Per device-day the simulator spends about 0.6 ms of CPU (some 30 % of it
//! the SDK's HPKE sealing, much of the rest its fsynced file writes) and the
//! collector about 0.3 ms (HTTP, HPKE open, validation, SQLite). Measured
//! on 2 cores with `candor serve` (release build, data on disk) on the same
//! machine, 14 days, default threads (16):
//!
//! | devices × days | wall time |
//! |---|---|
//! | 1 000 × 14 | 8.2 s |
//! | 2 000 × 14 | 15.3 s |
//! | 5 000 × 14 | 38.2 s |
//! | 2 000 × 7 (the default) | 7.1 s |
//! | 1 000 × 30 | 16.2 s |
//!
//! Two choices matter. Device data on tmpfs: the SDK fsyncs every state,
//! outbox and sent file; with the device directories on disk instead,
//! 1 000 × 14 took 16.2 s (the simulator's system time tripled). Many more
//! threads than cores: each upload waits for the collector's group commit,
//! so with 2 threads the same run took 30.2 s, with 8 about 11–14 s, with
//! 16 8–11 s, and 32 were no faster.
//!
//! ```no_run
//! use candor_protocol::Day;
//! use candor_sim::simulate::{self, NoHooks, SimConfig};
//!
//! let schema = candor_schema::load("examples/browser.toml")?.schema;
//! let start = Day::from_ymd(2026, 11, 23).expect("a real day");
//! let mut config = SimConfig::new("http://127.0.0.1:8750", schema, start);
//! let signing = std::fs::read("candor-data/eu/keys/signing.private.json")?;
//! config.signing_keys = vec![candor_protocol::SigningKey::from_private_json(&signing)?];
//! config.regions = vec![("eu".into(), 1.0)];
//! config.devices = 500;
//! config.days = 7;
//! let summary = simulate::run(&config, &NoHooks)?;
//! println!("{summary}");
//! summary.truth.write_json("truth.json".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod arrival;
mod error;
mod fleet;
mod model;
mod rng;
mod summary;
mod truth;
pub mod usage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use candor_protocol::{Day, KeyList, SigningKey, VerifyingKey};
use candor_schema::Schema;
use candor_sdk::ManualClock;
use indicatif::{ProgressBar, ProgressStyle};

pub use arrival::{Arrival, OfflineModel, report_arrival};
pub use error::SimError;
pub use summary::{PurposeSummary, RegionSummary, ReportCounts, SimSummary};
pub use truth::{
    ActivityCounts, ActivityTruth, GroundTruth, TRUTH_FORMAT, TruthCells, TruthGroup, TruthMetric,
    Version,
};

use fleet::{Env, UploadCounts, Worker};
use model::{DayCtx, Fleet, Interner, Model};

/// Most simulated days in one run (ten years).
pub const MAX_DAYS: u32 = 3_660;

/// How many times devices with queued reports try again after the last day.
const FINAL_RETRIES: u32 = 10;

/// What to simulate, against which collector. Start from
/// [`SimConfig::new`] and change fields (struct update syntax works:
/// `SimConfig { devices: 500, ..SimConfig::new(url, schema, start) }`).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The collector's base URL, e.g. `http://127.0.0.1:8750`: keys come
    /// from `{url}/v1/regions/{r}/keys`, reports go to
    /// `{url}/v1/regions/{r}/reports`.
    pub collector_url: String,
    /// The data dictionary the devices' SDKs use.
    pub schema: Schema,
    /// How many devices.
    pub devices: usize,
    /// How many days, 1..=[`MAX_DAYS`].
    pub days: u32,
    /// The first simulated day.
    pub start: Day,
    /// Regions and their share of devices (shares are normalized; every
    /// region must be in the schema and served by the collector).
    pub regions: Vec<(String, f64)>,
    /// Purpose → share of users who grant it, in [0, 1]. Purposes of the
    /// schema that are missing are never granted.
    pub consent: BTreeMap<String, f64>,
    /// Average share of browsing sessions done in private mode, in [0, 1].
    pub private_share: f64,
    /// Share of devices with a child profile (no collection), in [0, 1].
    pub child_share: f64,
    /// Seed of the whole usage model.
    pub seed: u64,
    /// Where the device data directories go when tmpfs is not used.
    pub work_dir: PathBuf,
    /// Put the device data on `/dev/shm` when it exists and is writable.
    pub prefer_tmpfs: bool,
    /// Worker threads driving the devices, at least 1.
    pub threads: usize,
    /// Timeout of fetching a region's key.
    pub timeout: Duration,
    /// The signing key of every simulated region (the collector's
    /// `<region>/keys/signing.private.json`): the fetched key list is
    /// checked with its public half, which the devices pin, and the
    /// devices' own list is signed with it for the simulated days.
    pub signing_keys: Vec<SigningKey>,
}

impl SimConfig {
    /// A configuration with the defaults of `candor simulate` for
    /// everything but the collector, schema and first day: 2 000 devices,
    /// 7 days, regions `eu` 60 % / `us` 40 % when the schema has both (else
    /// every region of the schema equally), consent `usage` 0.7,
    /// `diagnostics` 0.6, `browsing` 0.3 and 0.5 for any other purpose of
    /// the schema, 15 % private browsing, 5 % child profiles, seed 1, work
    /// directory the system's temp directory (tmpfs preferred),
    /// [`default_threads`] workers, 10 s key timeout.
    pub fn new(collector_url: impl Into<String>, schema: Schema, start: impl Into<Day>) -> Self {
        let regions = if schema.regions.contains_key("eu") && schema.regions.contains_key("us") {
            vec![("eu".to_owned(), 0.6), ("us".to_owned(), 0.4)]
        } else {
            schema.regions.keys().map(|r| (r.clone(), 1.0)).collect()
        };
        let consent = schema
            .purposes
            .keys()
            .map(|p| {
                let rate = match p.as_str() {
                    "usage" => 0.7,
                    "diagnostics" => 0.6,
                    "browsing" => 0.3,
                    _ => 0.5,
                };
                (p.clone(), rate)
            })
            .collect();
        SimConfig {
            collector_url: collector_url.into(),
            schema,
            devices: 2_000,
            days: 7,
            start: start.into(),
            regions,
            consent,
            private_share: 0.15,
            child_share: 0.05,
            seed: 1,
            work_dir: std::env::temp_dir(),
            prefer_tmpfs: true,
            threads: default_threads(),
            timeout: Duration::from_secs(10),
            signing_keys: Vec::new(),
        }
    }

    /// The last simulated day, if representable.
    pub fn end(&self) -> Option<Day> {
        self.start.add_days(i64::from(self.days.max(1)) - 1)
    }

    /// Checks every field against the schema and its range.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::InvalidConfig(m));
        if self.devices == 0 {
            return bad("at least one device is needed".into());
        }
        if self.days == 0 || self.days > MAX_DAYS {
            return bad(format!("days must be 1..={MAX_DAYS}, not {}", self.days));
        }
        if self.end().is_none() {
            return bad(format!("{} + {} days is not a date", self.start, self.days));
        }
        if self.threads == 0 {
            return bad("at least one thread is needed".into());
        }
        if self.regions.is_empty() {
            return bad("at least one region is needed".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (region, share) in &self.regions {
            if self.schema.region(region).is_none() {
                return bad(format!(
                    "region {region:?} is not in schema {} (it has {})",
                    self.schema.id,
                    list(self.schema.regions.keys())
                ));
            }
            if !seen.insert(region) {
                return bad(format!("region {region:?} is listed twice"));
            }
            if !self.signing_keys.iter().any(|k| k.region() == region) {
                return bad(format!("no signing key for region {region:?}"));
            }
            if !(share.is_finite() && *share >= 0.0) {
                return bad(format!(
                    "the share of region {region:?} must be a number ≥ 0, not {share}"
                ));
            }
        }
        if self.regions.iter().map(|(_, s)| s).sum::<f64>() <= 0.0 {
            return bad("the region shares must not all be 0".into());
        }
        for (purpose, rate) in &self.consent {
            if self.schema.purpose(purpose).is_none() {
                return bad(format!(
                    "purpose {purpose:?} is not in schema {} (it has {})",
                    self.schema.id,
                    list(self.schema.purposes.keys())
                ));
            }
            if !(0.0..=1.0).contains(rate) {
                return bad(format!(
                    "the consent rate of {purpose:?} must be in [0, 1], not {rate}"
                ));
            }
        }
        for (name, share) in [
            ("private share", self.private_share),
            ("child share", self.child_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return bad(format!("the {name} must be in [0, 1], not {share}"));
            }
        }
        if self.timeout.is_zero() {
            return bad("the key timeout must be positive".into());
        }
        Ok(())
    }
}

/// The default worker count: 8 per core, at most 64. A device spends most
/// of its day waiting for the collector's answers (each upload returns only
/// after the collector's group commit), so many more threads than cores
/// keep both the simulator and the collector busy; measured on 2 cores,
/// 16 threads ran a fleet 3× faster than 2, and 32 no faster than 16.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .saturating_mul(8)
        .min(64)
}

fn list<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// Callbacks from a run, on any thread.
pub trait SimHooks: Sync {
    /// Called before the devices act on each simulated day, with the day's
    /// noon in Unix seconds (UTC): a collector in the same process sets its
    /// clock here so the reports of the day fall inside its day window.
    fn day_started(&self, unix_seconds: i64) {
        let _ = unix_seconds;
    }

    /// Device-days done so far, out of `total` (devices × days). Called
    /// often, from the worker threads: keep it cheap.
    fn progress(&self, done: u64, total: u64) {
        let _ = (done, total);
    }
}

/// Hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl SimHooks for NoHooks {}

/// Hooks that draw a progress bar of device-days on stderr (hidden when
/// stderr is not a terminal), showing the simulated day.
#[derive(Debug)]
pub struct ProgressBarHooks {
    bar: ProgressBar,
}

impl ProgressBarHooks {
    /// A bar, or a hidden one when `show` is false.
    pub fn new(show: bool) -> Self {
        let bar = if show {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {pos}/{len} device-days ({elapsed_precise}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        ProgressBarHooks { bar }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl SimHooks for ProgressBarHooks {
    fn day_started(&self, unix_seconds: i64) {
        if let Some(day) = Day::from_unix_seconds(unix_seconds) {
            self.bar.set_message(day.to_string());
        }
    }

    fn progress(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }
}

/// The device data directory of a run; removed when dropped.
struct DeviceDir {
    path: PathBuf,
    tmpfs: bool,
}

impl DeviceDir {
    fn create(config: &SimConfig) -> Result<Self, SimError> {
        let shm = Path::new("/dev/shm");
        if config.prefer_tmpfs
            && shm.is_dir()
            && let Some(path) = unique_dir(shm)
        {
            return Ok(DeviceDir { path, tmpfs: true });
        }
        std::fs::create_dir_all(&config.work_dir).map_err(|source| SimError::Io {
            path: config.work_dir.clone(),
            source,
        })?;
        match unique_dir(&config.work_dir) {
            Some(path) => Ok(DeviceDir { path, tmpfs: false }),
            None => Err(SimError::Io {
                path: config.work_dir.clone(),
                source: std::io::Error::other("cannot create a directory for the devices"),
            }),
        }
    }
}

/// A new directory `candor-sim-{pid}-{n}` under `parent`.
fn unique_dir(parent: &Path) -> Option<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (0..100).find_map(|i| {
        let path = parent.join(format!(
            "candor-sim-{}-{}",
            std::process::id(),
            u64::from(nanos) + i
        ));
        std::fs::create_dir(&path).ok().map(|()| path)
    })
}

impl Drop for DeviceDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs `f` on every worker, one thread each; the first error wins.
fn each<F>(workers: &mut [Worker], f: F) -> Result<(), SimError>
where
    F: Fn(&mut Worker) -> Result<(), SimError> + Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = workers
            .iter_mut()
            .map(|w| {
                let f = &f;
                s.spawn(move || f(w))
            })
            .collect();
        let mut result = Ok(());
        for h in handles {
            match h.join() {
                Ok(r) => result = result.and(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        result
    })
}

/// Simulates the fleet of `config` against its collector (see the module
/// docs). Fails only in setup (bad configuration, no key, no directory for
/// the devices); refusals and unreachable collectors during the run are
/// counted in the summary.
pub fn run(config: &SimConfig, hooks: &dyn SimHooks) -> Result<SimSummary, SimError> {
    let started = Instant::now();
    config.validate()?;
    let schema = &config.schema;
    let model = Model::new(schema, config.seed);
    let total_share: f64 = config.regions.iter().map(|(_, s)| s).sum();
    let fleet = Fleet {
        days: config.days,
        region_cdf: model_cdf(config.regions.iter().map(|(_, s)| s / total_share)),
        consent: model
            .purposes
            .iter()
            .map(|p| config.consent.get(&p.id).copied().unwrap_or(0.0))
            .collect(),
        private_share: config.private_share,
        child_share: config.child_share,
    };
    let mut interner = Interner::default();
    let profiles: Vec<_> = (0..config.devices)
        .map(|i| model.profile(i, &fleet, &mut interner))
        .collect();
    let regions: Vec<String> = config.regions.iter().map(|(r, _)| r.clone()).collect();
    let keys: Vec<DeviceKeys> = regions
        .iter()
        .map(|r| DeviceKeys::fetch(config, r))
        .collect::<Result<_, _>>()?;

    // Truth header, from the profiles.
    let mut truth = GroundTruth {
        format: TRUTH_FORMAT,
        schema: schema.id.clone(),
        schema_version: schema.version,
        seed: config.seed,
        start: config.start.to_string(),
        days: config.days,
        devices: config.devices as u64,
        metrics: model
            .metrics
            .iter()
            .map(|m| (m.metric.id.clone(), truth::describe(&m.metric)))
            .collect(),
        ..GroundTruth::default()
    };
    let mut purposes: BTreeMap<String, PurposeSummary> = model
        .purposes
        .iter()
        .map(|p| (p.id.clone(), PurposeSummary::default()))
        .collect();
    let mut region_summaries: BTreeMap<String, RegionSummary> = regions
        .iter()
        .map(|r| (r.clone(), RegionSummary::default()))
        .collect();
    for p in &profiles {
        *truth
            .devices_by_region
            .entry(regions[p.region].clone())
            .or_default() += 1;
        if let Some(r) = region_summaries.get_mut(&regions[p.region]) {
            r.devices += 1;
        }
        truth.child_devices += u64::from(p.child);
        for (purpose, granted) in model.purposes.iter().zip(&p.granted) {
            let s = purposes.entry(purpose.id.clone()).or_default();
            s.granted += u64::from(*granted);
            s.collecting += u64::from(*granted && !p.child);
        }
    }
    truth.consenting_devices = purposes
        .iter()
        .map(|(id, s)| (id.clone(), s.collecting))
        .collect();

    let dir = DeviceDir::create(config)?;
    let threads = config.threads.min(config.devices).max(1);
    let mut workers: Vec<Worker> = (0..threads)
        .map(|_| Worker::new(&config.collector_url))
        .collect();
    for p in profiles {
        workers[p.index % threads].profiles.push(p);
    }
    let days: Vec<DayCtx> = (0..config.days)
        .filter_map(|i| {
            config
                .start
                .add_days(i64::from(i))
                .map(|d| DayCtx::new(i, d))
        })
        .collect();
    let clock = ManualClock::new(config.start.noon());
    let done = AtomicU64::new(0);
    let total = config.devices as u64 * u64::from(config.days);
    let env = Env {
        model: &model,
        schema,
        keys: &keys,
        dir: &dir.path,
        clock: &clock,
        hooks,
        done: &done,
        total,
    };
    for ctx in &days {
        let now = ctx.day.noon();
        clock.set(now);
        hooks.day_started(now);
        if ctx.index == 0 {
            each(&mut workers, |w| w.open(&env))?;
        }
        each(&mut workers, |w| {
            w.day(&env, *ctx);
            Ok(())
        })?;
        hooks.progress((u64::from(ctx.index) + 1) * config.devices as u64, total);
    }

    // Last tries for reports the collector asked to retry later: at once
    // while the collector takes some, with a growing pause when it takes
    // none (it may be overloaded or restarting).
    let queued = |workers: &[Worker]| -> usize {
        workers
            .iter()
            .flat_map(|w| &w.devices)
            .map(|d| d.queued)
            .sum()
    };
    let mut unsent = queued(&workers);
    let mut pause = Duration::from_millis(100);
    for _ in 0..FINAL_RETRIES {
        if unsent == 0 {
            break;
        }
        // Past the SDK's backoff (at most an hour here), same day.
        clock.set(candor_sdk::Clock::now(&clock) + 3_601);
        each(&mut workers, |w| {
            w.retry();
            Ok(())
        })?;
        let left = queued(&workers);
        if left >= unsent {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(3));
        }
        unsent = left;
    }

    // Gather.
    let mut counts = UploadCounts::default();
    let mut table = truth::TruthTable::default();
    let mut sdk_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut summary_stats = fleet::WorkerStats::default();
    for w in workers {
        counts.merge(&w.uploader.counts());
        for (code, n) in w.sdk_errors() {
            *sdk_errors.entry(code).or_default() += n;
        }
        summary_stats.active_days += w.stats.active_days;
        summary_stats.sessions += w.stats.sessions;
        summary_stats.private_sessions += w.stats.private_sessions;
        table.merge(w.table);
        // Dropping the devices persists their state: still inside `dir`.
        drop(w.devices);
    }
    let day_names: Vec<String> = days.iter().map(|d| d.day.to_string()).collect();
    truth.activity = table.activity(&model, &regions, config.start, config.days);
    truth.cells = table.into_cells(&model, &regions, &day_names, &interner.names);

    let mut reports = ReportCounts::default();
    for ((region, purpose), v) in &counts.verdicts {
        for target in [
            Some(&mut reports),
            region_summaries.get_mut(region).map(|r| &mut r.reports),
            purposes.get_mut(purpose).map(|p| &mut p.reports),
        ]
        .into_iter()
        .flatten()
        {
            target.accepted += v.accepted;
            target.duplicate += v.duplicate;
            target.rejected += v.rejected;
        }
    }
    let end = config.end().unwrap_or(config.start);
    let (device_dir, tmpfs) = (dir.path.clone(), dir.tmpfs);
    drop(dir);
    Ok(SimSummary {
        devices: config.devices as u64,
        days: config.days,
        start: config.start.to_string(),
        end: end.to_string(),
        active_device_days: summary_stats.active_days,
        sessions: summary_stats.sessions,
        private_sessions: summary_stats.private_sessions,
        child_devices: truth.child_devices,
        reports,
        requests: counts.requests,
        retried_requests: counts.retry_later,
        unsent: unsent as u64,
        rejected_by_code: counts.rejected_by_code,
        regions: region_summaries,
        purposes,
        sdk_errors,
        device_dir,
        tmpfs,
        threads,
        elapsed: started.elapsed(),
        truth,
    })
}

fn model_cdf(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    rng::cumulative(weights)
}

#[cfg(test)]
mod tests;

/// What the devices of one region are given: the pinned signing public key
/// and a key list signed for the whole simulated period.
pub(crate) struct DeviceKeys {
    pub(crate) signing_key: VerifyingKey,
    pub(crate) key_list: Vec<u8>,
}

impl DeviceKeys {
    /// Fetches `region`'s key from the collector (checked with its signing
    /// key) and signs a list of it valid from the day before the first
    /// simulated day to 60 days after the last.
    fn fetch(config: &SimConfig, region: &str) -> Result<Self, SimError> {
        let signer = config
            .signing_keys
            .iter()
            .find(|k| k.region() == region)
            .ok_or_else(|| {
                SimError::InvalidConfig(format!("no signing key for region {region:?}"))
            })?;
        let signing_key = signer.verifying_key();
        let key =
            crate::keys::fetch_key(&config.collector_url, &signing_key, None, config.timeout)?;
        let end = config.end().unwrap_or(config.start);
        let issued_at = config.start.noon() - 86_400;
        let list = KeyList {
            region: region.to_owned(),
            serial: u64::try_from(issued_at).unwrap_or(0),
            issued_at,
            expires_at: end.noon() + 60 * 86_400,
            keys: vec![key],
        }
        .sign(signer)
        .map_err(|e| SimError::InvalidConfig(format!("signing the key list of {region}: {e}")))?;
        Ok(DeviceKeys {
            signing_key,
            key_list: list.to_json().into_bytes(),
        })
    }
}
