//! `candor serve` configuration: a TOML file, every field optional.
//!
//! With no file at all the collector listens on 127.0.0.1:8750, keeps its
//! data under `./candor-data`, and serves every region of its schemas.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Root of the collector's data: one folder per region holding its
    /// store (see [`Config::store`]) and key directory.
    pub data_dir: PathBuf,
    /// Schema (data dictionary) files to serve, one per app or OS component.
    /// Empty: the binary's built-in example schema.
    pub schemas: Vec<PathBuf>,
    /// Regions to serve. Empty: every region declared by the schemas.
    pub regions: Vec<String>,
    /// Ingest limits and group commit.
    pub ingest: IngestConfig,
    /// Key rotation.
    pub keys: KeysConfig,
    /// Background jobs.
    pub jobs: JobsConfig,
    /// The dashboard.
    pub dashboard: DashboardConfig,
    /// Where the aggregates, ledger, audit log and tokens live (see
    /// [`crate::store_config`]).
    pub store: crate::store_config::StoreSection,
    /// What this process does: `all` (the embedded default), `front` or
    /// `worker` (scale-out over the queue; docs/ARCHITECTURE.md).
    pub role: crate::queue::Role,
    /// The queue between fronts and workers (`front` and `worker` only).
    pub queue: crate::queue::QueueConfig,
    /// TLS termination by the collector itself (off by default).
    pub tls: TlsConfig,
}

/// `[tls]`: when both files are set, the collector serves HTTPS only on
/// its listen address (a plain-HTTP request fails its handshake) and the
/// dashboard's cookies are `Secure`. Unset: plain HTTP, for loopback or
/// behind a TLS terminator.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain: the server's certificate first, then its
    /// intermediates.
    pub cert: Option<PathBuf>,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
}

impl TlsConfig {
    /// The certificate and key files, when TLS is on.
    pub fn files(&self) -> Option<(&Path, &Path)> {
        Some((self.cert.as_deref()?, self.key.as_deref()?))
    }

    /// Whether the collector terminates TLS itself.
    pub fn is_on(&self) -> bool {
        self.files().is_some()
    }

    /// Both files or neither: half a pair would silently serve plain HTTP.
    fn check(&self) -> Result<(), String> {
        match (&self.cert, &self.key) {
            (Some(_), None) => {
                Err("tls.cert is set but tls.key is not: set both or neither".into())
            }
            (None, Some(_)) => {
                Err("tls.key is set but tls.cert is not: set both or neither".into())
            }
            _ => Ok(()),
        }
    }
}

/// The dashboard's settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// Mark the dashboard's cookies `Secure`, so browsers send them only
    /// over HTTPS. Off by default because a collector without `[tls]`
    /// speaks plain HTTP (on loopback); turn it on behind a TLS terminator.
    /// With `[tls]` the cookies are `Secure` whatever this says.
    pub secure_cookies: bool,
    /// The region the dashboard's pages open on when none is asked for
    /// (if the token covers it; else the first region it covers). An
    /// operator's choice, not "the region with data": whether a region
    /// received reports is an exact fact no analyst page may depend on.
    pub default_region: Option<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8750))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            data_dir: PathBuf::from("./candor-data"),
            schemas: Vec::new(),
            regions: Vec::new(),
            ingest: IngestConfig::default(),
            keys: KeysConfig::default(),
            jobs: JobsConfig::default(),
            dashboard: DashboardConfig::default(),
            store: crate::store_config::StoreSection::default(),
            role: crate::queue::Role::default(),
            queue: crate::queue::QueueConfig::default(),
            tls: TlsConfig::default(),
        }
    }
}

/// Ingest limits and group commit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest request body, bytes (at most the wire format's batch limit).
    pub max_body_bytes: usize,
    /// Oldest accepted report day, in days before the server's today. Unset
    /// (the default): each region's `report_window_days` from the schema,
    /// the window the SDK knows too. Set, it can only widen that window
    /// (to simulate past days against a live collector), and days are then
    /// released only after this wider window has passed.
    pub day_window_past: Option<u32>,
    /// Newest accepted report day, in days after the server's today.
    pub day_window_future: u32,
    /// Most reports merged into one transaction.
    pub batch_max_reports: usize,
    /// Longest a report waits for others to share its transaction, ms.
    pub batch_max_wait_ms: u64,
    /// Most reports waiting for the writer of one region; beyond it
    /// requests are answered 503 with Retry-After.
    pub queue_max_reports: usize,
    /// Most request-body bytes being read, decrypted and validated at once
    /// (a request counts its Content-Length, or `max_body_bytes` without
    /// one). Beyond it requests are answered 503 before their body is read,
    /// which bounds memory under overload.
    pub max_inflight_body_bytes: usize,
    /// Retry-After sent with 503 answers, seconds.
    pub retry_after_seconds: u32,
}

impl IngestConfig {
    /// The in-flight body budget in KiB, the unit of the request permits.
    pub fn inflight_body_kib(&self) -> usize {
        self.max_inflight_body_bytes.div_ceil(1024)
    }

    /// Permits (KiB) a request of `content_length` bytes takes.
    pub fn body_kib(&self, content_length: Option<usize>) -> u32 {
        let n = content_length
            .unwrap_or(self.max_body_bytes)
            .min(self.max_body_bytes);
        u32::try_from(n.div_ceil(1024).max(1)).unwrap_or(u32::MAX)
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: candor_protocol::limits::MAX_BATCH_BYTES,
            day_window_past: None,
            day_window_future: 1,
            batch_max_reports: 4096,
            batch_max_wait_ms: 2,
            queue_max_reports: 8_192,
            max_inflight_body_bytes: 16 * 1024 * 1024,
            retry_after_seconds: 5,
        }
    }
}

/// Key rotation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// How long a retired key still opens reports (sealed by devices that
    /// have not fetched the new key yet), days.
    pub retired_grace_days: u32,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            retired_grace_days: 30,
        }
    }
}

/// Background jobs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How often retention and dedup pruning run, seconds.
    pub interval_seconds: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            interval_seconds: 3600,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// The smallest accepted `ingest.max_body_bytes`: one small envelope.
pub const MIN_BODY_BYTES: usize = 1024;

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.ingest.max_body_bytes > candor_protocol::limits::MAX_BATCH_BYTES {
            return Err(format!(
                "ingest.max_body_bytes must be at most {}",
                candor_protocol::limits::MAX_BATCH_BYTES
            ));
        }
        // Below this no envelope fits, and a limit of 0 with no in-flight
        // budget would answer every upload `overloaded` forever (it breaks
        // the collector_config fuzz target's permit invariant).
        if config.ingest.max_body_bytes < MIN_BODY_BYTES {
            return Err(format!(
                "ingest.max_body_bytes must be at least {MIN_BODY_BYTES}"
            ));
        }
        if config.ingest.batch_max_reports == 0 {
            return Err("ingest.batch_max_reports must be ≥ 1".into());
        }
        if config.ingest.max_inflight_body_bytes < config.ingest.max_body_bytes {
            return Err("ingest.max_inflight_body_bytes must be ≥ max_body_bytes".into());
        }
        config.store.check()?;
        config.queue.check()?;
        config.tls.check()?;
        Ok(config)
    }

    /// The folder of one region's data.
    pub fn region_dir(&self, region: &str) -> PathBuf {
        self.data_dir.join(region)
    }

    /// Where the regions' stores and the token store live: the one place
    /// that picks the storage backend (`[store]`: SQLite in
    /// [`Config::data_dir`] by default, or PostgreSQL). Everything that
    /// opens storage goes through it.
    pub fn store(&self) -> candor_store::StoreConfig {
        self.store.store_config(&self.data_dir)
    }
}
