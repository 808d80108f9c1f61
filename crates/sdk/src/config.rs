//! How an SDK instance is set up.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use candor_protocol::VerifyingKey;
use candor_schema::Schema;

use crate::upload::Uploader;
use candor_time::{Clock, SystemClock};

/// Everything [`crate::Candor::open`] needs.
pub struct Config {
    /// Where the SDK keeps its state, outbox, sent reports and consent receipts.
    pub data_dir: PathBuf,
    /// The data dictionary: nothing outside it is recorded.
    pub schema: Schema,
    /// The device's region; its collector is the only one reports go to.
    pub region: String,
    /// The region's signing public key (its `signing.public.json`), pinned
    /// by the app: reports are sealed only to a key of a key list it signed
    /// (docs/wire.md §5.2), never to a bare key config.
    pub signing_key: VerifyingKey,
    /// A signed key list bundled by the host (the document the collector
    /// serves at `GET /v1/regions/{region}/keys`), checked like a fetched
    /// one. Without it, and until the uploader fetches one, nothing is
    /// sealed: finished days stay aggregates.
    pub key_list: Option<Vec<u8>>,
    /// Raw context values (e.g. `app_version = "121.0.6167.101"`), coarsened
    /// by the schema's rules at open; values the schema rejects are dropped.
    pub dimensions: BTreeMap<String, String>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Sends sealed batches to the collector; `None` keeps reports queued.
    pub uploader: Option<Arc<dyn Uploader>>,
    /// How often a background thread persists the day's aggregates (and
    /// builds finished days' reports); `None` for no thread, so only
    /// [`crate::Candor::flush`] persists.
    pub persist_interval: Option<Duration>,
    /// Whether that background thread also uploads.
    pub auto_upload: bool,
    /// Outbox caps: the oldest reports are dropped (and counted) beyond them.
    pub outbox: OutboxLimits,
    /// How many days sent reports are kept for the user to read.
    pub sent_retention_days: u32,
    /// Most reports per upload request.
    pub batch_size: usize,
    /// Retry policy after failed uploads.
    pub backoff: BackoffPolicy,
}

impl Config {
    /// A configuration with the defaults below for everything but the
    /// essentials (the region is the signing key's): no bundled key list,
    /// system clock, no uploader, persist every 60 s, outbox of
    /// 500 reports / 4 MiB / 30 days, sent reports kept 30 days, batches of
    /// 50, backoff from 60 s to 6 h.
    pub fn new(data_dir: impl Into<PathBuf>, schema: Schema, signing_key: VerifyingKey) -> Self {
        Config {
            data_dir: data_dir.into(),
            region: signing_key.region().to_owned(),
            schema,
            signing_key,
            key_list: None,
            dimensions: BTreeMap::new(),
            clock: Arc::new(SystemClock),
            uploader: None,
            persist_interval: Some(Duration::from_secs(60)),
            auto_upload: false,
            outbox: OutboxLimits::default(),
            sent_retention_days: 30,
            batch_size: 50,
            backoff: BackoffPolicy::default(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("schema", &self.schema.id)
            .field("region", &self.region)
            .field("signing_key", &self.signing_key.to_hex())
            .field("persist_interval", &self.persist_interval)
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

/// Caps on what waits in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Most queued reports.
    pub max_reports: usize,
    /// Most queued bytes (envelopes and their plaintext copies).
    pub max_bytes: u64,
    /// Reports for days older than this are dropped.
    pub max_age_days: u32,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        OutboxLimits {
            max_reports: 500,
            max_bytes: 4 * 1024 * 1024,
            max_age_days: 30,
        }
    }
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Delay after the first failure, in seconds.
    pub base_seconds: i64,
    /// Longest delay, in seconds (also caps a server's Retry-After).
    pub max_seconds: i64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base_seconds: 60,
            max_seconds: 6 * 3600,
        }
    }
}

impl BackoffPolicy {
    /// The delay after `failures` consecutive failures (≥ 1) before jitter:
    /// `base · 2^(failures−1)`, capped at `max`.
    pub fn delay(&self, failures: u32) -> i64 {
        let shift = failures.saturating_sub(1).min(30);
        self.base_seconds
            .saturating_mul(1 << shift)
            .min(self.max_seconds)
            .max(1)
    }
}
