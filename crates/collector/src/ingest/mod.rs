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
//! Every outcome is counted here and nowhere else ([`Metrics::report`]).
//! Errors are [`Rejection`]s with stable codes; the HTTP front maps them to
//! statuses in one place (`http::status`).

pub mod front;
pub mod sink;
pub mod writer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use candor_protocol::KeyConfig;
use candor_store::CommitOutcome;
use tokio::sync::{Semaphore, SemaphorePermit};

pub use sink::{Sink, SinkError, SinkFuture};

use crate::calendar::Calendar;
use crate::config::IngestConfig;
use crate::error::Rejection;
use crate::keys::RegionKeys;
use crate::metrics::Metrics;
use crate::validate::{self, Registry};

/// What one report of an upload came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Counted.
    Accepted,
    /// Already counted before.
    Duplicate,
    /// Refused; nothing of it was stored.
    Rejected(Rejection),
}

/// One region's ingest state: the keys it opens with and where its
/// contributions go.
struct IngestRegion {
    keys: RwLock<Arc<RegionKeys>>,
    sink: Arc<dyn Sink>,
}

/// The ingest pipeline of every region a collector serves.
pub struct Ingest {
    registry: Arc<Registry>,
    calendar: Calendar,
    config: IngestConfig,
    regions: BTreeMap<String, IngestRegion>,
    metrics: Arc<Metrics>,
    /// KiB of request bodies in flight: bounds the memory uploads can take.
    permits: Semaphore,
    shutting_down: AtomicBool,
}

/// Room reserved for one request's body; released when dropped.
pub struct Admission<'a> {
    _permit: SemaphorePermit<'a>,
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
            IngestRegion {
                keys: RwLock::new(Arc::new(keys)),
                sink,
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

    /// Replaces a region's keys (after a rotation or retirement).
    pub fn set_keys(&self, region: &str, keys: RegionKeys) {
        if let Some(r) = self.regions.get(region) {
            *r.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
        }
    }

    /// The public configs of a region's active keys, for devices.
    pub fn active_keys(&self, region: &str) -> Option<Vec<KeyConfig>> {
        let r = self.regions.get(region)?;
        Some(self.keys(r).active.clone())
    }

    fn keys(&self, r: &IngestRegion) -> Arc<RegionKeys> {
        r.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
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
    /// overload, storage). Everything is counted.
    pub async fn process(
        &self,
        region: &str,
        body: &[u8],
    ) -> Result<Vec<ReportOutcome>, Rejection> {
        let result = self.stages(region, body).await;
        match &result {
            Err(r) => self.metrics.report(region, "rejected", r.code(), 1),
            Ok(outcomes) => {
                let (mut accepted, mut duplicate) = (0, 0);
                for o in outcomes {
                    match o {
                        ReportOutcome::Accepted => accepted += 1,
                        ReportOutcome::Duplicate => duplicate += 1,
                        ReportOutcome::Rejected(r) => {
                            self.metrics.report(region, "rejected", r.code(), 1)
                        }
                    }
                }
                self.metrics.report(region, "accepted", "", accepted);
                self.metrics.report(region, "duplicate", "", duplicate);
            }
        }
        result
    }

    async fn stages(&self, region: &str, body: &[u8]) -> Result<Vec<ReportOutcome>, Rejection> {
        let state = self
            .regions
            .get(region)
            .ok_or_else(|| Rejection::UnknownRegion(region.to_owned()))?;
        if self.is_shutting_down() {
            return Err(Rejection::ShuttingDown);
        }
        let parts = front::split(body)?;
        let keys = self.keys(state);
        let (window, today) = self.calendar.window();
        let mut outcomes: Vec<Result<usize, Rejection>> = Vec::with_capacity(parts.len());
        let mut deltas = Vec::with_capacity(parts.len());
        for part in parts {
            let delta = front::envelope(part)
                .and_then(|envelope| keys.open(&envelope))
                .and_then(|report| validate::to_delta(&self.registry, &report, window, today));
            outcomes.push(delta.map(|delta| {
                deltas.push(delta);
                deltas.len() - 1
            }));
        }
        let committed = state.sink.commit(deltas).await.map_err(|e| match e {
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
}

#[cfg(test)]
mod tests;
