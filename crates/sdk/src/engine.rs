//! The engine behind a [`crate::Candor`] handle.
//!
//! Locks, always taken in this order: `consent` → `state`; `upload` is held
//! alone during a network call and takes `state` only briefly. The
//! recording hot path takes none of them (it may `try_lock` `state` once a
//! day to roll the day over).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use candor_protocol::{Day, KeyConfig, Report, ReportId, batch, seal};
use candor_schema::Schema;
use candor_time::{Clock, SECONDS_PER_DAY, day_number_of_unix};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::config::{BackoffPolicy, Config, OutboxLimits};
use crate::consent::{ConsentAction, ConsentFile, PurposeConsent, Receipt};
use crate::errors::{ErrorCounters, ErrorKind, OpenError};
use crate::files::{read_optional, write_atomic};
use crate::metrics::Slot;
use crate::outbox::{Outbox, Queued};
use crate::report;
use crate::sanitize::Rejection;
use crate::store::{DayEntry, LdpMemo, State};
use crate::upload::{ReportResult, UploadResponse, UploadSummary, Uploader};

/// What building one day's report came to.
enum Sealed {
    /// Report id, plaintext JSON and envelope.
    Done((ReportId, Vec<u8>, Vec<u8>)),
    /// Nothing to report (or nothing that could ever be sealed).
    Nothing,
    /// A transient failure: keep the data and try again later.
    Retry,
}

/// The consent gate of one purpose: one atomic flag read on every recording.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) id: String,
    pub(crate) consent_version: u32,
    pub(crate) private_ok: bool,
    pub(crate) open: AtomicBool,
}

/// Why a consent call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The purpose is not in the schema.
    #[error("unknown purpose {0:?}")]
    UnknownPurpose(String),
    /// The decision could not be stored. A failed grant leaves collection
    /// off; a failed revocation still stops collection and purges memory.
    #[error("could not store the consent decision: {0}")]
    Storage(#[from] std::io::Error),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not turn every later call into a panic: the
    // data behind these locks is always left consistent between statements.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct Inner {
    pub(crate) schema: Schema,
    region: String,
    /// Days after a day during which the collector still accepts its
    /// reports (the schema's `report_window_days` of the region).
    report_window_days: u32,
    key: KeyConfig,
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    uploader: Option<Arc<dyn Uploader>>,
    limits: OutboxLimits,
    sent_retention_days: u32,
    batch_size: usize,
    backoff: BackoffPolicy,
    gates: Vec<Gate>,
    slots: HashMap<String, Arc<Slot>>,
    dimensions: BTreeMap<String, String>,
    private_mode: AtomicBool,
    current_day: AtomicI64,
    state: Mutex<State>,
    consent: Mutex<ConsentFile>,
    outbox: Outbox,
    upload: Mutex<()>,
    errors: ErrorCounters,
    unknown_metrics: Mutex<BTreeMap<String, u64>>,
    url_drops: Mutex<BTreeMap<&'static str, u64>>,
    rng: Mutex<ChaCha20Rng>,
}

/// Most distinct unknown metric ids whose errors are counted one by one.
const MAX_UNKNOWN_IDS: usize = 64;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_owned(),
        source,
    }
}

fn load_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, OpenError> {
    match read_optional(path).map_err(io_err(path))? {
        None => Ok(T::default()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| OpenError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

impl Inner {
    pub(crate) fn open(config: Config) -> Result<Arc<Self>, OpenError> {
        let Config {
            data_dir,
            schema,
            region,
            key_config,
            dimensions,
            clock,
            uploader,
            outbox,
            sent_retention_days,
            batch_size,
            backoff,
            ..
        } = config;
        if schema.region(&region).is_none() {
            return Err(OpenError::Config(format!(
                "region {region:?} is not in schema {}",
                schema.id
            )));
        }
        if key_config.region() != region {
            return Err(OpenError::Config(format!(
                "the key config is for region {:?}, the device is in {region:?}",
                key_config.region()
            )));
        }
        let report_window_days = schema.region(&region).map_or(0, |r| r.report_window_days);
        std::fs::create_dir_all(&data_dir).map_err(io_err(&data_dir))?;
        let outbox_dir = Outbox::open(&data_dir).map_err(io_err(&data_dir))?;
        let consent: ConsentFile = load_json(&data_dir.join("consent.json"))?;
        let state: State = load_json(&data_dir.join("state.json"))?;

        let gates: Vec<Gate> = schema
            .purposes
            .values()
            .map(|p| Gate {
                id: p.id.clone(),
                consent_version: p.consent_version,
                private_ok: p.allowed_in_private_mode,
                open: AtomicBool::new(consent.collecting(&p.id, p.consent_version)),
            })
            .collect();
        let slots = schema
            .metrics
            .values()
            .filter_map(|m| {
                let purpose = gates.iter().position(|g| g.id == m.purpose)?;
                Some((m.id.clone(), Arc::new(Slot::new(m.clone(), purpose))))
            })
            .collect::<HashMap<_, _>>();
        // Error counters survive restarts: "*" holds the SDK-wide ones.
        let sdk_errors = ErrorCounters::default();
        for (metric, counts) in &state.errors {
            let counters = match metric.as_str() {
                "*" => Some(&sdk_errors),
                id => slots.get(id).map(|s| &s.errors),
            };
            let Some(counters) = counters else { continue };
            for kind in ErrorKind::ALL {
                if let Some(&n) = counts.get(kind.code()) {
                    counters.add(kind, n);
                }
            }
        }
        // Coarsen the raw context once; values a rule refuses are left out.
        let dimensions = dimensions
            .into_iter()
            .filter_map(|(id, raw)| {
                let v = schema.dimension(&id)?.coarsen(&raw)?;
                Some((id, v))
            })
            .collect();
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| OpenError::Randomness)?;
        let now = clock.now();
        Ok(Arc::new(Inner {
            schema,
            report_window_days,
            region,
            key: key_config,
            dir: data_dir,
            clock,
            uploader,
            limits: outbox,
            sent_retention_days,
            batch_size: batch_size.clamp(1, candor_protocol::limits::MAX_BATCH_REPORTS),
            backoff,
            gates,
            slots,
            dimensions,
            private_mode: AtomicBool::new(false),
            current_day: AtomicI64::new(day_number_of_unix(now)),
            state: Mutex::new(state),
            consent: Mutex::new(consent),
            outbox: outbox_dir,
            upload: Mutex::new(()),
            errors: sdk_errors,
            unknown_metrics: Mutex::new(BTreeMap::new()),
            url_drops: Mutex::new(BTreeMap::new()),
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        }))
    }

    pub(crate) fn slot(&self, id: &str) -> Option<&Arc<Slot>> {
        self.slots.get(id)
    }

    // ---- hot path -------------------------------------------------------

    /// Whether a recording for the purpose at `purpose` may happen now.
    #[inline]
    pub(crate) fn may_record(&self, purpose: usize, private_call: bool) -> bool {
        let gate = &self.gates[purpose];
        gate.open.load(Ordering::Acquire)
            && (gate.private_ok || !(private_call || self.private_mode.load(Ordering::Relaxed)))
    }

    /// Moves the cells into the finished day's aggregates when the day changed.
    #[inline]
    pub(crate) fn roll_day(&self) {
        let today = day_number_of_unix(self.clock.now());
        if self.current_day.load(Ordering::Relaxed) != today {
            // Never wait on a flush's I/O here: if the state is busy, the
            // flush itself rolls the day over.
            if let Ok(mut state) = self.state.try_lock() {
                self.harvest(&mut state);
            }
        }
    }

    pub(crate) fn unknown_metric(&self, id: &str) {
        let mut map = lock(&self.unknown_metrics);
        if map.len() < MAX_UNKNOWN_IDS || map.contains_key(id) {
            *map.entry(id.to_owned()).or_default() += 1;
        }
        drop(map);
        self.errors.add(ErrorKind::UnknownMetric, 1);
    }

    pub(crate) fn url_dropped(&self, rejection: Rejection) {
        *lock(&self.url_drops).entry(rejection.code()).or_default() += 1;
    }

    // ---- aggregation and persistence ------------------------------------

    /// Takes every cell into the aggregates of the day being recorded, then
    /// starts the clock's current day. Values of purposes whose gate is
    /// closed (revoked while a call was in flight) are discarded here, so
    /// they never reach the disk.
    fn harvest(&self, state: &mut State) {
        let day = Day::from_unix_seconds_or_epoch(
            self.current_day.load(Ordering::Relaxed) * SECONDS_PER_DAY,
        );
        for slot in self.slots.values() {
            if let Some(acc) = slot.take() {
                let gate = &self.gates[slot.purpose];
                if !gate.open.load(Ordering::Acquire) {
                    continue;
                }
                let dropped = state.entry(&gate.id, day).add(&slot.metric.id, acc);
                if dropped > 0 {
                    slot.errors.add(ErrorKind::Overflow, dropped as u64);
                }
            }
        }
        self.current_day
            .store(day_number_of_unix(self.clock.now()), Ordering::Relaxed);
    }

    fn persist(&self, state: &mut State) {
        state.errors = self.error_snapshot();
        let result = serde_json::to_vec(&*state)
            .map_err(std::io::Error::other)
            .and_then(|bytes| write_atomic(&self.dir.join("state.json"), &bytes));
        if result.is_err() {
            self.errors.add(ErrorKind::Storage, 1);
        }
    }

    /// Persists the aggregates and builds the reports of finished days
    /// (`through_today` also ends today).
    pub(crate) fn flush(&self, through_today: bool) {
        let mut state = lock(&self.state);
        self.harvest(&mut state);
        let today = self.clock.today();
        let (ready, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut state.days)
            .into_iter()
            .partition(|e| e.day < today || (through_today && e.day == today));
        state.days = keep;
        let oldest_accepted = offset_day(today, -i64::from(self.report_window_days));
        for entry in ready {
            if entry.day < oldest_accepted {
                // The collector no longer accepts reports of that day (its
                // window has passed): sending it would only be refused.
                report::remember(&self.schema, &entry, &mut state.ldp);
                self.errors.add(ErrorKind::TooLate, 1);
                continue;
            }
            if let Err(entry) = self.seal_day(entry, today, &mut state.ldp) {
                // Sealing or writing failed: keep the data for the next try.
                let (purpose, day) = (entry.purpose.clone(), entry.day);
                let back = state.entry(&purpose, day);
                for (id, acc) in entry.metrics {
                    back.add(&id, acc);
                }
            }
        }
        self.enforce_outbox_limits();
        let cutoff = offset_day(today, -i64::from(self.sent_retention_days));
        if self.outbox.prune_sent(cutoff).is_err() {
            self.errors.add(ErrorKind::Storage, 1);
        }
        self.persist(&mut state);
    }

    /// Builds, seals and queues one (purpose, day) report. Returns the entry
    /// back if it should be retried later.
    fn seal_day(
        &self,
        entry: DayEntry,
        today: Day,
        memory: &mut BTreeMap<String, LdpMemo>,
    ) -> Result<(), DayEntry> {
        let Some(gate) = self.gates.iter().find(|g| g.id == entry.purpose) else {
            return Ok(());
        };
        if !gate.open.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.outbox.already_built(&entry.purpose, entry.day) {
            // One report per (purpose, day): late data for a day already
            // reported is dropped, never sent under a second report id.
            self.errors.add(ErrorKind::DayAlreadyReported, 1);
            return Ok(());
        }
        let (report_id, plaintext, envelope) =
            match self.build_and_seal(gate, &entry, today, memory) {
                Sealed::Done(parts) => parts,
                Sealed::Nothing => return Ok(()),
                Sealed::Retry => return Err(entry),
            };
        let (purpose, day) = (entry.purpose.clone(), entry.day);
        let queued = Queued {
            purpose,
            day,
            report_id: report_id.to_hex(),
            created: self.clock.now(),
            plaintext: String::from_utf8_lossy(&plaintext).into_owned(),
            envelope: hex::encode(envelope),
        };
        if self.outbox.push(&queued).is_err() {
            self.errors.add(ErrorKind::Storage, 1);
            return Err(entry);
        }
        Ok(())
    }

    /// Builds and seals the report of one (purpose, day), without storing it.
    fn build_and_seal(
        &self,
        gate: &Gate,
        entry: &DayEntry,
        today: Day,
        memory: &mut BTreeMap<String, LdpMemo>,
    ) -> Sealed {
        let Ok(report_id) = ReportId::random() else {
            self.errors.add(ErrorKind::SealFailed, 1);
            return Sealed::Retry;
        };
        let header = Report::new(
            report_id,
            self.schema.id.clone(),
            self.schema.version,
            entry.purpose.clone(),
            gate.consent_version,
            self.region.clone(),
            entry.day,
        );
        let report = {
            let mut rng = lock(&self.rng);
            report::build(
                &self.schema,
                &self.dimensions,
                header,
                entry.metrics.clone(),
                today,
                memory,
                &mut *rng,
            )
        };
        let Some(report) = report else {
            return Sealed::Nothing;
        };
        // The collector's value rules, through the same code: a report it
        // would refuse is never sealed (and so never retried forever).
        if candor_values::check_report(&self.schema, &report).is_err() {
            self.errors.add(ErrorKind::SealFailed, 1);
            return Sealed::Nothing;
        }
        match report
            .to_json()
            .and_then(|plain| Ok((plain, seal(&report, &self.key)?)))
        {
            Ok((plaintext, envelope)) => Sealed::Done((report_id, plaintext, envelope)),
            Err(_) => {
                // Too large or unsealable: retrying cannot help.
                self.errors.add(ErrorKind::SealFailed, 1);
                Sealed::Nothing
            }
        }
    }

    /// Builds and seals today's report of `purpose` from the persisted
    /// aggregates, storing nothing: the cost of the day-end step without its
    /// file I/O (benchmarks).
    pub(crate) fn test_build_and_seal(&self, purpose: &str) -> Option<Vec<u8>> {
        let today = self.clock.today();
        let (entry, mut memory) = {
            let state = lock(&self.state);
            let entry = state
                .days
                .iter()
                .find(|e| e.purpose == purpose && e.day == today)?
                .clone();
            (entry, state.ldp.clone())
        };
        let gate = self.gates.iter().find(|g| g.id == purpose)?;
        match self.build_and_seal(gate, &entry, today, &mut memory) {
            Sealed::Done((_, _, envelope)) => Some(envelope),
            _ => None,
        }
    }

    /// Drops queued reports beyond the age, count and byte caps, oldest
    /// first, and returns what remains.
    fn enforce_outbox_limits(&self) -> Vec<Queued> {
        let Ok(list) = self.outbox.list() else {
            self.errors.add(ErrorKind::Storage, 1);
            return Vec::new();
        };
        let today = self.clock.today();
        let oldest_kept = offset_day(today, -i64::from(self.limits.max_age_days));
        let oldest_accepted = offset_day(today, -i64::from(self.report_window_days));
        let mut count = list.len();
        let mut bytes: u64 = list.iter().map(|(_, b)| b).sum();
        let mut kept = Vec::with_capacity(list.len());
        for (q, size) in list {
            let over = count > self.limits.max_reports || bytes > self.limits.max_bytes;
            let too_late = q.day < oldest_accepted;
            if q.day < oldest_kept || over || too_late {
                if self.outbox.remove(&q.purpose, q.day).is_ok() {
                    self.errors.add(
                        if too_late {
                            ErrorKind::TooLate
                        } else {
                            ErrorKind::OutboxDropped
                        },
                        1,
                    );
                }
                count -= 1;
                bytes -= size;
            } else {
                kept.push(q);
            }
        }
        kept
    }

    // ---- consent ---------------------------------------------------------

    fn gate_index(&self, purpose: &str) -> Result<usize, ConsentError> {
        self.gates
            .iter()
            .position(|g| g.id == purpose)
            .ok_or_else(|| ConsentError::UnknownPurpose(purpose.to_owned()))
    }

    fn refresh_gates(&self, consent: &ConsentFile) {
        for gate in &self.gates {
            gate.open.store(
                consent.collecting(&gate.id, gate.consent_version),
                Ordering::Release,
            );
        }
    }

    fn save_consent(&self, consent: &ConsentFile) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(consent).map_err(std::io::Error::other)?;
        write_atomic(&self.dir.join("consent.json"), &bytes)
    }

    pub(crate) fn set_consent(&self, purpose: &str, grant: bool) -> Result<(), ConsentError> {
        let i = self.gate_index(purpose)?;
        let p = self
            .schema
            .purpose(purpose)
            .ok_or_else(|| ConsentError::UnknownPurpose(purpose.to_owned()))?;
        let mut consent = lock(&self.consent);
        let mut next = consent.clone();
        if grant {
            next.grants.insert(purpose.to_owned(), p.consent_version);
        } else {
            next.grants.remove(purpose);
        }
        next.receipts.push(Receipt {
            purpose: purpose.to_owned(),
            consent_version: p.consent_version,
            action: if grant {
                ConsentAction::Grant
            } else {
                ConsentAction::Revoke
            },
            time: self.clock.now(),
            text_sha256: hex::encode(p.consent_text_sha256()),
        });
        let saved = self.save_consent(&next);
        if grant {
            // Fail closed: collection starts only once the grant is stored.
            saved?;
            *consent = next;
            self.refresh_gates(&consent);
            return Ok(());
        }
        // Revocation takes effect whatever the disk says.
        *consent = next;
        self.refresh_gates(&consent);
        self.purge(&[i]);
        saved.map_err(ConsentError::from)
    }

    pub(crate) fn set_flag(&self, child: bool, on: bool) -> std::io::Result<()> {
        let mut consent = lock(&self.consent);
        let mut next = consent.clone();
        if child {
            next.child_profile = on;
        } else {
            next.global_opt_out = on;
        }
        let saved = self.save_consent(&next);
        if saved.is_err() && !on {
            // Turning collection back on must be durable first.
            return saved;
        }
        *consent = next;
        self.refresh_gates(&consent);
        if on {
            let all: Vec<usize> = (0..self.gates.len()).collect();
            self.purge(&all);
        }
        saved
    }

    pub(crate) fn set_private_mode(&self, on: bool) {
        self.private_mode.store(on, Ordering::Relaxed);
    }

    /// Deletes everything held for the given purposes: cells, day
    /// aggregates, queued reports. Their gates must already be closed.
    fn purge(&self, purposes: &[usize]) {
        for slot in self.slots.values() {
            if purposes.contains(&slot.purpose) {
                let _ = slot.take();
            }
        }
        let mut state = lock(&self.state);
        state
            .days
            .retain(|e| !purposes.iter().any(|&i| self.gates[i].id == e.purpose));
        // The remembered local-DP values and answers are the purpose's data too.
        let schema = &self.schema;
        state.ldp.retain(|id, _| {
            schema
                .metric(id)
                .is_none_or(|m| !purposes.iter().any(|&i| self.gates[i].id == m.purpose))
        });
        for &i in purposes {
            if self.outbox.purge_purpose(&self.gates[i].id).is_err() {
                self.errors.add(ErrorKind::Storage, 1);
            }
        }
        self.persist(&mut state);
    }

    pub(crate) fn consent_status(&self) -> BTreeMap<String, PurposeConsent> {
        let consent = lock(&self.consent);
        self.gates
            .iter()
            .map(|g| {
                let granted_version = consent.grants.get(&g.id).copied();
                (
                    g.id.clone(),
                    PurposeConsent {
                        granted_version,
                        current_version: g.consent_version,
                        granted: granted_version == Some(g.consent_version),
                        collecting: g.open.load(Ordering::Acquire),
                    },
                )
            })
            .collect()
    }

    pub(crate) fn receipts(&self) -> Vec<Receipt> {
        lock(&self.consent).receipts.clone()
    }

    // ---- upload ------------------------------------------------------------

    pub(crate) fn upload_pending(&self) -> UploadSummary {
        let _one_pass_at_a_time = lock(&self.upload);
        let now = self.clock.now();
        let mut summary = UploadSummary::default();
        let next_attempt = lock(&self.state).backoff.next_attempt;
        let queued = self.enforce_outbox_limits();
        summary.remaining = queued.len();
        let Some(uploader) = self.uploader.clone() else {
            return summary;
        };
        if now < next_attempt {
            summary.retry_at = Some(next_attempt);
            return summary;
        }
        let mut pending: Vec<Queued> = Vec::new();
        for q in queued {
            if self.outbox.is_sent(&q.purpose, q.day) {
                // Accepted before a crash that left the queued copy behind.
                let _ = self.outbox.remove(&q.purpose, q.day);
            } else {
                pending.push(q);
            }
        }
        // Batches hold one purpose each, so a revocation stops the very next request.
        pending.sort_by(|a, b| (&a.purpose, a.day).cmp(&(&b.purpose, b.day)));
        let mut failed = None;
        let mut rest = pending.as_slice();
        while !rest.is_empty() {
            let same = rest
                .iter()
                .take_while(|q| q.purpose == rest[0].purpose)
                .count();
            let n = same.min(self.batch_size);
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let Ok(i) = self.gate_index(&chunk[0].purpose) else {
                continue;
            };
            if !self.gates[i].open.load(Ordering::Acquire) {
                continue;
            }
            let envelopes: Vec<Vec<u8>> = chunk
                .iter()
                .filter_map(|q| hex::decode(&q.envelope).ok())
                .collect();
            if envelopes.len() != chunk.len() {
                self.errors.add(ErrorKind::Storage, 1);
                continue;
            }
            let body = if envelopes.len() == 1 {
                envelopes[0].clone()
            } else {
                match batch::encode(&envelopes) {
                    Ok(b) => b,
                    Err(_) => {
                        self.errors.add(ErrorKind::SealFailed, 1);
                        continue;
                    }
                }
            };
            summary.requests += 1;
            match uploader.upload(&self.region, &body) {
                UploadResponse::Results(results) if results.len() == chunk.len() => {
                    let now = self.clock.now();
                    for (q, r) in chunk.iter().zip(results) {
                        let done = match r {
                            ReportResult::Accepted | ReportResult::Duplicate => {
                                summary.accepted += 1;
                                self.outbox.mark_sent(q, now)
                            }
                            ReportResult::Rejected { .. } => {
                                summary.rejected += 1;
                                self.errors.add(ErrorKind::UploadRejected, 1);
                                self.outbox.remove(&q.purpose, q.day)
                            }
                        };
                        if done.is_err() {
                            self.errors.add(ErrorKind::Storage, 1);
                        }
                    }
                }
                UploadResponse::Results(_) => {
                    failed = Some(None);
                    break;
                }
                UploadResponse::RetryLater { retry_after } => {
                    failed = Some(retry_after.map(|d| d.as_secs() as i64));
                    break;
                }
                UploadResponse::Rejected { .. } => {
                    for q in chunk {
                        summary.rejected += 1;
                        self.errors.add(ErrorKind::UploadRejected, 1);
                        let _ = self.outbox.remove(&q.purpose, q.day);
                    }
                }
            }
        }
        // What is left, counted from the disk: revocations during the pass
        // may have removed more than this pass did.
        summary.remaining = self.outbox.count().unwrap_or(summary.remaining);
        let mut state = lock(&self.state);
        let before = state.backoff;
        match failed {
            None => state.backoff = Default::default(),
            Some(retry_after) => {
                let failures = state.backoff.failures.saturating_add(1);
                let delay = match retry_after {
                    Some(s) => s.clamp(1, self.backoff.max_seconds),
                    None => {
                        // "Equal jitter": half fixed, half random, so a fleet
                        // that failed together does not retry together.
                        let d = self.backoff.delay(failures);
                        let mut rng = lock(&self.rng);
                        d / 2
                            + candor_privacy::uniform_below((d - d / 2 + 1) as u64, &mut *rng)
                                as i64
                    }
                };
                state.backoff.failures = failures;
                state.backoff.next_attempt = self.clock.now().saturating_add(delay);
                summary.retry_at = Some(state.backoff.next_attempt);
            }
        }
        if state.backoff != before {
            self.persist(&mut state);
        }
        summary
    }

    // ---- transparency ----------------------------------------------------

    pub(crate) fn pending_reports(&self) -> Vec<String> {
        self.outbox
            .list()
            .map(|l| l.into_iter().map(|(q, _)| q.plaintext).collect())
            .unwrap_or_default()
    }

    pub(crate) fn sent_reports(&self, days: u32) -> Vec<String> {
        let since = offset_day(self.clock.today(), -i64::from(days));
        self.outbox
            .sent_since(since)
            .map(|l| l.into_iter().map(|s| s.plaintext).collect())
            .unwrap_or_default()
    }

    pub(crate) fn delete_all_data(&self) {
        for slot in self.slots.values() {
            let _ = slot.take();
        }
        let mut state = lock(&self.state);
        *state = State::default();
        if self.outbox.clear().is_err() {
            self.errors.add(ErrorKind::Storage, 1);
        }
        for slot in self.slots.values() {
            slot.errors.reset();
        }
        self.errors.reset();
        lock(&self.unknown_metrics).clear();
        lock(&self.url_drops).clear();
        self.persist(&mut state);
    }

    // ---- error counters --------------------------------------------------

    fn error_snapshot(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut put = |id: &str, kind: ErrorKind, n: u64| {
            if n > 0 {
                out.entry(id.to_owned())
                    .or_default()
                    .insert(kind.code().to_owned(), n);
            }
        };
        for (id, slot) in &self.slots {
            for kind in ErrorKind::ALL {
                put(id, kind, slot.errors.get(kind));
            }
        }
        for kind in ErrorKind::ALL {
            put("*", kind, self.errors.get(kind));
        }
        out
    }

    pub(crate) fn error_counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out = self.error_snapshot();
        for (id, n) in lock(&self.unknown_metrics).iter() {
            out.entry(id.clone())
                .or_default()
                .insert(ErrorKind::UnknownMetric.code().to_owned(), *n);
        }
        for (code, n) in lock(&self.url_drops).iter() {
            out.entry("*url".to_owned())
                .or_default()
                .insert((*code).to_owned(), *n);
        }
        out
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Last handle gone: keep what was recorded since the last persist.
        self.flush(false);
    }
}

/// `day` moved by `delta` days; 1970-01-01 outside the representable range
/// (as [`Clock::today`] of a clock that far off).
fn offset_day(day: Day, delta: i64) -> Day {
    day.add_days(delta).unwrap_or(Day::EPOCH)
}
