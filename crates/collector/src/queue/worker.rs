//! A worker's consumer for one region: one continuous pull from the
//! region's durable consumer feeds batches to tasks that open, validate and
//! commit them in one transaction each, several batches at once, and
//! acknowledge their messages only after the commit.
//!
//! Why one pull and many batches: with a pull loop per batch, every loop
//! asked JetStream for a batch at once, JetStream filled the waiting pulls
//! in turn, so all batches arrived together, were opened together and then
//! queued together behind the region's writer, and the pipeline moved in
//! lock-step (pull, then open, then commit, each stage idle while another
//! worked; BENCHMARKS.md, "Roles' throughput"). A single pull that keeps
//! its buffer filled (the client asks for more when half of it is used)
//! hands out a new batch whenever a slot frees, so opening one batch
//! overlaps with committing another and with receiving the next.
//!
//! - Commit succeeded: every message is acknowledged, including those that
//!   failed to open or validate (counted as `dropped` by reason, never
//!   stored: the device was answered `queued` long ago and will not send
//!   them again).
//! - Commit failed: every message is negatively acknowledged with a delay,
//!   so JetStream delivers it again (to this worker or another).
//! - Crash between commit and acknowledgement: JetStream redelivers after
//!   the ack wait; the report-id dedup makes each a `duplicate`.
//! - Stop: batches in hand are committed and acknowledged; messages already
//!   received but not yet in a batch are negatively acknowledged without a
//!   delay, so another worker gets them at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{QueueConfig, QueueStats};
use crate::Collector;

/// How long one pull request of the continuous pull lives before the
/// client renews it, and how often the server proves it is still there
/// (a missed heartbeat ends the pull, which is then made again, e.g.
/// after NATS restarted).
const PULL_EXPIRES: Duration = Duration::from_secs(5);
const PULL_HEARTBEAT: Duration = Duration::from_secs(1);

/// The durable pull consumer all workers of a region share.
fn consumer_config(config: &QueueConfig, region: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(config.consumer(region)),
        description: Some(format!("Candor workers of region {region}")),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(config.ack_wait_seconds),
        // Room for every worker's batches in flight and its pull's buffer.
        max_ack_pending: i64::try_from(config.worker_batch.saturating_mul(64)).unwrap_or(i64::MAX),
        ..pull::Config::default()
    }
}

/// Pulls and commits `region`'s envelopes until `stop` turns true; the
/// batches in hand when it does are still committed and acknowledged.
pub(crate) async fn run(
    collector: Arc<Collector>,
    js: jetstream::Context,
    region: String,
    stats: Arc<QueueStats>,
    mut stop: watch::Receiver<bool>,
) {
    let config = Arc::new(collector.config().queue.clone());
    let stream_config = super::publisher::stream_config(&config, &region);
    let mut failures = 0u32;
    while !*stop.borrow() {
        let pulled = async {
            js.create_or_update_stream(stream_config.clone()).await?;
            let consumer = js
                .get_stream(&stream_config.name)
                .await?
                .get_or_create_consumer(
                    &config.consumer(&region),
                    consumer_config(&config, &region),
                )
                .await?;
            let messages = consumer
                .stream()
                .max_messages_per_batch(config.worker_batch)
                .expires(PULL_EXPIRES)
                .heartbeat(PULL_HEARTBEAT)
                .messages()
                .await?;
            Ok::<_, async_nats::Error>(messages)
        }
        .await;
        let result = match pulled {
            Ok(messages) => {
                // The consumer answered: this worker can do its part.
                stats.consumer_ok.store(true, Ordering::Relaxed);
                let batch = Batcher {
                    collector: collector.clone(),
                    js: js.clone(),
                    config: config.clone(),
                    region: region.clone(),
                    stats: stats.clone(),
                };
                batch.pump(messages, &mut stop, &mut failures).await
            }
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = result {
            stats.consumer_ok.store(false, Ordering::Relaxed);
            // Declare the stream and consumer again before the next pull:
            // they may have been deleted (or never replicated).
            back_off(&mut failures, &region, &error, &mut stop).await;
        }
    }
}

/// Waits a little longer after each consecutive failure (at most 5 s), or
/// until `stop` turns true.
async fn back_off(failures: &mut u32, region: &str, error: &str, stop: &mut watch::Receiver<bool>) {
    *failures = failures.saturating_add(1);
    if *failures == 1 || failures.is_power_of_two() {
        tracing::warn!(
            region,
            error,
            failures = *failures,
            "The queue is unreachable; retrying."
        );
    }
    let wait = Duration::from_millis(100u64 << (*failures).min(6)).min(Duration::from_secs(5));
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = stop.changed() => {}
    }
}

/// What a batch's task needs; cloned into each.
#[derive(Clone)]
struct Batcher {
    collector: Arc<Collector>,
    js: jetstream::Context,
    config: Arc<QueueConfig>,
    region: String,
    stats: Arc<QueueStats>,
}

impl Batcher {
    /// Cuts the pull into batches and keeps up to `[queue] worker_pullers`
    /// of them in flight, until `stop` turns true (then `Ok`) or the pull
    /// fails (then the batches in flight are finished first and the error
    /// returned, so the caller pulls again).
    async fn pump(
        &self,
        mut messages: pull::Stream,
        stop: &mut watch::Receiver<bool>,
        failures: &mut u32,
    ) -> Result<(), String> {
        let in_flight_max = self.config.pullers();
        let max_wait = Duration::from_millis(self.config.worker_max_wait_ms.max(10));
        let mut in_flight: JoinSet<Result<(), String>> = JoinSet::new();
        let mut failed: Option<String> = None;
        while failed.is_none() && !*stop.borrow() {
            while in_flight.len() >= in_flight_max {
                if let Some(done) = in_flight.join_next().await {
                    failed = failed.or(self.settle(done, failures));
                }
            }
            while let Some(done) = in_flight.try_join_next() {
                failed = failed.or(self.settle(done, failures));
            }
            if failed.is_some() {
                break;
            }
            let first = tokio::select! {
                next = messages.next() => next,
                _ = stop.changed() => break,
            };
            let (batch, error) =
                gather(&mut messages, first, self.config.worker_batch, max_wait).await;
            failed = error;
            if !batch.is_empty() {
                let me = self.clone();
                in_flight.spawn(async move { me.commit(batch).await });
            }
        }
        // Received but not in a batch: back to the stream at once, for
        // another worker (or this one's next pull).
        while let Some(Some(Ok(m))) = messages.next().now_or_never() {
            let _ = m.ack_with(AckKind::Nak(None)).await;
        }
        while let Some(done) = in_flight.join_next().await {
            failed = failed.or(self.settle(done, failures));
        }
        match failed {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Books a finished batch; returns the pull's failure, if it was one.
    fn settle(
        &self,
        done: Result<Result<(), String>, tokio::task::JoinError>,
        failures: &mut u32,
    ) -> Option<String> {
        match done {
            Ok(Ok(())) => {
                *failures = 0;
                self.stats.consumer_ok.store(true, Ordering::Relaxed);
                None
            }
            Ok(Err(error)) => Some(error),
            // A batch task only ends this way by panicking (a bug) or at
            // shutdown; its messages come back after the ack wait.
            Err(error) => Some(error.to_string()),
        }
    }

    /// One batch: open, commit, acknowledge (or leave for redelivery).
    /// `Err` only when the acknowledgements could not be sent.
    async fn commit(self, messages: Vec<jetstream::Message>) -> Result<(), String> {
        let Batcher {
            collector,
            js,
            config,
            region,
            stats,
        } = self;
        let pulled = Instant::now();
        observe(&messages, &stats);
        // Opening is the CPU-heavy part: on a blocking thread, so that the
        // runtime keeps pulling, committing and acknowledging other batches
        // (and serving the NATS connection) meanwhile.
        let payloads: Vec<_> = messages.iter().map(|m| m.payload.clone()).collect();
        let (c, r) = (collector.clone(), region.clone());
        let opened = tokio::task::spawn_blocking(move || {
            let envelopes: Vec<&[u8]> = payloads.iter().map(|p| p.as_ref()).collect();
            c.ingest().open_queued(&r, &envelopes)
        })
        .await
        // The blocking task only fails by panicking (a bug) or at shutdown:
        // either way the batch is left for redelivery.
        .unwrap_or(Err(crate::Rejection::ShuttingDown));
        let committed = match opened {
            Ok(opened) => collector.ingest().commit_queued(&region, opened).await,
            Err(rejection) => Err(rejection),
        };
        let ack = match &committed {
            Ok(_) => {
                stats.store_ok.store(true, Ordering::Relaxed);
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats
                    .commit_micros
                    .fetch_add(pulled.elapsed().as_micros() as u64, Ordering::Relaxed);
                AckKind::Ack
            }
            Err(rejection) => {
                stats.store_ok.store(false, Ordering::Relaxed);
                stats.naks.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    region,
                    code = rejection.code(),
                    envelopes = messages.len(),
                    "The batch was not committed; it will be delivered again."
                );
                AckKind::Nak(Some(Duration::from_secs(config.nak_delay_seconds)))
            }
        };
        for m in &messages {
            if let Err(error) = m.ack_with(ack).await {
                // The message comes back after the ack wait; dedup handles it.
                tracing::warn!(region, %error, "Acknowledging a message failed.");
            }
        }
        // The acknowledgements leave now, not with the next publication.
        js.client().flush().await.map_err(|e| e.to_string())
    }
}

/// A batch: `first`, then what the pull has buffered, then what arrives
/// within `max_wait`, up to `max` messages; and the pull's failure if it
/// ended the batch.
async fn gather(
    messages: &mut pull::Stream,
    first: Option<Result<jetstream::Message, pull::MessagesError>>,
    max: usize,
    max_wait: Duration,
) -> (Vec<jetstream::Message>, Option<String>) {
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut batch = Vec::new();
    let mut next = first;
    loop {
        match next {
            Some(Ok(m)) => batch.push(m),
            Some(Err(e)) => return (batch, Some(e.to_string())),
            None => return (batch, Some("the pull ended".into())),
        }
        if batch.len() >= max {
            return (batch, None);
        }
        next = match messages.next().now_or_never() {
            Some(n) => n,
            None => match tokio::time::timeout_at(deadline, messages.next()).await {
                Ok(n) => n,
                Err(_) => return (batch, None),
            },
        };
    }
}

/// Redeliveries, depth and lag as seen in a batch's metadata.
fn observe(messages: &[jetstream::Message], stats: &QueueStats) {
    let now = time::OffsetDateTime::now_utc();
    let mut oldest: Option<time::OffsetDateTime> = None;
    let mut pending = 0;
    let mut redelivered = 0;
    for m in messages {
        if let Ok(info) = m.info() {
            if info.delivered > 1 {
                redelivered += 1;
            }
            pending = info.pending;
            oldest = Some(oldest.map_or(info.published, |o| o.min(info.published)));
        }
    }
    stats
        .pulled
        .fetch_add(messages.len() as u64, Ordering::Relaxed);
    stats.redeliveries.fetch_add(redelivered, Ordering::Relaxed);
    stats.pending.store(pending, Ordering::Relaxed);
    if let Some(oldest) = oldest {
        let lag = (now - oldest).whole_milliseconds().max(0);
        stats
            .lag_ms
            .store(i64::try_from(lag).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
}
