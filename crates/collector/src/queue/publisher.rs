//! The front's [`Forward`]: publishes still-sealed envelopes to the
//! region's JetStream stream and resolves once the stream acknowledged
//! every one of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use sha2::{Digest, Sha256};

use super::QueueStats;
use crate::ingest::{Forward, ForwardError, ForwardFuture};

/// The stream of one region, as fronts and workers both declare it: file
/// storage (it survives a NATS restart), work-queue retention (a message
/// is gone once a worker acknowledged it), bounded age, and de-duplication
/// by message id.
pub(crate) fn stream_config(config: &super::QueueConfig, region: &str) -> stream::Config {
    stream::Config {
        name: config.stream(region),
        subjects: vec![config.subject(region)],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(config.max_age_seconds),
        duplicate_window: Duration::from_secs(config.duplicate_window_seconds),
        num_replicas: config.replicas,
        description: Some(format!(
            "Candor: sealed report envelopes of region {region}, waiting for a worker"
        )),
        ..stream::Config::default()
    }
}

/// The message id of an envelope: hex SHA-256 of its bytes. A device's
/// retry of the same envelope gets the same id, so JetStream keeps one
/// copy within the duplicate window.
pub(crate) fn message_id(envelope: &[u8]) -> String {
    hex::encode(Sha256::digest(envelope))
}

/// Publishes one region's envelopes.
pub struct Publisher {
    js: jetstream::Context,
    subject: String,
    stream: stream::Config,
    /// Whether the stream was declared since the connection came up (or
    /// since the stream was found missing).
    declared: AtomicBool,
    stats: Arc<QueueStats>,
}

impl Publisher {
    /// A publisher for `region` on `js` (nothing is sent yet: the stream
    /// is declared at the first publication).
    pub(crate) fn new(
        js: jetstream::Context,
        config: &super::QueueConfig,
        region: &str,
        stats: Arc<QueueStats>,
    ) -> Self {
        Publisher {
            js,
            subject: config.subject(region),
            stream: stream_config(config, region),
            declared: AtomicBool::new(false),
            stats,
        }
    }

    /// Declares the stream (creating it, or updating its limits) unless
    /// that was done already.
    pub(crate) async fn declare(&self) -> Result<(), ForwardError> {
        if self.declared.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.js.create_or_update_stream(self.stream.clone()).await {
            Ok(_) => {
                self.declared.store(true, Ordering::Release);
                Ok(())
            }
            Err(error) => {
                tracing::warn!(stream = %self.stream.name, %error, "Declaring the stream failed.");
                Err(ForwardError::Unavailable)
            }
        }
    }

    /// Whether the stream exists now (for readiness).
    pub(crate) async fn stream_exists(&self) -> bool {
        self.js.get_stream(&self.stream.name).await.is_ok()
    }

    async fn publish_all(&self, envelopes: Vec<Vec<u8>>) -> Result<(), ForwardError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        // While the connection is down, answer at once instead of holding
        // the request until the publish timeout: the device retries later.
        if self.js.client().connection_state() == async_nats::connection::State::Disconnected {
            return Err(ForwardError::Unavailable);
        }
        self.declare().await?;
        let n = envelopes.len() as u64;
        // Send every envelope first, then wait for the acknowledgements:
        // one round trip for the request, not one per envelope.
        let mut acks = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let id = message_id(&envelope);
            let publish = PublishMessage::build()
                .payload(envelope.into())
                .message_id(id);
            let ack = self
                .js
                .send_publish(self.subject.clone(), publish)
                .await
                .map_err(|error| self.failed(&error))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(|error| self.failed(&error))?;
        }
        self.stats.published.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Logs a failed publication (no payload, no URL) and maps it.
    fn failed(&self, error: &jetstream::context::PublishError) -> ForwardError {
        if matches!(
            error.kind(),
            jetstream::context::PublishErrorKind::StreamNotFound
        ) {
            // Deleted behind our back (or never declared on this server):
            // declare it again at the next publication.
            self.declared.store(false, Ordering::Release);
        }
        tracing::warn!(subject = %self.subject, %error, "Publishing to the queue failed; answering queue_unavailable.");
        ForwardError::Unavailable
    }
}

impl Forward for Publisher {
    fn publish(&self, envelopes: Vec<Vec<u8>>) -> ForwardFuture<'_> {
        Box::pin(self.publish_all(envelopes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_is_the_envelopes_sha256() {
        assert_eq!(
            message_id(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_stream_is_a_file_backed_work_queue() {
        let c = stream_config(&super::super::QueueConfig::default(), "eu");
        assert_eq!(c.name, "candor_EU");
        assert_eq!(c.subjects, ["candor.eu.envelopes"]);
        assert_eq!(c.retention, stream::RetentionPolicy::WorkQueue);
        assert_eq!(c.storage, stream::StorageType::File);
        assert_eq!(c.duplicate_window, Duration::from_secs(600));
        assert_eq!(c.num_replicas, 1);
    }
}
