//! The devices: one real SDK instance each, driven by the usage model, and
//! the workers that own them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use candor_protocol::{Envelope, batch};
use candor_schema::MetricKind;
use candor_schema::Schema;
use candor_sdk::upload::HttpUploader;
use candor_sdk::{
    ActivityMetric, BackoffPolicy, BooleanMetric, Candor, CategoryMetric, Config, CounterMetric,
    DistributionMetric, DomainSetMetric, LabeledCounterMetric, ManualClock, ReportResult,
    UploadResponse, Uploader,
};

use super::SimHooks;
use super::error::SimError;
use super::model::{DayCtx, DayOutcome, Model, Profile, Sink, Tee};
use super::truth::{DayRecorder, TruthTable};

/// How the collector answered for the reports of one (region, purpose).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Verdicts {
    pub(crate) accepted: u64,
    pub(crate) duplicate: u64,
    pub(crate) rejected: u64,
}

/// What an uploader saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct UploadCounts {
    /// Requests made.
    pub(crate) requests: u64,
    /// Requests answered "try again later" (429, 503, 5xx, network error):
    /// their reports stayed queued.
    pub(crate) retry_later: u64,
    /// (region, purpose) → verdicts.
    pub(crate) verdicts: BTreeMap<(String, String), Verdicts>,
    /// Refused reports by the collector's code.
    pub(crate) rejected_by_code: BTreeMap<String, u64>,
}

impl UploadCounts {
    pub(crate) fn merge(&mut self, other: &UploadCounts) {
        self.requests += other.requests;
        self.retry_later += other.retry_later;
        for (k, v) in &other.verdicts {
            let mine = self.verdicts.entry(k.clone()).or_default();
            mine.accepted += v.accepted;
            mine.duplicate += v.duplicate;
            mine.rejected += v.rejected;
        }
        for (code, n) in &other.rejected_by_code {
            *self.rejected_by_code.entry(code.clone()).or_default() += n;
        }
    }
}

/// The SDK's own [`HttpUploader`] (one keep-alive agent per worker thread),
/// counting every verdict by region, purpose and refusal code: the SDK's
/// upload summary has no codes.
pub(crate) struct CountingUploader {
    http: HttpUploader,
    counts: Mutex<UploadCounts>,
}

impl CountingUploader {
    pub(crate) fn new(base_url: &str) -> Self {
        CountingUploader {
            http: HttpUploader::new(base_url),
            counts: Mutex::new(UploadCounts::default()),
        }
    }

    pub(crate) fn counts(&self) -> UploadCounts {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Uploader for CountingUploader {
    fn upload(&self, region: &str, body: &[u8]) -> UploadResponse {
        // The purpose of each report is in its envelope's clear header.
        let purposes: Vec<String> = batch::split_upload(body)
            .map(|envelopes| {
                envelopes
                    .into_iter()
                    .map(|e| {
                        Envelope::decode(e)
                            .map(|e| e.header.purpose)
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let response = self.http.upload(region, body);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.requests += 1;
        let mut count = |purpose: &str, result: &ReportResult| {
            let v = counts
                .verdicts
                .entry((region.to_owned(), purpose.to_owned()))
                .or_default();
            match result {
                ReportResult::Accepted => v.accepted += 1,
                ReportResult::Duplicate => v.duplicate += 1,
                // A front's `queued` is acknowledged: counted with accepted.
                ReportResult::Queued => v.accepted += 1,
                ReportResult::Rejected { code } => {
                    v.rejected += 1;
                    *counts.rejected_by_code.entry(code.clone()).or_default() += 1;
                }
            }
        };
        match &response {
            UploadResponse::Results(results) if results.len() == purposes.len() => {
                for (purpose, result) in purposes.iter().zip(results) {
                    count(purpose, result);
                }
            }
            UploadResponse::Rejected { code } => {
                let result = ReportResult::Rejected { code: code.clone() };
                for purpose in &purposes {
                    count(purpose, &result);
                }
            }
            // A malformed answer is retried by the SDK, like a 503.
            UploadResponse::Results(_) | UploadResponse::RetryLater { .. } => {
                counts.retry_later += 1
            }
        }
        response
    }
}

/// A metric handle of the SDK.
enum Handle {
    Counter(CounterMetric),
    Labeled(LabeledCounterMetric),
    Boolean(BooleanMetric),
    Category(CategoryMetric),
    Distribution(DistributionMetric),
    Domains(DomainSetMetric),
    Active(ActivityMetric),
    None,
}

/// One simulated device: its profile and its SDK instance.
pub(crate) struct Device {
    pub(crate) profile: Profile,
    candor: Candor,
    handles: Vec<Handle>,
    /// Whether the device can collect anything (a purpose granted, not a
    /// child profile); others never build a report.
    collects: bool,
    /// Reports still queued after the last upload pass.
    pub(crate) queued: usize,
}

/// Drives one device's SDK; a [`Sink`].
struct SdkSink<'a> {
    model: &'a Model,
    device: &'a Device,
}

impl Sink for SdkSink<'_> {
    fn private_mode(&mut self, on: bool) {
        self.device.candor.set_private_mode(on);
    }
    fn counter(&mut self, m: usize, n: u64) {
        if let Handle::Counter(h) = &self.device.handles[m] {
            h.add(n as i64);
        }
    }
    fn labeled(&mut self, m: usize, label: usize, n: u64) {
        if let Handle::Labeled(h) = &self.device.handles[m]
            && let Some(label) = self.model.metrics[m]
                .metric
                .closed_set()
                .and_then(|l| l.get(label))
        {
            h.add(label, n as i64);
        }
    }
    fn boolean(&mut self, m: usize, value: bool) {
        if let Handle::Boolean(h) = &self.device.handles[m] {
            h.set(value);
        }
    }
    fn active(&mut self, m: usize) {
        if let Handle::Active(h) = &self.device.handles[m] {
            h.active();
        }
    }
    fn category(&mut self, m: usize, category: usize) {
        if let Handle::Category(h) = &self.device.handles[m]
            && let Some(c) = self.model.metrics[m]
                .metric
                .closed_set()
                .and_then(|c| c.get(category))
        {
            h.set(c);
        }
    }
    fn sample(&mut self, m: usize, value: u64) {
        if let Handle::Distribution(h) = &self.device.handles[m] {
            h.accumulate(value.min(i64::MAX as u64) as i64);
        }
    }
    fn domain(&mut self, m: usize, d: usize, url_variant: u64) {
        if let Handle::Domains(h) = &self.device.handles[m] {
            h.record_url(&self.model.domains.url(d, url_variant));
        }
    }
}

/// What every worker shares.
pub(crate) struct Env<'a> {
    pub(crate) model: &'a Model,
    pub(crate) schema: &'a Schema,
    /// The pinned signing key and key list of each configured region.
    pub(crate) keys: &'a [super::DeviceKeys],
    /// Where device data directories go.
    pub(crate) dir: &'a Path,
    pub(crate) clock: &'a ManualClock,
    pub(crate) hooks: &'a dyn SimHooks,
    /// Device-days done, and their total.
    pub(crate) done: &'a AtomicU64,
    pub(crate) total: u64,
}

/// Device-days between two progress calls from a worker.
const PROGRESS_EVERY: u64 = 32;

/// Counts of one worker.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WorkerStats {
    pub(crate) active_days: u64,
    pub(crate) sessions: u64,
    pub(crate) private_sessions: u64,
}

/// A thread's share of the fleet.
pub(crate) struct Worker {
    pub(crate) profiles: Vec<Profile>,
    pub(crate) devices: Vec<Device>,
    pub(crate) table: TruthTable,
    pub(crate) stats: WorkerStats,
    pub(crate) uploader: Arc<CountingUploader>,
}

impl Worker {
    pub(crate) fn new(base_url: &str) -> Self {
        Worker {
            profiles: Vec::new(),
            devices: Vec::new(),
            table: TruthTable::default(),
            stats: WorkerStats::default(),
            uploader: Arc::new(CountingUploader::new(base_url)),
        }
    }

    /// Opens the SDK of every device of this worker and applies the
    /// profile's consent and child-profile decisions.
    pub(crate) fn open(&mut self, env: &Env<'_>) -> Result<(), SimError> {
        for profile in std::mem::take(&mut self.profiles) {
            let path = env.dir.join(format!("d{:06}", profile.index));
            let device = open_device(env, &self.uploader, profile, path)?;
            self.devices.push(device);
        }
        Ok(())
    }

    /// Plays one day on every device: record, end the day, upload.
    pub(crate) fn day(&mut self, env: &Env<'_>, ctx: DayCtx) {
        let mut recorder = DayRecorder::new(env.model);
        for device in &mut self.devices {
            recorder.start(&device.profile, ctx.day);
            let outcome: DayOutcome = {
                let mut sdk = SdkSink {
                    model: env.model,
                    device,
                };
                env.model
                    .day(&device.profile, ctx, &mut Tee(&mut sdk, &mut recorder))
            };
            recorder.finish(&mut self.table, &device.profile, ctx.index);
            self.stats.active_days += u64::from(outcome.active);
            self.stats.sessions += outcome.sessions;
            self.stats.private_sessions += outcome.private_sessions;
            if device.collects && (outcome.active || device.queued > 0) {
                // The day is over for this device: build its reports now
                // (the clock stays at noon so an embedded collector's day
                // window holds), and send them with the real uploader.
                device.candor.end_day();
                device.queued = device.candor.upload_pending().remaining;
            }
            let done = env.done.fetch_add(1, Ordering::Relaxed) + 1;
            if done.is_multiple_of(PROGRESS_EVERY) {
                env.hooks.progress(done, env.total);
            }
        }
    }

    /// One more upload pass for devices with queued reports.
    pub(crate) fn retry(&mut self) {
        for device in self.devices.iter_mut().filter(|d| d.queued > 0) {
            device.queued = device.candor.upload_pending().remaining;
        }
    }

    /// The SDK's error counters of every device, summed by code.
    pub(crate) fn sdk_errors(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for device in &self.devices {
            for (metric, codes) in device.candor.error_counts() {
                for (code, n) in codes {
                    let key = if metric == "*url" {
                        format!("url_dropped:{code}")
                    } else {
                        code
                    };
                    *out.entry(key).or_default() += n;
                }
            }
        }
        out
    }
}

fn open_device(
    env: &Env<'_>,
    uploader: &Arc<CountingUploader>,
    profile: Profile,
    path: PathBuf,
) -> Result<Device, SimError> {
    let index = profile.index;
    let keys = &env.keys[profile.region];
    let mut config = Config::new(&path, env.schema.clone(), keys.signing_key.clone());
    config.key_list = Some(keys.key_list.clone());
    config.dimensions = profile.dims_raw.clone();
    config.clock = Arc::new(env.clock.clone());
    config.uploader = Some(uploader.clone());
    // No background thread per device: the simulator calls end_day and
    // upload_pending itself, on simulated time.
    config.persist_interval = None;
    config.auto_upload = false;
    // Sent reports are kept for the user to read; a day is enough here and
    // keeps the data directories small.
    config.sent_retention_days = 1;
    // Retries stay within a simulated day (see `retry` and the final pass).
    config.backoff = BackoffPolicy {
        base_seconds: 60,
        max_seconds: 3_600,
    };
    let candor = Candor::open(config).map_err(|source| SimError::Device {
        device: index,
        source,
    })?;
    for (purpose, granted) in env.model.purposes.iter().zip(&profile.granted) {
        if *granted {
            candor
                .grant(&purpose.id)
                .map_err(|source| SimError::Consent {
                    device: index,
                    source,
                })?;
        }
    }
    if profile.child {
        candor
            .set_child_profile(true)
            .map_err(|source| SimError::Io {
                path: path.clone(),
                source,
            })?;
    }
    let handles = env
        .model
        .metrics
        .iter()
        .map(|mm| {
            let id = &mm.metric.id;
            match mm.metric.kind {
                MetricKind::Counter => Handle::Counter(candor.counter(id)),
                MetricKind::LabeledCounter { .. } => Handle::Labeled(candor.labeled_counter(id)),
                MetricKind::Boolean => Handle::Boolean(candor.boolean(id)),
                MetricKind::Category { .. } => Handle::Category(candor.category(id)),
                MetricKind::Distribution { .. } => Handle::Distribution(candor.distribution(id)),
                MetricKind::DomainSet => Handle::Domains(candor.domain_set(id)),
                MetricKind::Activity { .. } => Handle::Active(candor.activity(id)),
                _ => Handle::None,
            }
        })
        .collect();
    let collects = !profile.child && profile.granted.iter().any(|g| *g);
    Ok(Device {
        profile,
        candor,
        handles,
        collects,
        queued: 0,
    })
}
