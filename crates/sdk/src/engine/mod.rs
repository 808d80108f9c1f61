//! The engine behind a [`crate::Candor`] handle.
//!
//! Locks, always taken in this order: `consent` → `state`; `upload` is held
//! alone during a network call and takes `state` only briefly. The
//! recording hot path takes none of them (it may `try_lock` `state` once a
//! day to roll the day over).
//!
//! [`Inner`] and its opening are here; its methods are grouped by job:
//! `recording` (the hot path), `day_end` (aggregation, persistence and
//! report building), `queue` (outbox limits and upload), `gates` (consent
//! and the gates it opens and closes) and `transparency` (what the user can
//! see and delete, and the error counters).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, Mutex, MutexGuard};

use candor_protocol::{Day, VerifyingKey};
use candor_schema::Schema;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::config::{BackoffPolicy, Config, OutboxLimits};
use crate::consent::ConsentFile;
use crate::errors::{ErrorCounters, ErrorKind, OpenError};
use crate::files::read_optional;
use crate::metrics::Slot;
use crate::outbox::Outbox;
use crate::store::State;
use crate::upload::Uploader;
use candor_time::{Clock, day_number_of_unix};

mod day_end;
mod gates;
mod key_list;
mod queue;
mod recording;
mod transparency;

pub use gates::ConsentError;

use gates::Gate;

/// Takes a lock, recovering it from a panic elsewhere.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not turn every later call into a panic: the
    // data behind these locks is always left consistent between statements.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Everything behind a [`crate::Candor`] handle: the schema, the device's
/// region, its pinned signing key and key list, the consent gates, the recording slots, and the state,
/// consent file and outbox on disk.
pub(crate) struct Inner {
    pub(crate) schema: Schema,
    region: String,
    /// Days after a day during which the collector still accepts its
    /// reports (the schema's `report_window_days` of the region).
    report_window_days: u32,
    /// The pinned signing public key key lists must be signed with.
    signing_key: VerifyingKey,
    /// The last valid key list (None: nothing is sealed).
    key_list: Mutex<Option<key_list::Held>>,
    /// No key-list fetch before this Unix time (after a failed one).
    next_key_fetch: AtomicI64,
    /// Refused key lists by code (`*keys` in the error counters).
    key_refusals: Mutex<BTreeMap<String, u64>>,
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    uploader: Option<Arc<dyn Uploader>>,
    limits: OutboxLimits,
    sent_retention_days: u32,
    batch_size: usize,
    backoff: BackoffPolicy,
    gates: Vec<Gate>,
    slots: HashMap<String, Arc<Slot>>,
    dimensions: BTreeMap<String, String>,
    private_mode: AtomicBool,
    current_day: AtomicI64,
    state: Mutex<State>,
    consent: Mutex<ConsentFile>,
    outbox: Outbox,
    upload: Mutex<()>,
    errors: ErrorCounters,
    unknown_metrics: Mutex<BTreeMap<String, u64>>,
    url_drops: Mutex<BTreeMap<&'static str, u64>>,
    rng: Mutex<ChaCha20Rng>,
}

/// Most distinct unknown metric ids whose errors are counted one by one.
const MAX_UNKNOWN_IDS: usize = 64;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_owned(),
        source,
    }
}

fn load_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, OpenError> {
    match read_optional(path).map_err(io_err(path))? {
        None => Ok(T::default()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| OpenError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

impl Inner {
    /// Opens the data directory of `config`: loads consent and state,
    /// builds the gates and slots, and restores the error counters.
    pub(crate) fn open(config: Config) -> Result<Arc<Self>, OpenError> {
        let Config {
            data_dir,
            schema,
            region,
            signing_key,
            key_list: bundled_key_list,
            dimensions,
            clock,
            uploader,
            outbox,
            sent_retention_days,
            batch_size,
            backoff,
            ..
        } = config;
        if schema.region(&region).is_none() {
            return Err(OpenError::Config(format!(
                "region {region:?} is not in schema {}",
                schema.id
            )));
        }
        if signing_key.region() != region {
            return Err(OpenError::Config(format!(
                "the signing key is for region {:?}, the device is in {region:?}",
                signing_key.region()
            )));
        }
        let report_window_days = schema.region(&region).map_or(0, |r| r.report_window_days);
        std::fs::create_dir_all(&data_dir).map_err(io_err(&data_dir))?;
        let outbox_dir = Outbox::open(&data_dir).map_err(io_err(&data_dir))?;
        let consent: ConsentFile = load_json(&data_dir.join("consent.json"))?;
        let state: State = load_json(&data_dir.join("state.json"))?;

        let gates: Vec<Gate> = schema
            .purposes
            .values()
            .map(|p| Gate {
                id: p.id.clone(),
                consent_version: p.consent_version,
                private_ok: p.allowed_in_private_mode,
                open: AtomicBool::new(consent.collecting(&p.id, p.consent_version)),
            })
            .collect();
        let slots = schema
            .metrics
            .values()
            .filter_map(|m| {
                let purpose = gates.iter().position(|g| g.id == m.purpose)?;
                Some((m.id.clone(), Arc::new(Slot::new(m.clone(), purpose))))
            })
            .collect::<HashMap<_, _>>();
        // Error counters survive restarts: "*" holds the SDK-wide ones.
        let sdk_errors = ErrorCounters::default();
        let key_refusals = state
            .errors
            .get(key_list::REFUSALS)
            .cloned()
            .unwrap_or_default();
        for (metric, counts) in &state.errors {
            let counters = match metric.as_str() {
                "*" => Some(&sdk_errors),
                id => slots.get(id).map(|s| &s.errors),
            };
            let Some(counters) = counters else { continue };
            for kind in ErrorKind::ALL {
                if let Some(&n) = counts.get(kind.code()) {
                    counters.add(kind, n);
                }
            }
        }
        // Coarsen the raw context once; values a rule refuses are left out.
        let dimensions = dimensions
            .into_iter()
            .filter_map(|(id, raw)| {
                let v = schema.dimension(&id)?.coarsen(&raw)?;
                Some((id, v))
            })
            .collect();
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| OpenError::Randomness)?;
        let now = clock.now();
        let inner = Arc::new(Inner {
            schema,
            report_window_days,
            region,
            signing_key,
            key_list: Mutex::new(None),
            next_key_fetch: AtomicI64::new(i64::MIN),
            key_refusals: Mutex::new(key_refusals),
            dir: data_dir,
            clock,
            uploader,
            limits: outbox,
            sent_retention_days,
            batch_size: batch_size.clamp(1, candor_protocol::limits::MAX_BATCH_REPORTS),
            backoff,
            gates,
            slots,
            dimensions,
            private_mode: AtomicBool::new(false),
            current_day: AtomicI64::new(day_number_of_unix(now)),
            state: Mutex::new(state),
            consent: Mutex::new(consent),
            outbox: outbox_dir,
            upload: Mutex::new(()),
            errors: sdk_errors,
            unknown_metrics: Mutex::new(BTreeMap::new()),
            url_drops: Mutex::new(BTreeMap::new()),
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        });
        // The list kept from last time, then the host's (the newer wins).
        inner.load_key_list();
        if let Some(document) = bundled_key_list {
            let _ = inner.offer_key_list(&document, true);
        }
        Ok(inner)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Last handle gone: keep what was recorded since the last persist.
        self.flush(false);
    }
}

/// `day` moved by `delta` days; 1970-01-01 outside the representable range
/// (as [`Clock::today`] of a clock that far off).
pub(super) fn offset_day(day: Day, delta: i64) -> Day {
    day.add_days(delta).unwrap_or(Day::EPOCH)
}
