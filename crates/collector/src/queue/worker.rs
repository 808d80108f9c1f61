//! The worker's pull loop for one region: pull a batch from the region's
//! durable consumer, run it through the open, validate and sink stages in
//! one transaction, and acknowledge the messages only after the commit.
//!
//! - Commit succeeded: every message is acknowledged, including those that
//!   failed to open or validate (counted as `dropped` by reason, never
//!   stored: the device was answered `queued` long ago and will not send
//!   them again).
//! - Commit failed: every message is negatively acknowledged with a delay,
//!   so JetStream delivers it again (to this worker or another).
//! - Crash between commit and acknowledgement: JetStream redelivers after
//!   the ack wait; the report-id dedup makes each a `duplicate`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures_util::StreamExt;
use tokio::sync::watch;

use super::{QueueConfig, QueueStats};
use crate::Collector;

/// The durable pull consumer all workers of a region share.
fn consumer_config(config: &QueueConfig, region: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(config.consumer(region)),
        description: Some(format!("Candor workers of region {region}")),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(config.ack_wait_seconds),
        // Room for every worker's batch in flight at once.
        max_ack_pending: i64::try_from(config.worker_batch.saturating_mul(64)).unwrap_or(i64::MAX),
        ..pull::Config::default()
    }
}

/// Pulls and commits `region`'s envelopes until `stop` turns true; the
/// batch in hand when it does is still committed and acknowledged.
pub(crate) async fn run(
    collector: Arc<Collector>,
    js: jetstream::Context,
    region: String,
    stats: Arc<QueueStats>,
    mut stop: watch::Receiver<bool>,
) {
    let config = collector.config().queue.clone();
    let stream_config = super::publisher::stream_config(&config, &region);
    let mut consumer: Option<jetstream::consumer::PullConsumer> = None;
    let mut failures = 0u32;
    while !*stop.borrow() {
        let c = match &consumer {
            Some(c) => c,
            None => {
                let declared = async {
                    js.create_or_update_stream(stream_config.clone()).await?;
                    let c = js
                        .get_stream(&stream_config.name)
                        .await?
                        .get_or_create_consumer(
                            &config.consumer(&region),
                            consumer_config(&config, &region),
                        )
                        .await?;
                    Ok::<_, async_nats::Error>(c)
                }
                .await;
                match declared {
                    Ok(c) => consumer = Some(c),
                    Err(error) => {
                        stats.consumer_ok.store(false, Ordering::Relaxed);
                        back_off(&mut failures, &region, &error.to_string(), &mut stop).await;
                    }
                }
                continue;
            }
        };
        match pull_and_commit(&collector, &js, c, &config, &region, &stats).await {
            Ok(()) => {
                failures = 0;
                stats.consumer_ok.store(true, Ordering::Relaxed);
            }
            Err(error) => {
                stats.consumer_ok.store(false, Ordering::Relaxed);
                // Declare the stream and consumer again before the next
                // pull: they may have been deleted (or never replicated).
                consumer = None;
                back_off(&mut failures, &region, &error, &mut stop).await;
            }
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

/// One batch: pull, commit, acknowledge (or leave for redelivery).
async fn pull_and_commit(
    collector: &Arc<Collector>,
    js: &jetstream::Context,
    consumer: &jetstream::consumer::PullConsumer,
    config: &QueueConfig,
    region: &str,
    stats: &QueueStats,
) -> Result<(), String> {
    let mut batch = consumer
        .batch()
        .max_messages(config.worker_batch)
        .expires(Duration::from_millis(config.worker_max_wait_ms.max(10)))
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    while let Some(next) = batch.next().await {
        match next {
            Ok(m) => messages.push(m),
            // What was pulled so far is processed; the rest is redelivered.
            Err(e) if messages.is_empty() => return Err(e.to_string()),
            Err(_) => break,
        }
    }
    if messages.is_empty() {
        stats.pending.store(0, Ordering::Relaxed);
        return Ok(());
    }
    let pulled = Instant::now();
    observe(&messages, stats);
    // Opening is the CPU-heavy part: on a blocking thread, so that the
    // runtime keeps pulling and acknowledging for the other loops (and the
    // NATS connection keeps being served) meanwhile.
    let payloads: Vec<_> = messages.iter().map(|m| m.payload.clone()).collect();
    let (c, r) = (collector.clone(), region.to_owned());
    let opened = tokio::task::spawn_blocking(move || {
        let envelopes: Vec<&[u8]> = payloads.iter().map(|p| p.as_ref()).collect();
        c.ingest().open_queued(&r, &envelopes)
    })
    .await
    // The blocking task only fails by panicking (a bug) or at shutdown:
    // either way the batch is left for redelivery.
    .unwrap_or(Err(crate::Rejection::ShuttingDown));
    let committed = match opened {
        Ok(opened) => collector.ingest().commit_queued(region, opened).await,
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
    // The acknowledgements leave before the next pull asks for more.
    js.client().flush().await.map_err(|e| e.to_string())?;
    Ok(())
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
