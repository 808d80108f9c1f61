//! Group commit: one writer thread per region merges the reports of many
//! requests into one store transaction, and answers each request only after
//! that transaction committed.
//!
//! The queue in front of the writer is bounded in reports; a request that
//! would overflow it is refused at once (503 with Retry-After) instead of
//! waiting, so memory stays bounded under overload.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use candor_store::{CommitOutcome, DayNumber, ReportDelta, Store, StoreError};
use tokio::sync::oneshot;

use super::sink::{Sink, SinkError, SinkFuture};

type Reply = oneshot::Sender<Result<Vec<CommitOutcome>, SinkError>>;

struct Job {
    deltas: Vec<ReportDelta>,
    reply: Reply,
}

/// Retention and dedup pruning, run by the writer itself so that the
/// region's database keeps exactly one writer.
struct Maintenance {
    rows_before: DayNumber,
    ids_before: DayNumber,
    reply: oneshot::Sender<Result<(u64, u64), StoreError>>,
}

enum Work {
    Commit(Job),
    Maintain(Maintenance),
}

/// Counters of one writer, for the metrics endpoint.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Reports in those transactions.
    pub committed_reports: AtomicU64,
    /// Total time spent in commits, microseconds.
    pub commit_micros: AtomicU64,
    /// Transactions that failed (nothing committed).
    pub failed_commits: AtomicU64,
}

/// The sending side, shared by request handlers.
#[derive(Clone)]
pub struct Writer {
    tx: Arc<Mutex<Option<SyncSender<Work>>>>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    /// The writer's counters.
    pub stats: Arc<WriterStats>,
}

/// Group commit limits.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Most reports in one transaction.
    pub batch_max_reports: usize,
    /// Longest wait for more reports once one is waiting.
    pub max_wait: Duration,
    /// Most reports queued.
    pub max_queued: usize,
}

impl Writer {
    /// Starts the writer thread for `store`. The thread ends once every
    /// `Writer` clone has been [`close`](Writer::close)d or dropped and the
    /// queue is drained.
    pub fn start(
        name: &str,
        store: Box<dyn Store>,
        config: WriterConfig,
    ) -> (Writer, JoinHandle<()>) {
        // The channel's own bound is a backstop; the report count is the real one.
        let (tx, rx) = sync_channel::<Work>(config.max_queued.max(1));
        let queued = Arc::new(AtomicUsize::new(0));
        let stats = Arc::new(WriterStats::default());
        let thread = {
            let queued = queued.clone();
            let stats = stats.clone();
            std::thread::Builder::new()
                .name(format!("writer-{name}"))
                .spawn(move || run(store, rx, config, &queued, &stats))
                .expect("spawning a thread only fails when the OS is out of resources")
        };
        (
            Writer {
                tx: Arc::new(Mutex::new(Some(tx))),
                queued,
                max_queued: config.max_queued,
                stats,
            },
            thread,
        )
    }

    /// Reports waiting for the writer now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues reports and waits until they are committed (or the commit failed).
    pub async fn commit(&self, deltas: Vec<ReportDelta>) -> Result<Vec<CommitOutcome>, SinkError> {
        let n = deltas.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        if self.queued.fetch_add(n, Ordering::AcqRel) + n > self.max_queued {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(SinkError::Overloaded);
        }
        let (reply, answer) = oneshot::channel();
        let sent = {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            match tx.as_ref() {
                Some(tx) => tx
                    .try_send(Work::Commit(Job { deltas, reply }))
                    .map_err(|e| match e {
                        TrySendError::Full(_) => SinkError::Overloaded,
                        TrySendError::Disconnected(_) => SinkError::ShuttingDown,
                    }),
                None => Err(SinkError::ShuttingDown),
            }
        };
        if let Err(e) = sent {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(e);
        }
        // The writer always answers; a dropped reply means it died, and
        // then nothing of this request was committed.
        answer.await.unwrap_or(Err(SinkError::Unavailable))
    }

    /// Deletes aggregate rows of days before `rows_before` and forgets
    /// report ids of days before `ids_before`, in the writer's thread
    /// between two commits. Returns (rows deleted, ids pruned).
    pub async fn maintain(
        &self,
        rows_before: DayNumber,
        ids_before: DayNumber,
    ) -> Result<(u64, u64), StoreError> {
        let (reply, answer) = oneshot::channel();
        let work = Work::Maintain(Maintenance {
            rows_before,
            ids_before,
            reply,
        });
        let sent = {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            tx.as_ref().map(|tx| tx.try_send(work))
        };
        match sent {
            Some(Ok(())) => answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Backend("the writer stopped".into()))),
            Some(Err(TrySendError::Full(_))) => Err(StoreError::Backend(
                "the writer's queue is full; retention runs at the next interval".into(),
            )),
            _ => Err(StoreError::Backend("the writer is shutting down".into())),
        }
    }

    /// Stops accepting work; queued jobs are still committed.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

impl Sink for Writer {
    fn commit(&self, deltas: Vec<ReportDelta>) -> SinkFuture<'_> {
        Box::pin(Writer::commit(self, deltas))
    }
}

fn run(
    mut store: Box<dyn Store>,
    rx: Receiver<Work>,
    config: WriterConfig,
    queued: &AtomicUsize,
    stats: &WriterStats,
) {
    let mut jobs: Vec<Job> = Vec::new();
    let mut maintenance: Vec<Maintenance> = Vec::new();
    // Blocks until the first piece of work; ends when every sender is gone.
    while let Ok(first) = rx.recv() {
        let mut reports = 0;
        match first {
            Work::Commit(job) => {
                reports = job.deltas.len();
                jobs.push(job);
            }
            Work::Maintain(m) => maintenance.push(m),
        }
        let deadline = Instant::now() + config.max_wait;
        while !jobs.is_empty() && reports < config.batch_max_reports {
            // Take what is already queued without waiting, then wait briefly.
            let next = match rx.try_recv() {
                Ok(work) => Ok(work),
                Err(_) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) => rx.recv_timeout(left),
                    None => Err(RecvTimeoutError::Timeout),
                },
            };
            match next {
                Ok(Work::Commit(job)) => {
                    reports += job.deltas.len();
                    jobs.push(job);
                }
                Ok(Work::Maintain(m)) => maintenance.push(m),
                Err(_) => break,
            }
        }
        if !jobs.is_empty() {
            commit(store.as_mut(), &mut jobs, reports, queued, stats);
        }
        for m in maintenance.drain(..) {
            let result = store
                .delete_before(m.rows_before)
                .and_then(|rows| Ok((rows, store.prune_seen(m.ids_before)?)));
            let _ = m.reply.send(result);
        }
    }
}

/// Commits the gathered jobs in one transaction and answers each.
fn commit(
    store: &mut dyn Store,
    jobs: &mut Vec<Job>,
    reports: usize,
    queued: &AtomicUsize,
    stats: &WriterStats,
) {
    let lens: Vec<usize> = jobs.iter().map(|j| j.deltas.len()).collect();
    let batch: Vec<ReportDelta> = jobs.iter_mut().flat_map(|j| j.deltas.drain(..)).collect();
    let started = Instant::now();
    let result = store.commit(&batch);
    let micros = started.elapsed().as_micros() as u64;
    queued.fetch_sub(reports, Ordering::AcqRel);
    match result {
        Ok(outcomes) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats
                .committed_reports
                .fetch_add(reports as u64, Ordering::Relaxed);
            stats.commit_micros.fetch_add(micros, Ordering::Relaxed);
            let mut outcomes = outcomes.into_iter();
            for (job, len) in jobs.drain(..).zip(lens) {
                let mine: Vec<CommitOutcome> = outcomes.by_ref().take(len).collect();
                let _ = job.reply.send(Ok(mine));
            }
        }
        Err(error) => {
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, reports, "Commit failed; nothing of the batch was stored.");
            for job in jobs.drain(..) {
                let _ = job.reply.send(Err(SinkError::Unavailable));
            }
        }
    }
}
