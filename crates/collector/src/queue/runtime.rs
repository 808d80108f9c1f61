//! A process's connection to the queue and what runs over it: the
//! fronts' publishers, or the workers' consumers, with their counters.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::watch;

use super::{Publisher, QueueConfig, QueueStats, Role, redact_url};
use crate::Collector;
use crate::error::Rejection;
use crate::ingest::Forward;

/// Why the queue could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The URL is not a NATS server address (the URL shown is redacted).
    #[error("the queue URL {url} is invalid: {reason}")]
    Url {
        /// The URL, without credentials.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// The queue side of a `front` or `worker` process.
pub struct QueueRuntime {
    role: Role,
    client: async_nats::Client,
    js: jetstream::Context,
    stats: BTreeMap<String, Arc<QueueStats>>,
    publishers: BTreeMap<String, Arc<Publisher>>,
    stop: watch::Sender<bool>,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl QueueRuntime {
    /// Connects to the NATS server of `config` for `role` and `regions`.
    /// The connection is made (and remade after any outage) in the
    /// background, so a process starts while NATS is down and reports it
    /// through readiness and `queue_unavailable` answers.
    ///
    /// # Errors
    /// [`QueueError::Url`] for an address that cannot be a NATS server.
    pub async fn connect(
        config: &QueueConfig,
        role: Role,
        regions: &[String],
    ) -> Result<Self, QueueError> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("candor-{role}"))
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .connect(config.url.as_str())
            .await
            .map_err(|e| QueueError::Url {
                url: redact_url(&config.url),
                reason: e.kind().to_string(),
            })?;
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_millis(config.publish_timeout_ms))
            // Bounded by the fronts' in-flight body budget, not here.
            .max_ack_inflight(1 << 16)
            .backpressure_on_inflight(true)
            .build(client.clone());
        let stats: BTreeMap<String, Arc<QueueStats>> = regions
            .iter()
            .map(|r| (r.clone(), Arc::new(QueueStats::new())))
            .collect();
        let publishers = if role == Role::Front {
            stats
                .iter()
                .map(|(r, s)| {
                    let p = Publisher::new(js.clone(), config, r, s.clone());
                    (r.clone(), Arc::new(p))
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        tracing::info!(url = %redact_url(&config.url), %role, "Using the queue.");
        Ok(QueueRuntime {
            role,
            client,
            js,
            stats,
            publishers,
            stop: watch::channel(false).0,
            workers: Mutex::new(Vec::new()),
        })
    }

    /// The publisher of a front's region.
    pub fn publisher(&self, region: &str) -> Option<Arc<dyn Forward>> {
        self.publishers
            .get(region)
            .map(|p| p.clone() as Arc<dyn Forward>)
    }

    /// Declares every region's stream now, so that a worker started later
    /// finds messages waiting; a failure is only logged (the next
    /// publication declares it again).
    pub(crate) async fn declare_streams(&self) {
        for p in self.publishers.values() {
            let _ = tokio::time::timeout(Duration::from_secs(3), p.declare()).await;
        }
    }

    /// Starts one consumer per region (role `worker`), each with up to
    /// `[queue] worker_pullers` batches in flight.
    pub(crate) fn spawn_workers(&self, collector: &Arc<Collector>) {
        if self.role != Role::Worker {
            return;
        }
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for (region, stats) in &self.stats {
            workers.push(tokio::spawn(super::worker::run(
                collector.clone(),
                self.js.clone(),
                region.clone(),
                stats.clone(),
                self.stop.subscribe(),
            )));
        }
    }

    /// Stops the consumers after the batches in hand are committed and
    /// acknowledged, and waits for them; then flushes what is unsent.
    pub(crate) async fn stop(&self) {
        let _ = self.stop.send(true);
        let workers: Vec<_> = self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for w in workers {
            let _ = w.await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
    }

    /// Whether this process can do its part now: a front can reach every
    /// region's stream; a worker's consumers answered their last pull and
    /// its last commit succeeded.
    pub async fn ready(&self) -> Result<(), Rejection> {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err(Rejection::QueueUnavailable);
        }
        match self.role {
            Role::Front => {
                for p in self.publishers.values() {
                    let exists = tokio::time::timeout(Duration::from_secs(2), p.stream_exists());
                    if !exists.await.unwrap_or(false) {
                        return Err(Rejection::QueueUnavailable);
                    }
                }
            }
            Role::Worker => {
                for s in self.stats.values() {
                    if !s.consumer_ok.load(Ordering::Relaxed) {
                        return Err(Rejection::QueueUnavailable);
                    }
                    if !s.store_ok.load(Ordering::Relaxed) {
                        return Err(Rejection::StoreUnavailable);
                    }
                }
            }
            Role::All => {}
        }
        Ok(())
    }

    /// The queue's Prometheus series.
    pub fn render_metrics(&self) -> String {
        super::stats::render(self.stats.iter().map(|(r, s)| (r.as_str(), s.as_ref())))
    }

    /// This region's counters (for tests and summaries).
    pub fn stats(&self, region: &str) -> Option<&QueueStats> {
        self.stats.get(region).map(Arc::as_ref)
    }
}
