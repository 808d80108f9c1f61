//! The SDK instance as the bindings see it: open, consent, the hard offs,
//! metric handles, day end, transparency views and upload.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use candor_sdk::{Candor, Config, ManualClock};

use crate::error::CandorError;
use crate::guard::{PANICS, fallible, infallible};
use crate::metrics::{
    ActivityMetric, BooleanMetric, CategoryMetric, CounterMetric, DistributionMetric,
    DomainSetMetric, LabeledCounterMetric,
};
use crate::uploader::{HostAdapter, HostUploader};

/// Everything [`Client::open`] needs. Only the first three fields are
/// required; the others have the Rust SDK's defaults.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ClientOptions {
    /// Where the SDK keeps its state, outbox, sent reports and consent
    /// receipts (an app-private directory; created if missing).
    pub data_dir: String,
    /// The data dictionary, as the TOML text the app ships (validated on
    /// open; nothing outside it is ever recorded).
    pub schema_toml: String,
    /// The region's signing public key: the `signing.public.json` document
    /// the region publishes, pinned in the app. Reports are sealed only to
    /// keys of a list this key signed.
    pub signing_key_json: String,
    /// A signed key list bundled with the app (what the collector serves at
    /// `GET /v1/regions/{region}/keys`). Without one, nothing is sealed
    /// until the uploader fetches one.
    #[uniffi(default = None)]
    pub key_list_json: Option<String>,
    /// Raw context values (e.g. `platform` = `android`), coarsened by the
    /// schema's rules; values it rejects are dropped.
    #[uniffi(default)]
    pub dimensions: HashMap<String, String>,
    /// The built-in HTTPS uploader's collector, e.g.
    /// `https://eu.collector.example` (`http://` for a local test
    /// collector). Mutually exclusive with a [`HostUploader`].
    #[uniffi(default = None)]
    pub collector_url: Option<String>,
    /// PEM CA certificates the built-in uploader trusts instead of the
    /// public CAs (private deployments, tests).
    #[uniffi(default = None)]
    pub collector_ca_pem: Option<String>,
    /// Persist (and build finished days' reports) every this many seconds
    /// on a background thread; 0 for no thread (then only `flush` and
    /// `end_day` persist).
    #[uniffi(default = 60)]
    pub persist_interval_seconds: u32,
    /// Whether that background thread also uploads.
    #[uniffi(default = false)]
    pub auto_upload: bool,
    /// A fixed clock (Unix seconds) instead of the system's, moved with
    /// [`Client::set_time`]: for tests and simulations only.
    #[uniffi(default = None)]
    pub fixed_time: Option<i64>,
}

/// The consent state of one purpose.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PurposeConsent {
    /// The consent version the user granted, if a grant stands.
    pub granted_version: Option<u32>,
    /// The schema's current consent version.
    pub current_version: u32,
    /// Whether a grant of the current version stands.
    pub granted: bool,
    /// Whether data is collected right now (granted, no global opt-out, no
    /// child profile).
    pub collecting: bool,
}

/// The local record of one consent decision (kept on the device, never sent).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Receipt {
    /// The purpose id.
    pub purpose: String,
    /// The purpose's consent version at the time.
    pub consent_version: u32,
    /// `true` for a grant, `false` for a revocation.
    pub granted: bool,
    /// When, Unix seconds.
    pub time: i64,
    /// SHA-256 (hex) of the consent text shown.
    pub text_sha256: String,
}

/// The outcome of one [`Client::upload`].
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct UploadSummary {
    /// Requests sent.
    pub requests: u64,
    /// Reports accepted (or already counted, or queued by a front).
    pub accepted: u64,
    /// Reports refused for good and dropped.
    pub rejected: u64,
    /// Reports still queued.
    pub remaining: u64,
    /// Set when backing off: no attempt before this Unix time.
    pub retry_at: Option<i64>,
}

/// One SDK instance over one data directory. Thread-safe; open it once per
/// process and share it.
#[derive(uniffi::Object)]
pub struct Client {
    sdk: Candor,
    clock: Option<ManualClock>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

fn receipt(r: candor_sdk::Receipt) -> Receipt {
    Receipt {
        purpose: r.purpose,
        consent_version: r.consent_version,
        granted: matches!(r.action, candor_sdk::ConsentAction::Grant),
        time: r.time,
        text_sha256: r.text_sha256,
    }
}

/// Builds the SDK configuration from the options and the uploader.
fn config(
    options: ClientOptions,
    host: Option<Box<dyn HostUploader>>,
) -> Result<(Config, Option<ManualClock>), CandorError> {
    let signing_key =
        candor_protocol::VerifyingKey::from_json(options.signing_key_json.as_bytes())?;
    let today = match options.fixed_time {
        Some(t) => candor_sdk::Clock::today(&ManualClock::new(t)).date(),
        None => time::OffsetDateTime::now_utc().date(),
    };
    let schema = candor_schema::parse(&options.schema_toml, "schema", today)?.schema;
    let mut config = Config::new(&options.data_dir, schema, signing_key);
    config.key_list = options.key_list_json.map(String::into_bytes);
    config.dimensions = options.dimensions.into_iter().collect();
    config.persist_interval = (options.persist_interval_seconds > 0)
        .then(|| Duration::from_secs(options.persist_interval_seconds.into()));
    config.auto_upload = options.auto_upload;
    let clock = options.fixed_time.map(ManualClock::new);
    if let Some(clock) = &clock {
        config.clock = Arc::new(clock.clone());
    }
    config.uploader = match (host, options.collector_url) {
        (Some(_), Some(_)) => {
            return Err(CandorError::config(
                "give either a host uploader or collector_url, not both",
            ));
        }
        (Some(host), None) => Some(Arc::new(HostAdapter(host))),
        (None, Some(url)) => Some(http_uploader(url, options.collector_ca_pem)?),
        (None, None) => None,
    };
    Ok((config, clock))
}

#[cfg(feature = "http")]
fn http_uploader(
    url: String,
    ca_pem: Option<String>,
) -> Result<Arc<dyn candor_sdk::Uploader>, CandorError> {
    use candor_sdk::upload::HttpUploader;
    Ok(match ca_pem {
        Some(pem) => Arc::new(HttpUploader::with_ca_pem(url, pem.as_bytes()).map_err(|e| {
            CandorError::Config {
                code: "invalid_ca".into(),
                detail: e.to_string(),
            }
        })?),
        None => Arc::new(HttpUploader::new(url)),
    })
}

#[cfg(not(feature = "http"))]
fn http_uploader(
    _url: String,
    _ca_pem: Option<String>,
) -> Result<Arc<dyn candor_sdk::Uploader>, CandorError> {
    Err(CandorError::Config {
        code: "no_http_uploader".into(),
        detail: "this build has no built-in uploader (feature `http`); pass a HostUploader".into(),
    })
}

impl Client {
    fn open_inner(
        options: ClientOptions,
        host: Option<Box<dyn HostUploader>>,
    ) -> Result<Arc<Self>, CandorError> {
        fallible(|| {
            let (config, clock) = config(options, host)?;
            Ok(Arc::new(Client {
                sdk: Candor::open(config)?,
                clock,
            }))
        })
    }
}

#[uniffi::export]
impl Client {
    /// Opens (or creates) the data directory. Uploads go through the
    /// built-in HTTPS uploader if `collector_url` is set, nowhere otherwise
    /// (reports stay queued).
    #[uniffi::constructor]
    pub fn open(options: ClientOptions) -> Result<Arc<Self>, CandorError> {
        Self::open_inner(options, None)
    }

    /// Opens the data directory with uploads through the app's own HTTP
    /// stack.
    #[uniffi::constructor]
    pub fn open_with_uploader(
        options: ClientOptions,
        uploader: Box<dyn HostUploader>,
    ) -> Result<Arc<Self>, CandorError> {
        Self::open_inner(options, Some(uploader))
    }

    /// Grants consent to `purpose` at the schema's current consent version
    /// and returns the stored receipt. Collection starts only once it is
    /// on disk.
    pub fn grant(&self, purpose: String) -> Result<Receipt, CandorError> {
        fallible(|| {
            self.sdk.grant(&purpose)?;
            self.last_receipt(&purpose)
        })
    }

    /// Revokes consent to `purpose`: collection stops, and its memory,
    /// unreported days and queued reports are deleted at once. Returns the
    /// stored receipt.
    pub fn revoke(&self, purpose: String) -> Result<Receipt, CandorError> {
        fallible(|| {
            self.sdk.revoke(&purpose)?;
            self.last_receipt(&purpose)
        })
    }

    /// The consent state of every purpose of the schema, by purpose id.
    pub fn consent_status(&self) -> HashMap<String, PurposeConsent> {
        infallible(HashMap::new(), || {
            self.sdk
                .consent_status()
                .into_iter()
                .map(|(id, c)| {
                    let c = PurposeConsent {
                        granted_version: c.granted_version,
                        current_version: c.current_version,
                        granted: c.granted,
                        collecting: c.collecting,
                    };
                    (id, c)
                })
                .collect()
        })
    }

    /// Every grant and revocation made on this device, oldest first.
    pub fn receipts(&self) -> Vec<Receipt> {
        infallible(Vec::new(), || {
            self.sdk.receipts().into_iter().map(receipt).collect()
        })
    }

    /// Private (incognito) mode for the whole app: while on, nothing is
    /// recorded for purposes not `allowed_in_private_mode`.
    pub fn set_private_mode(&self, on: bool) {
        infallible((), || self.sdk.set_private_mode(on));
    }

    /// A device- or browser-wide opt-out (e.g. Global Privacy Control):
    /// nothing is recorded or sent; turning it on deletes what is queued.
    pub fn set_global_opt_out(&self, on: bool) -> Result<(), CandorError> {
        fallible(|| Ok(self.sdk.set_global_opt_out(on)?))
    }

    /// A child's profile: no collection for any purpose; turning it on
    /// deletes what is queued.
    pub fn set_child_profile(&self, on: bool) -> Result<(), CandorError> {
        fallible(|| Ok(self.sdk.set_child_profile(on)?))
    }

    /// A handle for a `counter` metric (look it up once, use it often).
    /// An id that is not a counter of the schema gives a handle whose
    /// every use is counted (`unknown_metric`, `wrong_type`).
    pub fn counter(&self, id: String) -> Arc<CounterMetric> {
        Arc::new(CounterMetric(self.sdk.counter(&id)))
    }

    /// A handle for a `labeled_counter` metric.
    pub fn labeled_counter(&self, id: String) -> Arc<LabeledCounterMetric> {
        Arc::new(LabeledCounterMetric(self.sdk.labeled_counter(&id)))
    }

    /// A handle for a `boolean` metric.
    pub fn boolean(&self, id: String) -> Arc<BooleanMetric> {
        Arc::new(BooleanMetric(self.sdk.boolean(&id)))
    }

    /// A handle for a `category` metric.
    pub fn category(&self, id: String) -> Arc<CategoryMetric> {
        Arc::new(CategoryMetric(self.sdk.category(&id)))
    }

    /// A handle for a `distribution` metric.
    pub fn distribution(&self, id: String) -> Arc<DistributionMetric> {
        Arc::new(DistributionMetric(self.sdk.distribution(&id)))
    }

    /// A handle for a `domain_set` metric.
    pub fn domain_set(&self, id: String) -> Arc<DomainSetMetric> {
        Arc::new(DomainSetMetric(self.sdk.domain_set(&id)))
    }

    /// A handle for an `activity` metric.
    pub fn activity(&self, id: String) -> Arc<ActivityMetric> {
        Arc::new(ActivityMetric(self.sdk.activity(&id)))
    }

    /// Persists today's aggregates and builds, seals and queues the reports
    /// of days that have ended.
    pub fn flush(&self) {
        infallible((), || self.sdk.flush());
    }

    /// Ends the current day now: builds today's reports (anything recorded
    /// later today is dropped: one report per purpose and day).
    pub fn end_day(&self) {
        infallible((), || self.sdk.end_day());
    }

    /// Checks a signed key list the app obtained against the pinned
    /// signing key and seals to it from now on.
    pub fn set_key_list(&self, document: String) -> Result<(), CandorError> {
        fallible(|| Ok(self.sdk.set_key_list(document.as_bytes())?))
    }

    /// Sends queued reports through the uploader (blocking), unless backing
    /// off; fetches a key list first when needed.
    pub fn upload(&self) -> UploadSummary {
        infallible(UploadSummary::default(), || {
            let s = self.sdk.upload_pending();
            UploadSummary {
                requests: s.requests as u64,
                accepted: s.accepted as u64,
                rejected: s.rejected as u64,
                remaining: s.remaining as u64,
                retry_at: s.retry_at,
            }
        })
    }

    /// The exact plaintext JSON of every report waiting to be sent.
    pub fn pending_reports(&self) -> Vec<String> {
        infallible(Vec::new(), || self.sdk.pending_reports())
    }

    /// The exact plaintext JSON of every report sent in the last `days` days.
    pub fn sent_reports(&self, days: u32) -> Vec<String> {
        infallible(Vec::new(), || self.sdk.sent_reports(days))
    }

    /// Deletes all collected data (memory, unreported days, queued and
    /// sent reports, error counters), keeping the consent receipts.
    pub fn delete_all_data(&self) {
        infallible((), || self.sdk.delete_all_data());
    }

    /// The SDK's own error counters: metric id (`*` for the SDK, `*url`
    /// for dropped URLs by reason, `*ffi` for the boundary) → code → count.
    pub fn error_counts(&self) -> HashMap<String, HashMap<String, u64>> {
        infallible(HashMap::new(), || {
            let mut counts: HashMap<String, HashMap<String, u64>> = self
                .sdk
                .error_counts()
                .into_iter()
                .map(|(id, by_code)| (id, by_code.into_iter().collect()))
                .collect();
            let panics = PANICS.load(Ordering::Relaxed);
            if panics > 0 {
                counts
                    .entry("*ffi".into())
                    .or_default()
                    .insert("panic".into(), panics);
            }
            counts
        })
    }

    /// Moves the fixed clock of a client opened with `fixed_time` (tests
    /// and simulations); refused for a client on the system clock.
    pub fn set_time(&self, unix_seconds: i64) -> Result<(), CandorError> {
        match &self.clock {
            Some(clock) => {
                clock.set(unix_seconds);
                Ok(())
            }
            None => Err(CandorError::config(
                "set_time needs a client opened with fixed_time",
            )),
        }
    }
}

impl Client {
    fn last_receipt(&self, purpose: &str) -> Result<Receipt, CandorError> {
        self.sdk
            .receipts()
            .into_iter()
            .rev()
            .find(|r| r.purpose == purpose)
            .map(receipt)
            .ok_or_else(|| CandorError::storage("the receipt was not stored"))
    }
}
