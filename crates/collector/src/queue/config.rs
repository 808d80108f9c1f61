//! The role a collector process plays and its `[queue]` settings.
//!
//! These types are compiled with or without the `queue` feature, so a
//! configuration file reads the same everywhere; a build without the
//! feature refuses to start as `front` or `worker` and says why.

use std::str::FromStr;

use serde::Deserialize;

/// What one `candor serve` process does (`role` in the configuration,
/// `--role`, or `CANDOR_ROLE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The embedded collector: ingest, open, validate and commit in one
    /// process; a 202 means committed. The default.
    #[default]
    All,
    /// A stateless HTTP front: cheap checks, then the still-sealed
    /// envelopes go to the region's JetStream stream; a 202 means the
    /// stream acknowledged them. Needs no store and no private key.
    Front,
    /// An aggregation worker: pulls envelopes from the stream, opens,
    /// validates and commits them, and acknowledges only after the commit.
    /// Serves no device-facing ingest.
    Worker,
}

impl Role {
    /// The name used in the configuration, flags and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Front => "front",
            Role::Worker => "worker",
        }
    }

    /// Whether this role uses the queue.
    pub fn uses_queue(self) -> bool {
        self != Role::All
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(Role::All),
            "front" => Ok(Role::Front),
            "worker" => Ok(Role::Worker),
            other => Err(format!("role must be all, front or worker, not {other:?}")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `[queue]` section: where the JetStream server is and how the
/// streams and the workers' consumers are set up. Used by the `front` and
/// `worker` roles only.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// The NATS server (`nats://host:port`; credentials in the URL are
    /// never logged). Overridden by `--queue-url` and `CANDOR_QUEUE_URL`.
    pub url: String,
    /// Prefix of the stream names (`<prefix>_<REGION>`) and subjects
    /// (`<prefix>.<region>.envelopes`), so that several deployments (or
    /// tests) share one NATS server without meeting.
    pub stream_prefix: String,
    /// Oldest a queued envelope may get before JetStream drops it,
    /// seconds: bounds how long reports wait for workers that are down.
    pub max_age_seconds: u64,
    /// How long JetStream remembers message ids to drop a client's retry
    /// of the same envelope, seconds (the store's report-id dedup catches
    /// later retries).
    pub duplicate_window_seconds: u64,
    /// Copies of the stream in a JetStream cluster (1 on a single server;
    /// 3 in production, so a front's 202 means a majority of the nodes hold
    /// the envelope; docs/deploy.md).
    pub replicas: usize,
    /// Most envelopes a worker pulls and commits in one transaction.
    pub worker_batch: usize,
    /// Longest a worker's pull waits for a batch to fill, ms.
    pub worker_max_wait_ms: u64,
    /// Batches per region one worker opens and commits at once, cut from
    /// one continuous pull, so that opening (the CPU-heavy part) uses every
    /// core while other batches commit and acknowledge; their commits share
    /// the region's writer. 0: four per core (BENCHMARKS.md, "Roles'
    /// throughput"). The name is older than the single pull.
    pub worker_pullers: usize,
    /// How long JetStream waits for a worker's acknowledgement before it
    /// redelivers, seconds (longer than a commit can take).
    pub ack_wait_seconds: u64,
    /// Delay before a batch whose commit failed is delivered again, seconds.
    pub nak_delay_seconds: u64,
    /// Longest a front waits for the stream's acknowledgement before it
    /// answers `queue_unavailable`, ms.
    pub publish_timeout_ms: u64,
    /// Most reports a front refuses per second and region (bad framing,
    /// header, region or key id) before it answers further uploads of the
    /// region `overloaded` for the rest of that second; 0: no bound.
    pub front_max_bad_per_second: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            url: "nats://127.0.0.1:4222".into(),
            stream_prefix: "candor".into(),
            max_age_seconds: 7 * 24 * 3600,
            duplicate_window_seconds: 600,
            replicas: 1,
            worker_batch: 1000,
            worker_max_wait_ms: 100,
            worker_pullers: 0,
            ack_wait_seconds: 30,
            nak_delay_seconds: 2,
            publish_timeout_ms: 5000,
            front_max_bad_per_second: 1000,
        }
    }
}

// The URL may carry a password or token: Debug shows it redacted.
impl std::fmt::Debug for QueueConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueConfig")
            .field("url", &redact_url(&self.url))
            .field("stream_prefix", &self.stream_prefix)
            .field("max_age_seconds", &self.max_age_seconds)
            .field("duplicate_window_seconds", &self.duplicate_window_seconds)
            .field("replicas", &self.replicas)
            .field("worker_batch", &self.worker_batch)
            .field("worker_max_wait_ms", &self.worker_max_wait_ms)
            .field("worker_pullers", &self.worker_pullers)
            .field("ack_wait_seconds", &self.ack_wait_seconds)
            .field("nak_delay_seconds", &self.nak_delay_seconds)
            .field("publish_timeout_ms", &self.publish_timeout_ms)
            .field("front_max_bad_per_second", &self.front_max_bad_per_second)
            .finish()
    }
}

impl QueueConfig {
    /// Checks the values a stream or consumer would refuse, so that a bad
    /// configuration fails at load, not at the first upload.
    ///
    /// # Errors
    /// What is wrong, naming the field.
    pub fn check(&self) -> Result<(), String> {
        let prefix_ok = !self.stream_prefix.is_empty()
            && self.stream_prefix.len() <= 32
            && self
                .stream_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !prefix_ok {
            return Err("queue.stream_prefix must be 1 to 32 letters, digits, '_' or '-'".into());
        }
        if self.worker_batch == 0 {
            return Err("queue.worker_batch must be ≥ 1".into());
        }
        if !(1..=5).contains(&self.replicas) {
            return Err("queue.replicas must be 1 to 5 (JetStream's limit)".into());
        }
        if self.duplicate_window_seconds == 0
            || self.max_age_seconds < self.duplicate_window_seconds
        {
            return Err(
                "queue.duplicate_window_seconds must be ≥ 1 and at most max_age_seconds".into(),
            );
        }
        if self.ack_wait_seconds == 0 || self.publish_timeout_ms == 0 {
            return Err("queue.ack_wait_seconds and publish_timeout_ms must be ≥ 1".into());
        }
        Ok(())
    }

    /// How many batches a worker has in flight per region.
    pub fn pullers(&self) -> usize {
        match self.worker_pullers {
            0 => 4 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// The stream of `region`: `<prefix>_<REGION>` (stream names may not
    /// hold dots).
    pub fn stream(&self, region: &str) -> String {
        format!(
            "{}_{}",
            self.stream_prefix,
            region.to_ascii_uppercase().replace('.', "_")
        )
    }

    /// The subject envelopes of `region` are published on.
    pub fn subject(&self, region: &str) -> String {
        format!("{}.{region}.envelopes", self.stream_prefix)
    }

    /// The durable pull consumer the workers of `region` share.
    pub fn consumer(&self, region: &str) -> String {
        format!("{}_workers", self.stream(region))
    }
}

/// `url` with its user information replaced by `***` (in a NATS URL it is
/// a user and password, or a token alone), the only form in which a queue
/// URL may reach a log or a message.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_flags_and_files() {
        assert_eq!("front".parse::<Role>(), Ok(Role::Front));
        assert_eq!(" Worker ".parse::<Role>(), Ok(Role::Worker));
        assert!("both".parse::<Role>().is_err());
        assert_eq!(Role::default(), Role::All);
        assert!(!Role::All.uses_queue());
    }

    #[test]
    fn names_of_streams_subjects_and_consumers() {
        let q = QueueConfig::default();
        assert_eq!(q.stream("eu"), "candor_EU");
        assert_eq!(q.subject("eu"), "candor.eu.envelopes");
        assert_eq!(q.consumer("eu"), "candor_EU_workers");
    }

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            redact_url("nats://app:s3cret@nats.local:4222"),
            "nats://***@nats.local:4222"
        );
        assert_eq!(redact_url("nats://s3cret@h:1/x"), "nats://***@h:1/x");
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        let q = QueueConfig {
            url: "nats://a:hunter2@h".into(),
            ..QueueConfig::default()
        };
        assert!(!format!("{q:?}").contains("hunter2"));
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = QueueConfig {
            stream_prefix: "a.b".into(),
            ..QueueConfig::default()
        };
        assert!(bad.check().unwrap_err().contains("stream_prefix"));
        let bad = QueueConfig {
            duplicate_window_seconds: 10,
            max_age_seconds: 5,
            ..QueueConfig::default()
        };
        assert!(bad.check().is_err());
        assert_eq!(QueueConfig::default().check(), Ok(()));
    }
}
