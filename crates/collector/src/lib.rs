//! Candor's regional collector.
//!
//! Each region the collector serves has its own keys (see [`keys`]) and its
//! own store; a report is opened only with its region's key and stored only
//! in its region's database. The ingest path, in order:
//!
//! 1. size limit, envelope or batch decode ([`candor_protocol::batch`]);
//! 2. region check, key lookup (retired keys in grace still open), HPKE open;
//! 3. validation against the data dictionary, consent version, day window
//!    ([`validate`]), reducing the report to contributions to aggregate rows;
//! 4. group commit ([`writer`]): dedup by report id and aggregation in one
//!    transaction per batch of requests; a request is answered 202 only
//!    after its transaction committed.
//!
//! The plaintext report never leaves step 3. Nothing logs or stores an IP
//! address, a user agent, a header value or a payload.
//!
//! [`Collector::start`] runs it all; [`http`] holds the routes.
#![deny(missing_docs)]

pub mod access;
pub mod api;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod metrics;
pub mod release;
pub mod validate;
pub mod writer;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use candor_protocol::{Envelope, KeyConfig, batch};
use candor_schema::Schema;
use candor_store::sqlite::SqliteStore;
use candor_store::{CommitOutcome, Store};
use tokio::sync::Semaphore;

pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use error::Rejection;

use keys::RegionKeys;
use validate::{DayWindow, Registry};
use writer::{Writer, WriterConfig};

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A region's keys could not be loaded or generated.
    #[error("region {region}: {source}")]
    Keys {
        /// The region.
        region: String,
        /// The error.
        source: keys::KeyError,
    },
    /// A region's store could not be opened.
    #[error("region {region}: {source}")]
    Store {
        /// The region.
        region: String,
        /// The error.
        source: candor_store::StoreError,
    },
    /// The configuration names a region no schema declares, or no schema was given.
    #[error("{0}")]
    Config(String),
    /// Another collector holds the data directory's lock: two processes
    /// writing one set of region databases and key directories would race.
    #[error(
        "the data directory {} is in use by another collector (lock file {}); stop it first or choose another data_dir",
        data_dir.display(),
        lock.display()
    )]
    DataDirInUse {
        /// The data directory.
        data_dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// The data directory or its lock file could not be created.
    #[error("cannot use the data directory {}: {source}", data_dir.display())]
    DataDir {
        /// The data directory.
        data_dir: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// The name of the lock file in the data directory.
pub const LOCK_FILE: &str = "collector.lock";

/// Creates the data directory if needed and takes its exclusive lock, so a
/// second collector on the same directory refuses to start. The operating
/// system drops the lock when the process ends, however it ends.
fn lock_data_dir(data_dir: &std::path::Path) -> Result<std::fs::File, StartError> {
    let io = |source| StartError::DataDir {
        data_dir: data_dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let lock = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::DataDirInUse {
            data_dir: data_dir.to_owned(),
            lock,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// One region served by this collector.
pub(crate) struct RegionState {
    pub(crate) id: String,
    pub(crate) key_dir: PathBuf,
    pub(crate) store_path: PathBuf,
    pub(crate) keys: RwLock<Arc<RegionKeys>>,
    pub(crate) writer: Writer,
    /// A second handle on the region's database for the release engine's
    /// ledger, cache and audit log; the mutex also serializes releases, so
    /// a budget check and its charge cannot interleave with another's.
    pub(crate) control: std::sync::Mutex<Box<dyn Store>>,
}

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

/// The shared state behind every request.
pub struct Collector {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) regions: BTreeMap<String, RegionState>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) permits: Semaphore,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) schema_json: String,
    pub(crate) privacy_html: String,
    pub(crate) access: access::Access,
    /// The data directory's exclusive lock, held while the collector lives.
    _data_dir_lock: std::fs::File,
    writer_threads: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// A started collector: its address, the key configs it generated on first
/// start, and the handle that stops it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Keys generated because a region had none.
    pub generated_keys: Vec<KeyConfig>,
    /// The collector's state (for tests and the binary's summaries).
    pub collector: Arc<Collector>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections, answers the requests in flight, commits
    /// everything accepted, and returns once the writers have finished.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops by itself (after a signal given to
    /// [`Collector::start`]'s `stop` future).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

impl Collector {
    /// Binds the listener, takes the data directory's exclusive lock
    /// ([`LOCK_FILE`]), opens every region (generating keys where there are
    /// none) and starts serving. Nothing is created before the listener is
    /// bound, and a second collector on the same data directory fails with
    /// [`StartError::DataDirInUse`]. The server stops when `stop`
    /// completes or [`Running::shutdown`] is called.
    pub async fn start(
        config: Config,
        schemas: Vec<Schema>,
        clock: Arc<dyn Clock>,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Running, StartError> {
        if schemas.is_empty() {
            return Err(StartError::Config("no schema to serve".into()));
        }
        // Listen first: a collector that cannot serve must not create a data
        // directory, keys or databases on its way to failing.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen,
                source,
            })?;
        let data_dir_lock = lock_data_dir(&config.data_dir)?;
        let registry = Registry::new(schemas);
        let mut region_ids: Vec<String> = if config.regions.is_empty() {
            registry
                .all()
                .flat_map(|s| s.regions.keys().cloned())
                .collect()
        } else {
            config.regions.clone()
        };
        region_ids.sort();
        region_ids.dedup();
        let mut regions = BTreeMap::new();
        let mut generated_keys = Vec::new();
        let mut writer_threads = Vec::new();
        for id in region_ids {
            if !registry.all().any(|s| s.region(&id).is_some()) {
                return Err(StartError::Config(format!(
                    "region {id:?} is not declared by any schema"
                )));
            }
            let dir = config.region_dir(&id);
            let key_dir = dir.join("keys");
            let key_err = |source| StartError::Keys {
                region: id.clone(),
                source,
            };
            let store_path = dir.join(access::STORE_FILE);
            let store_err = |source| StartError::Store {
                region: id.clone(),
                source,
            };
            std::fs::create_dir_all(&dir).map_err(|e| {
                store_err(candor_store::StoreError::Backend(format!(
                    "create {}: {e}",
                    dir.display()
                )))
            })?;
            let mut control = SqliteStore::open(&store_path).map_err(store_err)?;
            if keys::load(&key_dir).map_err(key_err)?.is_empty() {
                let generated = keys::generate(&key_dir, &id, None).map_err(key_err)?;
                control
                    .append_audit(&candor_store::AuditRecord {
                        at: clock::audit_now(),
                        actor: "collector".into(),
                        action: "key.generate".into(),
                        detail: serde_json::json!({ "key_id": generated.key_id() }).to_string(),
                    })
                    .map_err(store_err)?;
                generated_keys.push(generated);
            }
            let region_keys = RegionKeys::new(
                &id,
                keys::load(&key_dir).map_err(key_err)?,
                clock.now(),
                config.keys.retired_grace_days,
            )
            .map_err(key_err)?;
            let store = SqliteStore::open(&store_path).map_err(store_err)?;
            let (writer, thread) = Writer::start(
                &id,
                Box::new(store),
                WriterConfig {
                    batch_max_reports: config.ingest.batch_max_reports,
                    max_wait: Duration::from_millis(config.ingest.batch_max_wait_ms),
                    max_queued: config.ingest.queue_max_reports,
                },
            );
            writer_threads.push(thread);
            regions.insert(
                id.clone(),
                RegionState {
                    id,
                    key_dir,
                    store_path,
                    keys: RwLock::new(Arc::new(region_keys)),
                    writer,
                    control: std::sync::Mutex::new(Box::new(control)),
                },
            );
        }
        let schema_json = serde_json::to_string_pretty(&serde_json::json!({
            "schemas": registry.all().map(|s| serde_json::from_str::<serde_json::Value>(&s.to_json()).unwrap_or_default()).collect::<Vec<_>>()
        }))
        .unwrap_or_default();
        let privacy_html = registry
            .all()
            .map(|s| candor_schema::docs::render(s, candor_schema::docs::Format::Html))
            .collect::<Vec<_>>()
            .join("\n");
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let config_data_dir = config.data_dir.clone();
        let collector = Arc::new(Collector {
            permits: Semaphore::new(config.ingest.inflight_body_kib()),
            config,
            registry,
            regions,
            clock,
            metrics: metrics::Metrics::default(),
            shutting_down: AtomicBool::new(false),
            schema_json,
            privacy_html,
            access: access::Access::new(&config_data_dir),
            _data_dir_lock: data_dir_lock,
            writer_threads: std::sync::Mutex::new(writer_threads),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let jobs = jobs::spawn(collector.clone());
        let task = {
            let collector = collector.clone();
            tokio::spawn(async move {
                let router = http::router(collector.clone());
                let signal = async move {
                    tokio::select! {
                        _ = rx => {}
                        _ = stop => {}
                    }
                };
                if let Err(error) = axum::serve(listener, router)
                    .with_graceful_shutdown(signal)
                    .await
                {
                    tracing::error!(%error, "The HTTP server failed.");
                }
                jobs.abort();
                collector.finish().await;
            })
        };
        Ok(Running {
            addr,
            generated_keys,
            collector,
            shutdown: Some(tx),
            task,
        })
    }

    /// After the server stopped: close the writers and wait until they
    /// committed what was queued.
    async fn finish(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for r in self.regions.values() {
            r.writer.close();
        }
        let threads: Vec<_> = self
            .writer_threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }

    /// The regions served.
    pub fn region_ids(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(String::as_str)
    }

    /// The counters.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// The path of a region's database.
    pub fn store_path(&self, region: &str) -> Option<&std::path::Path> {
        self.regions.get(region).map(|r| r.store_path.as_path())
    }

    /// A new read handle on a region's store.
    pub fn open_store(
        &self,
        region: &str,
    ) -> Option<Result<Box<dyn Store>, candor_store::StoreError>> {
        let r = self.regions.get(region)?;
        Some(SqliteStore::open_read_only(&r.store_path).map(|s| Box::new(s) as Box<dyn Store>))
    }

    /// Answers an analyst's query (see [`release`]): blocking (SQLite), so
    /// async callers run it on a blocking thread.
    ///
    /// # Errors
    /// [`release::QueryError`].
    pub fn query(
        &self,
        scope: &release::Scope,
        query: &release::Query,
    ) -> Result<release::Answer, release::QueryError> {
        if !scope.allows_region(&query.region) {
            return Err(release::QueryError::Forbidden(format!(
                "this token does not cover region {:?}",
                query.region
            )));
        }
        let state =
            self.regions
                .get(&query.region)
                .ok_or_else(|| release::QueryError::Invalid {
                    code: "unknown_region",
                    message: format!("this collector does not serve region {:?}", query.region),
                })?;
        // Noise from a ChaCha20 stream keyed by the OS CSPRNG for each
        // query: as unpredictable as the OS source, and cheap per sample.
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| {
            release::QueryError::Store(candor_store::StoreError::Backend(
                "the OS random number generator failed".into(),
            ))
        })?;
        let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seed);
        let (window, _) = self.window();
        let mut store = state.control.lock().unwrap_or_else(|p| p.into_inner());
        release::release(
            &self.registry,
            store.as_mut(),
            scope,
            query,
            clock::audit_now(),
            &window,
            &mut rng,
        )
    }

    /// Authenticates a bearer token (see [`access::Access`]).
    ///
    /// # Errors
    /// [`access::AuthError`].
    pub fn authenticate(
        &self,
        token: &str,
    ) -> Result<(release::Scope, access::Role), access::AuthError> {
        self.access.authenticate(token)
    }

    /// Runs `f` on a region's control store (ledger, cache, audit log).
    pub fn with_control_store<T>(
        &self,
        region: &str,
        f: impl FnOnce(&mut dyn Store) -> T,
    ) -> Option<T> {
        let state = self.regions.get(region)?;
        let mut store = state.control.lock().unwrap_or_else(|p| p.into_inner());
        Some(f(store.as_mut()))
    }

    /// The data dictionaries served.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The last closed day of `region` now: the last day a release may
    /// read (the earliest over the served schemas that declare the region;
    /// yesterday's predecessor when none does).
    pub fn last_closed_day(&self, region: &str) -> i32 {
        let (window, _) = self.window();
        self.registry
            .all()
            .filter_map(|s| s.region(region))
            .map(|r| window.last_closed(r))
            .min()
            .unwrap_or(window.today - 1)
    }

    /// The accepted day window as of now.
    pub fn window(&self) -> (DayWindow, time::Date) {
        let today = clock::today(self.clock.as_ref());
        let n = validate::day_number(today);
        (
            DayWindow {
                today: n,
                past_override: self.config.ingest.day_window_past,
                future: self.config.ingest.day_window_future,
            },
            today.date(),
        )
    }

    /// Ingests one upload body for `region`: per-report outcomes, or a
    /// rejection of the whole request (framing, size, overload, storage).
    pub async fn ingest(&self, region: &str, body: &[u8]) -> Result<Vec<ReportOutcome>, Rejection> {
        let state = self
            .regions
            .get(region)
            .ok_or_else(|| Rejection::UnknownRegion(region.to_owned()))?;
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err(Rejection::ShuttingDown);
        }
        let parts = batch::split_upload(body).map_err(Rejection::from)?;
        let keys = state.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        let (window, today) = self.window();
        let mut outcomes: Vec<Result<usize, Rejection>> = Vec::with_capacity(parts.len());
        let mut deltas = Vec::with_capacity(parts.len());
        for part in parts {
            let opened = Envelope::decode(part)
                .map_err(Rejection::from)
                .and_then(|env| match keys.opener.open_envelope(&env) {
                    Err(candor_protocol::Error::UnknownKey(id)) if keys.expired.contains(&id) => {
                        Err(Rejection::KeyRetired(id))
                    }
                    other => other.map_err(Rejection::from),
                })
                .and_then(|report| validate::to_delta(&self.registry, &report, window, today));
            outcomes.push(opened.map(|delta| {
                deltas.push(delta);
                deltas.len() - 1
            }));
        }
        let committed = state.writer.commit(deltas).await?;
        let result: Vec<ReportOutcome> = outcomes
            .into_iter()
            .map(|o| match o {
                Ok(i) => match committed.get(i) {
                    Some(CommitOutcome::Accepted) => ReportOutcome::Accepted,
                    Some(CommitOutcome::Duplicate) => ReportOutcome::Duplicate,
                    None => ReportOutcome::Rejected(Rejection::StoreUnavailable),
                },
                Err(r) => ReportOutcome::Rejected(r),
            })
            .collect();
        let (mut accepted, mut duplicate) = (0, 0);
        for o in &result {
            match o {
                ReportOutcome::Accepted => accepted += 1,
                ReportOutcome::Duplicate => duplicate += 1,
                ReportOutcome::Rejected(r) => self.metrics.report(region, "rejected", r.code(), 1),
            }
        }
        self.metrics.report(region, "accepted", "", accepted);
        self.metrics.report(region, "duplicate", "", duplicate);
        Ok(result)
    }

    /// Re-reads every region's key directory (new keys, retirements, grace expiry).
    pub fn reload_keys(&self) {
        for r in self.regions.values() {
            let loaded = keys::load(&r.key_dir).and_then(|k| {
                RegionKeys::new(
                    &r.id,
                    k,
                    self.clock.now(),
                    self.config.keys.retired_grace_days,
                )
            });
            match loaded {
                Ok(k) => *r.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(k),
                Err(error) => {
                    tracing::error!(region = %r.id, %error, "Reloading keys failed; keeping the previous ones.")
                }
            }
        }
    }
}
