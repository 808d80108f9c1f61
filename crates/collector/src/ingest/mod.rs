//! Ingest as a pipeline of stages, independent of HTTP:
//!
//! 1. **front** ([`Ingest::admit`], [`front`]): the region named by the
//!    transport, the in-flight body budget, the batch framing and each
//!    envelope's header, with their size limits;
//! 2. **open** ([`RegionKeys::open`]): the header's region and key id, the
//!    retired-key rule, HPKE with the header as associated data;
//! 3. **validate** ([`validate::to_delta`]): the data dictionary, the value
//!    rules, consent version and day window, reducing the report to
//!    contributions to aggregate rows (the plaintext goes no further);
//! 4. **sink** ([`Sink`]): the validated deltas, answered once durable
//!    (embedded: the group-commit [`writer::Writer`]).
//!
//! A `front` process (scale-out) runs the front stage only, with the
//! header checks of the open stage that need no private key
//! ([`PublicKeys::check`]), and hands the still-sealed envelopes to a
//! [`Forward`] (the region's JetStream stream). A `worker` feeds what it
//! pulls from the stream through the open, validate and sink stages
//! ([`Ingest::process_queued`]), the same code as the embedded mode.
//!
//! Every outcome is counted here and nowhere else ([`Metrics::report`]).
//! Errors are [`Rejection`]s with stable codes; the HTTP front maps them to
//! statuses in one place (`http::status`).

pub mod forward;
pub mod front;
pub mod sink;
pub mod writer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use candor_protocol::KeyConfig;
use candor_store::CommitOutcome;
use tokio::sync::{Semaphore, SemaphorePermit};

pub use forward::{BadInputLimit, Forward, ForwardError, ForwardFuture};
pub use sink::{Sink, SinkError, SinkFuture};

use crate::calendar::Calendar;
use crate::config::IngestConfig;
use crate::error::Rejection;
use crate::keys::{PublicKeys, RegionKeys};
use crate::metrics::Metrics;
use crate::validate::{self, Registry};

/// What one report of an upload came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Counted.
    Accepted,
    /// Already counted before.
    Duplicate,
    /// Held by the region's queue, still sealed (role `front`): a worker
    /// will open, validate and count it, or count it as dropped.
    Queued,
    /// Refused; nothing of it was stored.
    Rejected(Rejection),
}

/// Where one region's reports go after the front stage.
enum Route {
    /// Opened, validated and sunk here (roles `all` and `worker`).
    Open {
        keys: RwLock<Arc<RegionKeys>>,
        sink: Arc<dyn Sink>,
    },
    /// Checked against the public keys and forwarded still sealed (role
    /// `front`).
    Forward {
        keys: RwLock<Arc<PublicKeys>>,
        queue: Arc<dyn Forward>,
        bad: BadInputLimit,
    },
}

/// The ingest pipeline of every region a collector serves.
pub struct Ingest {
    registry: Arc<Registry>,
    calendar: Calendar,
    config: IngestConfig,
    regions: BTreeMap<String, Route>,
    metrics: Arc<Metrics>,
    /// KiB of request bodies in flight: bounds the memory uploads can take.
    permits: Semaphore,
    shutting_down: AtomicBool,
}

/// Room reserved for one request's body; released when dropped.
pub struct Admission<'a> {
    _permit: SemaphorePermit<'a>,
}

/// The current value behind a key lock (a poisoned lock still holds a
/// complete value: writers only swap the `Arc`).
fn current<T>(lock: &RwLock<Arc<T>>) -> Arc<T> {
    lock.read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn replace<T>(lock: &RwLock<Arc<T>>, value: T) {
    *lock.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(value);
}

impl Ingest {
    /// A pipeline with no region yet; add them with [`Ingest::with_region`].
    pub fn new(
        registry: Arc<Registry>,
        calendar: Calendar,
        config: IngestConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Ingest {
            permits: Semaphore::new(config.inflight_body_kib()),
            registry,
            calendar,
            config,
            regions: BTreeMap::new(),
            metrics,
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Serves `region`, opening with `keys` and sinking into `sink`.
    #[must_use]
    pub fn with_region(mut self, region: &str, keys: RegionKeys, sink: Arc<dyn Sink>) -> Self {
        self.regions.insert(
            region.to_owned(),
            Route::Open {
                keys: RwLock::new(Arc::new(keys)),
                sink,
            },
        );
        self
    }

    /// Serves `region` as a front: envelopes whose header passes `keys`
    /// are handed to `queue` still sealed, and at most `bad` refused
    /// reports a second are taken (see [`BadInputLimit`]).
    #[must_use]
    pub fn with_forwarding_region(
        mut self,
        region: &str,
        keys: PublicKeys,
        queue: Arc<dyn Forward>,
        bad: BadInputLimit,
    ) -> Self {
        self.regions.insert(
            region.to_owned(),
            Route::Forward {
                keys: RwLock::new(Arc::new(keys)),
                queue,
                bad,
            },
        );
        self
    }

    /// Whether `region` is served.
    pub fn serves(&self, region: &str) -> bool {
        self.regions.contains_key(region)
    }

    /// The `[ingest]` settings.
    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    /// Replaces the keys of a region that opens reports (after a rotation
    /// or retirement).
    pub fn set_keys(&self, region: &str, keys: RegionKeys) {
        if let Some(Route::Open { keys: lock, .. }) = self.regions.get(region) {
            replace(lock, keys);
        }
    }

    /// Replaces the public keys of a region that forwards reports.
    pub fn set_public_keys(&self, region: &str, keys: PublicKeys) {
        if let Some(Route::Forward { keys: lock, .. }) = self.regions.get(region) {
            replace(lock, keys);
        }
    }

    /// The public configs of a region's active keys, for devices.
    pub fn active_keys(&self, region: &str) -> Option<Vec<KeyConfig>> {
        Some(match self.regions.get(region)? {
            Route::Open { keys, .. } => current(keys).active.clone(),
            Route::Forward { keys, .. } => current(keys).active.clone(),
        })
    }

    /// From now on, refuses new uploads with `shutting_down`.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether [`Ingest::shut_down`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Counts a request the transport refused before the pipeline saw its
    /// body (media type, body size), and hands the rejection back.
    pub fn refuse(&self, region: &str, rejection: Rejection) -> Rejection {
        self.metrics.report(region, "rejected", rejection.code(), 1);
        rejection
    }

    /// The front's first step, before a body is read: the region must be
    /// served and the body, `declared` bytes long if the transport says so,
    /// must fit the in-flight budget. The admission holds the budget until
    /// it is dropped.
    pub fn admit(&self, region: &str, declared: Option<usize>) -> Result<Admission<'_>, Rejection> {
        if !self.serves(region) {
            return Err(Rejection::UnknownRegion(region.to_owned()));
        }
        if let Some(size) = declared.filter(|n| *n > self.config.max_body_bytes) {
            return Err(self.refuse(region, front::body_too_large(&self.config, Some(size))));
        }
        match self
            .permits
            .try_acquire_many(self.config.body_kib(declared))
        {
            Ok(permit) => Ok(Admission { _permit: permit }),
            Err(_) => Err(self.refuse(region, Rejection::Overloaded)),
        }
    }

    /// Runs one upload body of `region` through the stages: per-report
    /// outcomes, or a rejection of the whole request (framing, size,
    /// overload, storage, queue). Everything is counted.
    pub async fn process(
        &self,
        region: &str,
        body: &[u8],
    ) -> Result<Vec<ReportOutcome>, Rejection> {
        let result = self.stages(region, body).await;
        match &result {
            Err(r) => self.metrics.report(region, "rejected", r.code(), 1),
            Ok(outcomes) => self.count(region, outcomes, "rejected"),
        }
        result
    }

    /// Opens, validates and commits envelopes a worker pulled from the
    /// queue, through the same stages as an upload: one outcome per
    /// envelope, in order, or an error when nothing was committed (the
    /// worker then leaves them queued for redelivery). Envelopes that fail
    /// to open or validate are counted as `dropped` with their code: they
    /// were acknowledged to the device already and are never stored.
    pub async fn process_queued(
        &self,
        region: &str,
        envelopes: &[&[u8]],
    ) -> Result<Vec<ReportOutcome>, Rejection> {
        let opened = self.open_queued(region, envelopes)?;
        self.commit_queued(region, opened).await
    }

    /// The CPU-heavy half of [`Ingest::process_queued`] (open and
    /// validate), synchronous so that a worker runs it on a blocking
    /// thread, away from the tasks that pull and acknowledge.
    pub fn open_queued(&self, region: &str, envelopes: &[&[u8]]) -> Result<Opened, Rejection> {
        let Some(Route::Open { keys, .. }) = self.regions.get(region) else {
            return Err(Rejection::UnknownRegion(region.to_owned()));
        };
        Ok(self.open_all(&current(keys), envelopes.iter().copied()))
    }

    /// The other half of [`Ingest::process_queued`]: commits what
    /// [`Ingest::open_queued`] opened and counts the outcomes.
    pub async fn commit_queued(
        &self,
        region: &str,
        opened: Opened,
    ) -> Result<Vec<ReportOutcome>, Rejection> {
        let Some(Route::Open { sink, .. }) = self.regions.get(region) else {
            return Err(Rejection::UnknownRegion(region.to_owned()));
        };
        let result = commit_opened(sink.as_ref(), opened).await;
        if let Ok(outcomes) = &result {
            self.count(region, outcomes, "dropped");
        }
        result
    }

    /// Counts per-report outcomes; refusals under `refused` (`rejected`
    /// before the 202, `dropped` after it).
    fn count(&self, region: &str, outcomes: &[ReportOutcome], refused: &'static str) {
        let (mut accepted, mut duplicate, mut queued) = (0, 0, 0);
        for o in outcomes {
            match o {
                ReportOutcome::Accepted => accepted += 1,
                ReportOutcome::Duplicate => duplicate += 1,
                ReportOutcome::Queued => queued += 1,
                ReportOutcome::Rejected(r) => self.metrics.report(region, refused, r.code(), 1),
            }
        }
        self.metrics.report(region, "accepted", "", accepted);
        self.metrics.report(region, "duplicate", "", duplicate);
        self.metrics.report(region, "queued", "", queued);
    }

    async fn stages(&self, region: &str, body: &[u8]) -> Result<Vec<ReportOutcome>, Rejection> {
        let route = self
            .regions
            .get(region)
            .ok_or_else(|| Rejection::UnknownRegion(region.to_owned()))?;
        if self.is_shutting_down() {
            return Err(Rejection::ShuttingDown);
        }
        match route {
            Route::Open { keys, sink } => {
                let parts = front::split(body)?;
                self.open_and_commit(&current(keys), sink.as_ref(), parts)
                    .await
            }
            Route::Forward { keys, queue, bad } => {
                if bad.exhausted() {
                    return Err(Rejection::Overloaded);
                }
                let parts = front::split(body).inspect_err(|_| bad.spend(1))?;
                let outcomes = forward(&current(keys), queue.as_ref(), parts).await?;
                let refused = outcomes
                    .iter()
                    .filter(|o| matches!(o, ReportOutcome::Rejected(_)))
                    .count();
                bad.spend(refused);
                Ok(outcomes)
            }
        }
    }

    /// The open, validate and sink stages over envelopes that passed
    /// framing: per-envelope outcomes once the valid ones are committed.
    async fn open_and_commit<'b>(
        &self,
        keys: &RegionKeys,
        sink: &dyn Sink,
        parts: impl IntoIterator<Item = &'b [u8]>,
    ) -> Result<Vec<ReportOutcome>, Rejection> {
        commit_opened(sink, self.open_all(keys, parts)).await
    }

    /// The open and validate stages over envelopes that passed framing.
    fn open_all<'b>(&self, keys: &RegionKeys, parts: impl IntoIterator<Item = &'b [u8]>) -> Opened {
        let (window, today) = self.calendar.window();
        let mut outcomes: Vec<Result<usize, Rejection>> = Vec::new();
        let mut deltas = Vec::new();
        for part in parts {
            let delta = front::envelope(part)
                .and_then(|envelope| keys.open(&envelope))
                .and_then(|report| validate::to_delta(&self.registry, &report, window, today));
            outcomes.push(delta.map(|delta| {
                deltas.push(delta);
                deltas.len() - 1
            }));
        }
        Opened { outcomes, deltas }
    }
}

/// Envelopes opened and validated, waiting for their commit: per envelope
/// the index of its delta or why it was refused. The plaintexts are gone
/// already; only contributions remain.
pub struct Opened {
    outcomes: Vec<Result<usize, Rejection>>,
    deltas: Vec<candor_store::ReportDelta>,
}

/// The sink stage: commits the deltas, then maps each envelope to its
/// outcome.
async fn commit_opened(sink: &dyn Sink, opened: Opened) -> Result<Vec<ReportOutcome>, Rejection> {
    let Opened { outcomes, deltas } = opened;
    let committed = sink.commit(deltas).await.map_err(|e| match e {
        SinkError::Overloaded => Rejection::Overloaded,
        SinkError::ShuttingDown => Rejection::ShuttingDown,
        SinkError::Unavailable => Rejection::StoreUnavailable,
    })?;
    Ok(outcomes
        .into_iter()
        .map(|o| match o {
            Ok(i) => match committed.get(i) {
                Some(CommitOutcome::Accepted) => ReportOutcome::Accepted,
                Some(CommitOutcome::Duplicate) => ReportOutcome::Duplicate,
                None => ReportOutcome::Rejected(Rejection::StoreUnavailable),
            },
            Err(r) => ReportOutcome::Rejected(r),
        })
        .collect())
}

/// A front's stages after framing: each envelope's header against the
/// public keys, then the ones that pass go to the queue still sealed; the
/// outcomes stand once the queue acknowledged all of them.
async fn forward(
    keys: &PublicKeys,
    queue: &dyn Forward,
    parts: Vec<&[u8]>,
) -> Result<Vec<ReportOutcome>, Rejection> {
    let mut outcomes = Vec::with_capacity(parts.len());
    let mut sealed = Vec::with_capacity(parts.len());
    for part in parts {
        match front::envelope(part).and_then(|envelope| keys.check(&envelope)) {
            Ok(()) => {
                sealed.push(part.to_vec());
                outcomes.push(ReportOutcome::Queued);
            }
            Err(r) => outcomes.push(ReportOutcome::Rejected(r)),
        }
    }
    queue.publish(sealed).await.map_err(|e| match e {
        ForwardError::Unavailable => Rejection::QueueUnavailable,
        ForwardError::ShuttingDown => Rejection::ShuttingDown,
    })?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests;
