//! Starting and stopping a collector: the data directory's lock, each
//! region's keys, stores, writer, ingest pipeline and analyst service, the
//! HTTP server and the background jobs.
//!
//! What a process builds depends on its [`Role`]: `all` everything above;
//! `front` only public keys and a publisher per region (no store, no
//! private key, no data-directory lock); `worker` everything of `all` plus
//! the queue's consumers, and no device-facing ingest.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use candor_protocol::{KeyConfig, SigningKey, VerifyingKey};
use candor_schema::Schema;
use candor_store::Store;

use crate::analyst::Analyst;
use crate::calendar::Calendar;
use crate::clock::{self, Clock};
use crate::config::Config;
use crate::ingest::writer::{Writer, WriterConfig};
use crate::ingest::{BadInputLimit, Ingest};
use crate::keys::{self, PublicKeys, RegionKeys};
use crate::metrics::Metrics;
use crate::queue::{QueueRuntime, Role};
use crate::validate::Registry;

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
    /// A `front` or `worker` found no keys for a region: they never
    /// generate keys (processes starting together would race), so keys
    /// are made beforehand with `candor keygen`.
    #[error(
        "region {region}: no keys in {}; a {role} never generates keys: run `candor keygen --region {region}` with the same data directory first",
        dir.display()
    )]
    NoKeys {
        /// The region.
        region: String,
        /// Its key directory.
        dir: PathBuf,
        /// The role that refused to start.
        role: Role,
    },
    /// The queue could not be used (the message never holds credentials).
    #[error("queue: {0}")]
    Queue(String),
    /// The OHTTP gateway's key could not be loaded or created.
    #[error("OHTTP gateway key: {0}")]
    Gateway(keys::KeyError),
    /// The TLS certificate or key (`[tls]`) could not be loaded.
    #[error("{0}")]
    Tls(#[from] candor_tls::TlsError),
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

/// What the collector keeps of a region besides its pipeline and read
/// side: where its keys live (for reloads) and its writer (for retention
/// and the writer's counters).
pub(crate) struct RegionRuntime {
    pub(crate) key_dir: PathBuf,
    /// None on a `front`, which stores nothing.
    pub(crate) writer: Option<Writer>,
    /// What signs and checks the region's key list: the signing key on a
    /// process that has it (role `all`, a `worker` whose key directory
    /// holds it), else the public key a `front` checks the list with.
    pub(crate) signing: Signing,
    /// The signed key list served to devices (docs/wire.md §5.2), as
    /// JSON; `None` while there is no valid one.
    pub(crate) key_list: RwLock<Option<Arc<str>>>,
}

/// A region's signing key as one process holds it.
pub(crate) enum Signing {
    /// The private key: this process signs the key list.
    Signer(SigningKey),
    /// The public key only: this process serves a list a signer wrote.
    Verifier(VerifyingKey),
    /// Neither (a worker without the signing key, a front without the
    /// public key): no list is served from here.
    None,
}

impl RegionRuntime {
    fn new(key_dir: PathBuf, writer: Option<Writer>, signing: Signing) -> Self {
        RegionRuntime {
            key_dir,
            writer,
            signing,
            key_list: RwLock::new(None),
        }
    }
}

/// A running collector's parts; HTTP handlers and jobs reach them through
/// its accessors.
pub struct Collector {
    config: Arc<Config>,
    registry: Arc<Registry>,
    calendar: Calendar,
    metrics: Arc<Metrics>,
    ingest: Ingest,
    analyst: Analyst,
    regions: BTreeMap<String, RegionRuntime>,
    schema_json: String,
    privacy_html: String,
    /// The data directory's exclusive lock, held while the collector lives
    /// (a `front` writes nothing there and takes none).
    _data_dir_lock: Option<std::fs::File>,
    /// The queue of a `front` or `worker`.
    queue: Option<QueueRuntime>,
    /// The OHTTP gateway, on the roles with device-facing routes.
    gateway: Option<crate::gateway::Gateway>,
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

/// One region opened at start: its pieces before they are handed to the
/// pipeline, the read side and the runtime.
struct OpenedRegion {
    keys: RegionKeys,
    /// The region signing key, which also signs the published audit head.
    head_signer: Option<SigningKey>,
    control: Box<dyn Store>,
    writer: Writer,
    runtime: RegionRuntime,
    writer_thread: std::thread::JoinHandle<()>,
}

/// Opens (creating on first start) a region's store, keys and writer.
fn open_region(
    config: &Config,
    id: &str,
    clock: &dyn Clock,
    generated_keys: &mut Vec<KeyConfig>,
) -> Result<OpenedRegion, StartError> {
    let key_dir = config.region_dir(id).join("keys");
    let key_err = |source| StartError::Keys {
        region: id.to_owned(),
        source,
    };
    let stores = config.store();
    let store_err = |source| StartError::Store {
        region: id.to_owned(),
        source,
    };
    let mut control = stores.open_region(id).map_err(store_err)?;
    if keys::load(&key_dir).map_err(key_err)?.is_empty() && config.role != Role::All {
        return Err(StartError::NoKeys {
            region: id.to_owned(),
            dir: key_dir,
            role: config.role,
        });
    }
    if keys::load(&key_dir).map_err(key_err)?.is_empty() {
        let generated = keys::generate(&key_dir, id, None).map_err(key_err)?;
        control
            .append_audit(&candor_store::AuditRecord {
                at: clock::audit_now(),
                actor: "collector".into(),
                action: "key.generate".into(),
                detail: keys::generate_detail(&generated),
            })
            .map_err(store_err)?;
        generated_keys.push(generated);
    }
    // Role `all` serves the key list and the audit head, so it must be
    // able to sign them: the signing key is created with the first key (or
    // on the first start after an upgrade). A worker signs if it was given
    // the key.
    let signing = if config.role == Role::All {
        let (key, created) = keys::ensure_signing_key(&key_dir, id).map_err(key_err)?;
        if created {
            tracing::info!(region = %id, public_key = %key.verifying_key().to_hex(), "Created the region's signing key.");
        }
        Signing::Signer(key)
    } else {
        keys::load_signing_key(&key_dir)
            .map_err(key_err)?
            .map_or(Signing::None, Signing::Signer)
    };
    let keys = RegionKeys::new(
        id,
        keys::load(&key_dir).map_err(key_err)?,
        clock.now(),
        config.keys.retired_grace_days,
    )
    .map_err(key_err)?;
    let store = stores.open_region(id).map_err(store_err)?;
    let (writer, writer_thread) = Writer::start(
        id,
        store,
        WriterConfig {
            batch_max_reports: config.ingest.batch_max_reports,
            max_wait: Duration::from_millis(config.ingest.batch_max_wait_ms),
            max_queued: config.ingest.queue_max_reports,
        },
    );
    Ok(OpenedRegion {
        keys,
        head_signer: match &signing {
            Signing::Signer(key) => Some(key.clone()),
            _ => None,
        },
        control,
        runtime: RegionRuntime::new(key_dir, Some(writer.clone()), signing),
        writer,
        writer_thread,
    })
}

/// Opens every region ([`open_region`]) on a blocking thread: opening a
/// store connects to and migrates the database, and a PostgreSQL handle
/// must not be used on a thread that runs async tasks (its driver blocks
/// on a runtime of its own). Returns the regions in order and the keys
/// generated.
async fn open_regions(
    config: Arc<Config>,
    ids: Vec<String>,
    clock: Arc<dyn Clock>,
) -> Result<(Vec<(String, OpenedRegion)>, Vec<KeyConfig>), StartError> {
    let opening = tokio::task::spawn_blocking(move || {
        let mut generated = Vec::new();
        let mut opened = Vec::with_capacity(ids.len());
        for id in ids {
            let region = open_region(&config, &id, clock.as_ref(), &mut generated)?;
            opened.push((id, region));
        }
        Ok((opened, generated))
    });
    // A panic while opening is a bug: let it surface as it would have.
    opening
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// A front's view of a region's keys: the public configs only, which
/// must exist already (`candor keygen`), and the key directory.
fn front_keys(
    config: &Config,
    id: &str,
    clock: &dyn Clock,
) -> Result<(PublicKeys, PathBuf), StartError> {
    let key_dir = config.region_dir(id).join("keys");
    let entries = keys::load_public(&key_dir).map_err(|source| StartError::Keys {
        region: id.to_owned(),
        source,
    })?;
    if entries.is_empty() {
        return Err(StartError::NoKeys {
            region: id.to_owned(),
            dir: key_dir,
            role: Role::Front,
        });
    }
    let keys = PublicKeys::new(id, entries, clock.now(), config.keys.retired_grace_days);
    Ok((keys, key_dir))
}

/// The regions to serve: those configured, or every region of the schemas.
fn region_ids(config: &Config, registry: &Registry) -> Result<Vec<String>, StartError> {
    let mut ids: Vec<String> = if config.regions.is_empty() {
        registry
            .all()
            .flat_map(|s| s.regions.keys().cloned())
            .collect()
    } else {
        config.regions.clone()
    };
    ids.sort();
    ids.dedup();
    if let Some(id) = ids
        .iter()
        .find(|id| !registry.all().any(|s| s.region(id).is_some()))
    {
        return Err(StartError::Config(format!(
            "region {id:?} is not declared by any schema"
        )));
    }
    Ok(ids)
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
        // directory, keys or databases on its way to failing. Its TLS files
        // come even before that (reading them creates nothing).
        let tls = match config.tls.files() {
            Some((cert, key)) => Some(candor_tls::ServerTls::from_pem_files(cert, key)?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let role = config.role;
        // A front writes nothing to the data directory: many may share it.
        // Workers on a shared database (PostgreSQL) need no lock either:
        // only SQLite has a single writer per data directory.
        let sqlite = matches!(config.store(), candor_store::StoreConfig::Sqlite { .. });
        let data_dir_lock = match role {
            Role::Front => None,
            Role::Worker if !sqlite => None,
            Role::All | Role::Worker => Some(lock_data_dir(&config.data_dir)?),
        };
        let gateway = match role {
            Role::All | Role::Front => Some(
                crate::gateway::Gateway::load_or_create(&config.data_dir)
                    .map_err(StartError::Gateway)?,
            ),
            Role::Worker => None,
        };
        let registry = Arc::new(Registry::new(schemas));
        let config = Arc::new(config);
        let calendar = Calendar::new(clock.clone(), &config.ingest);
        let metrics = Arc::new(Metrics::default());
        let mut ingest = Ingest::new(
            registry.clone(),
            calendar.clone(),
            config.ingest.clone(),
            metrics.clone(),
        );
        let mut analyst = Analyst::new(
            registry.clone(),
            calendar.clone(),
            config.clone(),
            metrics.clone(),
        );
        let mut regions = BTreeMap::new();
        let mut writer_threads = Vec::new();
        let ids = region_ids(&config, &registry)?;
        let queue = match role {
            Role::All => None,
            Role::Front | Role::Worker => Some(
                QueueRuntime::connect(&config.queue, role, &ids)
                    .await
                    .map_err(|e| StartError::Queue(e.to_string()))?,
            ),
        };
        let mut store_ids = Vec::with_capacity(ids.len());
        for id in ids {
            if let (Role::Front, Some(q)) = (role, &queue) {
                let (keys, key_dir) = front_keys(&config, &id, clock.as_ref())?;
                let publisher = q
                    .publisher(&id)
                    .ok_or_else(|| StartError::Queue(format!("no publisher for region {id}")))?;
                let bad = BadInputLimit::new(config.queue.front_max_bad_per_second);
                ingest = ingest.with_forwarding_region(&id, keys, publisher, bad);
                let signing = keys::load_verifying_key(&key_dir)
                    .map_err(|source| StartError::Keys {
                        region: id.clone(),
                        source,
                    })?
                    .map_or(Signing::None, Signing::Verifier);
                regions.insert(id, RegionRuntime::new(key_dir, None, signing));
            } else {
                store_ids.push(id);
            }
        }
        let (opened_regions, generated_keys) =
            open_regions(config.clone(), store_ids, clock.clone()).await?;
        for (id, opened) in opened_regions {
            let (stores, region) = (config.store(), id.clone());
            let reader: crate::analyst::Reader =
                Box::new(move || stores.open_region_read_only(&region));
            ingest = ingest.with_region(&id, opened.keys, Arc::new(opened.writer));
            analyst = analyst.with_region(&id, opened.control, reader);
            if let Some(key) = opened.head_signer {
                analyst = analyst.with_signing_key(&id, key);
            }
            writer_threads.push(opened.writer_thread);
            regions.insert(id, opened.runtime);
        }
        let collector = Arc::new(Collector {
            schema_json: schema_json(&registry),
            privacy_html: privacy_html(&registry),
            config,
            registry,
            calendar,
            metrics,
            ingest,
            analyst,
            regions,
            _data_dir_lock: data_dir_lock,
            queue,
            gateway,
            writer_threads: std::sync::Mutex::new(writer_threads),
        });
        collector.refresh_key_lists();
        if let Some(q) = &collector.queue {
            q.declare_streams().await;
            q.spawn_workers(&collector);
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let jobs = crate::jobs::spawn(collector.clone());
        let task = {
            let collector = collector.clone();
            tokio::spawn(async move {
                let router = crate::http::router(collector.clone());
                let signal = async move {
                    tokio::select! {
                        _ = rx => {}
                        _ = stop => {}
                    }
                };
                if let Err(error) = candor_tls::serve(listener, router, tls.as_ref(), signal).await
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
        self.ingest.shut_down();
        // A worker's consumers commit through the writers: they stop (and
        // acknowledge their last batch) before the writers close.
        if let Some(q) = &self.queue {
            q.stop().await;
        }
        for r in self.regions.values() {
            if let Some(w) = &r.writer {
                w.close();
            }
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
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// What this process does.
    pub fn role(&self) -> Role {
        self.config.role
    }

    /// The queue of a `front` or `worker` (None for `all`).
    pub fn queue(&self) -> Option<&QueueRuntime> {
        self.queue.as_ref()
    }

    /// The OHTTP gateway (roles `all` and `front`; None for a `worker`).
    pub fn gateway(&self) -> Option<&crate::gateway::Gateway> {
        self.gateway.as_ref()
    }

    /// Whether this process can do its part now (`GET /readyz`): not
    /// shutting down, and for a `front` or `worker` the queue's readiness.
    pub async fn ready(&self) -> Result<(), crate::Rejection> {
        if self.ingest.is_shutting_down() {
            return Err(crate::Rejection::ShuttingDown);
        }
        if self.role() != Role::Front {
            // A collector or worker that cannot reach its store could not
            // commit (for PostgreSQL: a connection and a query within its
            // connect timeout; SQLite always answers), so a balancer should
            // stop sending it work.
            let store = self.config.store();
            match tokio::task::spawn_blocking(move || store.ping()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "Not ready: the store does not answer.");
                    return Err(crate::Rejection::StoreUnavailable);
                }
                Err(_) => return Err(crate::Rejection::StoreUnavailable),
            }
        }
        match &self.queue {
            Some(q) => q.ready().await,
            None => Ok(()),
        }
    }

    /// The Prometheus text of every counter: reports, requests, queries,
    /// the writers' and the queue's.
    pub fn render_metrics(&self) -> String {
        let writers: Vec<(String, &Writer)> = self
            .regions
            .iter()
            .filter_map(|(id, r)| r.writer.as_ref().map(|w| (id.clone(), w)))
            .collect();
        let mut out = self.metrics.render(&writers);
        if let Some(q) = &self.queue {
            out.push_str(&q.render_metrics());
        }
        out
    }

    /// The ingest pipeline.
    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }

    /// The read side: queries, budget, audit, overview.
    pub fn analyst(&self) -> &Analyst {
        &self.analyst
    }

    /// The data dictionaries served.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The collector's days (today, the accepted window, closed days).
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The data dictionaries as served by `GET /v1/schema`.
    pub(crate) fn schema_json(&self) -> &str {
        &self.schema_json
    }

    /// The privacy page.
    pub(crate) fn privacy_html(&self) -> &str {
        &self.privacy_html
    }

    /// Each region's runtime (writers, key directories), for jobs and metrics.
    pub(crate) fn runtimes(&self) -> &BTreeMap<String, RegionRuntime> {
        &self.regions
    }

    /// The signed key list `region` serves (docs/wire.md §5.2): `None` for
    /// a region not served here, `Some(None)` while it has no valid list.
    pub fn key_list(&self, region: &str) -> Option<Option<Arc<str>>> {
        let r = self.regions.get(region)?;
        Some(r.key_list.read().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Brings every region's served key list up to date with its active
    /// keys: a signer re-signs `keys.signed.json` when its keys changed or
    /// half its validity has passed ([`keys::refresh_key_list`]); a front
    /// serves that file while it verifies and lists the active keys.
    pub fn refresh_key_lists(&self) {
        let now = self.calendar.now();
        for (id, r) in &self.regions {
            let active = self.ingest.active_keys(id).unwrap_or_default();
            let list = match &r.signing {
                Signing::Signer(key) => keys::refresh_key_list(&r.key_dir, key, &active, now),
                Signing::Verifier(key) => {
                    keys::current_key_list(&r.key_dir, key, &active, now).map(|l| l.map(|(s, _)| s))
                }
                Signing::None => Ok(None),
            };
            let list = match list {
                Ok(list) => list,
                Err(error) => {
                    tracing::error!(region = %id, %error, "Refreshing the signed key list failed.");
                    None
                }
            };
            if list.is_none() && self.role() != Role::Worker {
                tracing::warn!(region = %id, "No valid signed key list to serve: devices seal nothing until one is signed (candor keygen, or a collector with the signing key).");
            }
            *r.key_list.write().unwrap_or_else(|p| p.into_inner()) =
                list.map(|l| Arc::from(l.to_json()));
        }
    }

    /// Re-reads every region's key directory (new keys, retirements, grace
    /// expiry) and refreshes the signed key lists.
    pub fn reload_keys(&self) {
        for (id, r) in &self.regions {
            if self.role() == Role::Front {
                let loaded = keys::load_public(&r.key_dir);
                match loaded {
                    Ok(k) => self.ingest.set_public_keys(
                        id,
                        PublicKeys::new(
                            id,
                            k,
                            self.calendar.now(),
                            self.config.keys.retired_grace_days,
                        ),
                    ),
                    Err(error) => {
                        tracing::error!(region = %id, %error, "Reloading keys failed; keeping the previous ones.")
                    }
                }
                continue;
            }
            let loaded = keys::load(&r.key_dir).and_then(|k| {
                RegionKeys::new(
                    id,
                    k,
                    self.calendar.now(),
                    self.config.keys.retired_grace_days,
                )
            });
            match loaded {
                Ok(k) => self.ingest.set_keys(id, k),
                Err(error) => {
                    tracing::error!(region = %id, %error, "Reloading keys failed; keeping the previous ones.")
                }
            }
        }
        self.refresh_key_lists();
    }
}

fn schema_json(registry: &Registry) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "schemas": registry.all().map(|s| serde_json::from_str::<serde_json::Value>(&s.to_json()).unwrap_or_default()).collect::<Vec<_>>()
    }))
    .unwrap_or_default()
}

fn privacy_html(registry: &Registry) -> String {
    registry
        .all()
        .map(|s| candor_schema::docs::render(s, candor_schema::docs::Format::Html))
        .collect::<Vec<_>>()
        .join("\n")
}
