//! The analyst service: the collector's whole read side.
//!
//! It owns each region's control store (budget ledger, release cache, audit
//! log) and a way to open read handles, checks a caller's scope once per
//! call, and offers typed views: [`Analyst::query`] (through the release
//! engine), [`Analyst::budget`], [`Analyst::audit`], [`Analyst::overview`]
//! and [`Analyst::tokens`]. The HTTP API and the dashboard only render
//! these views. No method hands out a store: aggregate rows leave the
//! collector only as releases of [`crate::release`].
//!
//! Every method may block on storage; async callers run them on a
//! blocking thread.

mod views;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use candor_protocol::SigningKey;
use candor_protocol::audit_head::SignedHead;
use candor_schema::Metric;
use candor_store::{AuditRecord, BudgetFilter, Store, StoreError};

pub use views::{AuditView, BudgetEntry, BudgetView, ClosedDay, ExactCounts, Overview, PurposeDay};

use crate::access::{Access, AuthError, Role};
use crate::calendar::Calendar;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::release::{self, Answer, Query, QueryError, Scope};
use crate::validate::Registry;

/// Opens a new read-only handle on a region's store.
pub type Reader = Box<dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync>;

/// Who is asking: a token's scope and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Regions, purposes and name.
    pub scope: Scope,
    /// Analyst or admin.
    pub role: Role,
}

/// Why a view was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// The caller's token does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// This collector does not serve the region.
    #[error("this collector does not serve region {0:?}")]
    UnknownRegion(String),
    /// Storage failed; the message names what could not be read.
    #[error("the {0} could not be read")]
    Unavailable(&'static str),
    /// The region has no signing key here, so its head cannot be signed.
    #[error("region {0:?} has no signing key on this collector (run `candor keygen --region {0}`)")]
    NoSigningKey(String),
}

struct AnalystRegion {
    /// Ledger, cache and audit log; the mutex also serializes releases, so
    /// a budget check and its charge cannot interleave with another's.
    control: Mutex<Box<dyn Store>>,
    reader: Reader,
    /// The region signing key, if this collector has it.
    signer: Option<SigningKey>,
    /// The head last signed, published until the chain moves on.
    signed: Mutex<Option<SignedHead>>,
}

/// The read side of every region a collector serves.
pub struct Analyst {
    registry: Arc<Registry>,
    calendar: Calendar,
    config: Arc<Config>,
    access: Access,
    metrics: Arc<Metrics>,
    regions: BTreeMap<String, AnalystRegion>,
}

impl Analyst {
    /// A service with no region yet; add them with [`Analyst::with_region`].
    pub fn new(
        registry: Arc<Registry>,
        calendar: Calendar,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Analyst {
            access: Access::new(config.store()),
            registry,
            calendar,
            config,
            metrics,
            regions: BTreeMap::new(),
        }
    }

    /// Serves `region` from `control` (read-write: ledger, cache, audit)
    /// and handles opened by `reader` (read-only: report counts).
    #[must_use]
    pub fn with_region(mut self, region: &str, control: Box<dyn Store>, reader: Reader) -> Self {
        self.regions.insert(
            region.to_owned(),
            AnalystRegion {
                control: Mutex::new(control),
                reader,
                signer: None,
                signed: Mutex::new(None),
            },
        );
        self
    }

    /// Signs `region`'s published audit head with `key` (a region added
    /// with [`Analyst::with_region`]; others are ignored).
    #[must_use]
    pub fn with_signing_key(mut self, region: &str, key: SigningKey) -> Self {
        if let Some(state) = self.regions.get_mut(region) {
            state.signer = Some(key);
        }
        self
    }

    /// `region`'s audit-chain head signed with its signing key: public,
    /// for anyone to keep and compare later.
    ///
    /// The store's recorded head (one row) is read on every call and
    /// signed again only when it moved since the last signature, so the
    /// published head is never behind the chain, whoever appended to it:
    /// this collector, `candor keygen` or `candor token` run on the
    /// machine, or another worker. Signing when read rather than inside
    /// each append keeps the key out of every write transaction.
    ///
    /// # Errors
    /// [`ViewError::UnknownRegion`], [`ViewError::NoSigningKey`],
    /// [`ViewError::Unavailable`].
    pub fn signed_head(&self, region: &str) -> Result<SignedHead, ViewError> {
        let state = self
            .regions
            .get(region)
            .ok_or_else(|| ViewError::UnknownRegion(region.to_owned()))?;
        let key = state
            .signer
            .as_ref()
            .ok_or_else(|| ViewError::NoSigningKey(region.to_owned()))?;
        let head = self.control(state, |s| s.audit_head(), "audit head")?;
        let (seq, hash) = head.map_or((0, candor_store::audit::GENESIS), |h| (h.seq, h.hash));
        let mut signed = state.signed.lock().unwrap_or_else(|p| p.into_inner());
        match signed.as_ref() {
            Some(s) if s.seq == seq && s.head == hash => Ok(s.clone()),
            _ => {
                let fresh = SignedHead::sign(key, seq, hash, crate::clock::audit_now());
                *signed = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }

    /// The data dictionaries served.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The regions served.
    pub fn region_ids(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(String::as_str)
    }

    /// The regions served that `scope` covers.
    pub fn regions_in_scope<'a>(&'a self, scope: &'a Scope) -> impl Iterator<Item = &'a str> {
        self.region_ids().filter(|r| scope.allows_region(r))
    }

    /// The metrics `scope` may query, by id.
    pub fn metrics_in_scope(&self, scope: &Scope) -> Vec<&Metric> {
        let mut out: Vec<&Metric> = self
            .registry
            .all()
            .flat_map(|s| s.metrics.values())
            .filter(|m| scope.allows_purpose(&m.purpose))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The last day of `region` a release may read now.
    pub fn last_closed_day(&self, region: &str) -> i32 {
        self.calendar.last_closed_day(&self.registry, region)
    }

    /// Authenticates a bearer token (see [`Access`]).
    ///
    /// # Errors
    /// [`AuthError`].
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        self.access
            .authenticate(token)
            .map(|(scope, role)| Principal { scope, role })
    }

    /// Whether `who` may read the exact operational counts of every region
    /// (`/metrics`): admin tokens covering every region only.
    pub fn is_operator(&self, who: &Principal) -> bool {
        who.role == Role::Admin && self.region_ids().all(|r| who.scope.allows_region(r))
    }

    /// Answers `who`'s query, refusing roles that may not release data
    /// (auditors) before anything is read, spent or logged: the one entry
    /// point of the API and the dashboard.
    ///
    /// # Errors
    /// [`QueryError`]; [`QueryError::Forbidden`] for an auditor.
    pub fn query_as(&self, who: &Principal, query: &Query) -> Result<Answer, QueryError> {
        if !who.role.may_query() {
            self.metrics.query("forbidden");
            return Err(QueryError::Forbidden(format!(
                "{} tokens may not query data",
                who.role.as_str()
            )));
        }
        self.query(&who.scope, query)
    }

    /// Answers an analyst's query through the release engine (noise,
    /// thresholds, budget, cache, audit), and counts its outcome.
    ///
    /// # Errors
    /// [`QueryError`].
    pub fn query(&self, scope: &Scope, query: &Query) -> Result<Answer, QueryError> {
        let answer = self.release(scope, query);
        self.metrics.query(match &answer {
            Ok(a) if a.cached => "cached",
            Ok(_) => "released",
            Err(e) => e.code(),
        });
        answer
    }

    fn release(&self, scope: &Scope, query: &Query) -> Result<Answer, QueryError> {
        if !scope.allows_region(&query.region) {
            return Err(QueryError::Forbidden(format!(
                "this token does not cover region {:?}",
                query.region
            )));
        }
        let region = self
            .regions
            .get(&query.region)
            .ok_or_else(|| QueryError::Invalid {
                code: "unknown_region",
                message: format!("this collector does not serve region {:?}", query.region),
            })?;
        // Noise from a ChaCha20 stream keyed by the OS CSPRNG for each
        // query: as unpredictable as the OS source, and cheap per sample.
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| {
            QueryError::Store(StoreError::Backend(
                "the OS random number generator failed".into(),
            ))
        })?;
        let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seed);
        let (window, _) = self.calendar.window();
        let mut store = region.control.lock().unwrap_or_else(|p| p.into_inner());
        release::release(
            &self.registry,
            store.as_mut(),
            scope,
            query,
            crate::clock::audit_now(),
            &window,
            &mut rng,
        )
    }

    /// A region's state once `scope` is found to cover it (a region out of
    /// scope is forbidden whether or not it is served).
    fn region(&self, scope: &Scope, region: &str) -> Result<&AnalystRegion, ViewError> {
        if !scope.allows_region(region) {
            return Err(ViewError::Forbidden(format!(
                "this token does not cover region {region:?}"
            )));
        }
        self.regions
            .get(region)
            .ok_or_else(|| ViewError::UnknownRegion(region.to_owned()))
    }

    fn control<T>(
        &self,
        state: &AnalystRegion,
        f: impl FnOnce(&mut dyn Store) -> Result<T, StoreError>,
        what: &'static str,
    ) -> Result<T, ViewError> {
        let mut store = state.control.lock().unwrap_or_else(|p| p.into_inner());
        f(store.as_mut()).map_err(|_| ViewError::Unavailable(what))
    }

    /// A region's budget ledger for the purposes in `scope`, with the
    /// region's caps (the tightest over the schemas that declare it).
    ///
    /// # Errors
    /// [`ViewError`].
    pub fn budget(&self, scope: &Scope, region: &str) -> Result<BudgetView, ViewError> {
        let state = self.region(scope, region)?;
        let entries = self.control(state, |s| s.budget(&BudgetFilter::default()), "budget")?;
        Ok(BudgetView::new(
            region,
            &self
                .registry
                .all()
                .filter_map(|s| s.region(region))
                .collect::<Vec<_>>(),
            entries
                .into_iter()
                .filter(|e| scope.allows_purpose(&e.purpose)),
        ))
    }

    /// A region's audit log and whether its chain verifies: admin and
    /// auditor tokens of the region only.
    ///
    /// # Errors
    /// [`ViewError`].
    pub fn audit(&self, who: &Principal, region: &str) -> Result<AuditView, ViewError> {
        if !who.role.may_read_audit() || !who.scope.allows_region(region) {
            return Err(ViewError::Forbidden(
                "the audit log is for admin and auditor tokens of the region".into(),
            ));
        }
        let state = self.region(&who.scope, region)?;
        let (entries, head) = self.control(state, |s| s.audit_log(), "audit log")?;
        Ok(AuditView::new(region, entries, head))
    }

    /// Appends a record to a region's audit log (jobs, key changes).
    ///
    /// # Errors
    /// [`StoreError`]; [`StoreError::Backend`] for a region not served.
    pub fn append_audit(&self, region: &str, record: &AuditRecord) -> Result<(), StoreError> {
        let state = self
            .regions
            .get(region)
            .ok_or_else(|| StoreError::Backend(format!("region {region:?} is not served")))?;
        let mut store = state.control.lock().unwrap_or_else(|p| p.into_inner());
        store.append_audit(record).map(|_| ())
    }

    /// Rolls up `region`'s closed days through its control handle (see
    /// [`candor_store::rollup`]), so that releases over them read a few
    /// sums per series; the background jobs call it, and a release does
    /// the same first if they have not yet. Returns the spans built.
    ///
    /// # Errors
    /// [`StoreError`]; [`StoreError::Backend`] for a region not served.
    pub fn roll_up(&self, region: &str) -> Result<u64, StoreError> {
        let state = self
            .regions
            .get(region)
            .ok_or_else(|| StoreError::Backend(format!("region {region:?} is not served")))?;
        let (window, _) = self.calendar.window();
        let mut store = state.control.lock().unwrap_or_else(|p| p.into_inner());
        release::roll_up_closed(&self.registry, region, &window, store.as_mut())
    }

    /// The overview: the last closed day of each (region, schema) in
    /// scope, and for admins only the exact operational counts (reports
    /// accepted per purpose and day, refusals by code), which are not
    /// differentially private.
    pub fn overview(&self, who: &Principal) -> Overview {
        let scope = &who.scope;
        let (window, _) = self.calendar.window();
        let mut closed = Vec::new();
        for region in self.regions_in_scope(scope) {
            for schema in self.registry.all() {
                if let Some(reg) = schema.region(region) {
                    closed.push(ClosedDay {
                        region: region.to_owned(),
                        schema: schema.id.clone(),
                        last_closed: window.last_closed(reg),
                    });
                }
            }
        }
        let exact = (who.role == Role::Admin).then(|| {
            let mut reports = BTreeMap::new();
            for (region, state) in self.regions.iter().filter(|(r, _)| scope.allows_region(r)) {
                let counts = (state.reader)()
                    .and_then(|s| s.report_counts())
                    .unwrap_or_default();
                let per_purpose: &mut BTreeMap<String, BTreeMap<i32, i64>> =
                    reports.entry(region.clone()).or_default();
                for rc in counts.iter().filter(|rc| scope.allows_purpose(&rc.purpose)) {
                    *per_purpose
                        .entry(rc.purpose.clone())
                        .or_default()
                        .entry(rc.day)
                        .or_default() += rc.reports;
                }
            }
            let mut rejected = BTreeMap::new();
            for (region, outcome, code, n) in self.metrics.report_totals() {
                if outcome == "rejected" && scope.allows_region(&region) {
                    *rejected.entry((region, code)).or_default() += n;
                }
            }
            ExactCounts { reports, rejected }
        });
        Overview {
            today: window.today,
            closed,
            exact,
        }
    }

    /// Every token's name, role, scope and times (never a hash): admin
    /// tokens only.
    ///
    /// # Errors
    /// [`ViewError`].
    pub fn tokens(
        &self,
        who: &Principal,
    ) -> Result<Vec<candor_store::tokens::TokenRecord>, ViewError> {
        if who.role != Role::Admin {
            return Err(ViewError::Forbidden(
                "the token list is for admin tokens".into(),
            ));
        }
        crate::access::list_tokens(&self.config).map_err(|_| ViewError::Unavailable("token list"))
    }
}

#[cfg(test)]
mod tests;
