//! Candor's aggregate storage.
//!
//! The collector never stores a report: it turns each accepted report into
//! [`Contribution`]s to aggregate rows and hands a batch of them to a
//! [`Store`], which in **one transaction** drops reports whose id it has
//! already seen and adds the rest to the rows. A row holds a `sum` and a
//! `contributors` count under a [`RowKey`].
//!
//! # The pieces
//!
//! - [`StoreConfig`]: **the factory**, and the only place that knows which
//!   backend holds the data and where. It opens a region's writer
//!   ([`StoreConfig::open_region`]) and readers
//!   ([`StoreConfig::open_region_read_only`]), lists the regions that have a
//!   store ([`StoreConfig::regions`]), opens the token store
//!   ([`StoreConfig::open_tokens`]) and describes each for messages
//!   ([`StoreConfig::describe_region`], never a secret). Region names are
//!   checked with the schema's rule ([`candor_schema::is_region_id`]) before
//!   they reach a backend ([`StoreError::InvalidRegion`]).
//! - [`Store`]: a region's aggregates, dedup ids, privacy-budget ledger,
//!   release cache and audit log. Backend-neutral: no driver type appears
//!   in it.
//! - [`TokenStore`]: analyst and admin tokens (their hashes and scopes), one
//!   per deployment, shared by every region.
//! - [`conformance`]: the suites every backend must pass — per-handle
//!   [`Store`] cases, [`TokenStore`] cases, and cases that open several
//!   handles through a [`StoreConfig`] (two writers racing to spend one
//!   day's budget never overspend it).
//! - [`rollup`]: rows summed ahead of time over aligned spans of sealed
//!   days ([`Store::roll_up`]), read in place of the rows by
//!   [`Store::visit_spans`], so a year-long release reads a few values
//!   per series.
//! - [`validate_batch`]: the rules every backend checks before writing.
//! - [`open_in_memory`]: a throwaway store for tests, benchmarks and
//!   studies.
//!
//! # Backends and features
//!
//! | feature | default | backend | configuration |
//! |---|---|---|---|
//! | `sqlite` | on | [`sqlite`]: one WAL database per region, `<data_dir>/<region>/`, and one token database in `<data_dir>` | [`StoreConfig::Sqlite`] |
//! | `postgres` | off | `postgres`: one schema per region (`<namespace>_region_<region>`) and one for tokens in a shared database, for several collectors or workers on one region | `StoreConfig::Postgres` |
//!
//! Without any backend feature the crate still builds (the traits, the
//! configuration type, the errors and the suites), so a deployment can
//! leave out drivers it does not use. File names and driver types stay
//! inside their backend's module.
//!
//! # Adding a backend
//!
//! In this order (SQLite and PostgreSQL followed it):
//!
//! 1. `Cargo.toml`: a feature (`postgres = ["dep:…"]`) making the driver an
//!    optional dependency.
//! 2. `src/<backend>/`: a type implementing [`Store`] (writer and reader
//!    handles on one region) and one implementing [`TokenStore`], plus the
//!    backend's side of the factory: open, list and describe regions, open
//!    tokens. Map driver errors to [`StoreError::Backend`] without bound
//!    values (no report id, no token hash in a message).
//! 3. `src/config.rs`: a `#[cfg(feature = "…")]` variant of [`StoreConfig`]
//!    holding what it needs (a URL; [`StoreConfig::describe_region`] must
//!    leave its password out), and an arm in each method.
//! 4. `tests/integration/`: run the suites with
//!    [`store_conformance_tests!`], [`token_conformance_tests!`] and
//!    [`config_conformance_tests!`].
//! 5. `README.md` and this table.
//!
//! The collector and the CLI only ever see [`StoreConfig`] and the traits,
//! so nothing outside this crate changes but the place that builds the
//! configuration (`candor_collector::Config::store`).
//!
//! The store holds no report plaintext; a report id is kept only to drop a
//! retried duplicate, and never appears in an error, a log or a `Debug`.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use candor_store::{CommitOutcome, Contribution, ReportDelta, RowFilter, RowKey};
//!
//! let mut store = candor_store::open_in_memory()?;
//! let key = RowKey {
//!     schema_id: "org.example.browser".into(),
//!     day: 20_000,
//!     purpose: "usage".into(),
//!     consent_version: 1,
//!     metric: "app.opened".into(),
//!     dimensions: "platform=android".into(),
//!     cell: "camera".into(),
//! };
//! let report = |id: u8, value: i64| ReportDelta {
//!     report_id: [id; 16],
//!     day: 20_000,
//!     schema_id: "org.example.browser".into(),
//!     purpose: "usage".into(),
//!     contributions: vec![Contribution { key: key.clone(), value }],
//! };
//! // A retried report (same id) in the same batch adds nothing.
//! let outcomes = store.commit(&[report(1, 3), report(2, 4), report(1, 3)])?;
//! assert_eq!(outcomes[2], CommitOutcome::Duplicate);
//! let rows = store.rows(&RowFilter::default())?;
//! assert_eq!((rows[0].sum, rows[0].contributors), (7, 2));
//! # }
//! # Ok::<(), candor_store::StoreError>(())
//! ```
#![deny(missing_docs)]

pub mod audit;
mod config;
pub mod conformance;
// The budget caps of a release, for every backend's ledger.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
mod ledger;
// The in-memory merge of a batch, for any backend that writes merged rows.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
mod merge;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod rollup;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod tokens;

pub use audit::{AuditEntry, AuditRecord, Head};
pub use config::StoreConfig;
#[cfg(feature = "sqlite")]
pub use config::open_in_memory;
pub use tokens::{TokenError, TokenRecord, TokenStore};

use std::fmt;

/// Why a store operation failed. Callers treat every variant as "nothing of
/// this call was committed".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened, migrated or written.
    #[error("storage backend: {0}")]
    Backend(String),
    /// The batch broke a rule of [`validate_batch`]; it was refused before
    /// anything was written. This is a bug in the caller, not in the data
    /// store: every report of the batch is still unseen.
    #[error("invalid batch: report {report}: {reason}")]
    InvalidBatch {
        /// Index of the first offending report in the batch.
        report: usize,
        /// The rule it broke.
        reason: &'static str,
    },
    /// A row's `sum` (or `contributors`) would leave the range of `i64`; the
    /// whole batch was rolled back.
    #[error("the sum of a row of metric {metric:?} would overflow")]
    Overflow {
        /// The metric of the row.
        metric: String,
    },
    /// A release would have spent more than a day's privacy budget under
    /// one of its caps ([`BudgetLimits`]); nothing was charged, cached or
    /// logged. The release engine checks the budget before it asks, so this
    /// is the store's own guard against a concurrent spender (another
    /// process on the same database).
    #[error("the {cap} budget of {metric} on day {day} has {remaining} units left")]
    BudgetExceeded {
        /// The metric.
        metric: String,
        /// The first day that would be overspent.
        day: DayNumber,
        /// Which cap: `metric_epsilon`, `purpose_epsilon` or `purpose_delta`.
        cap: &'static str,
        /// What is left on that day under that cap, in its unit (micro-ε or
        /// femto-δ).
        remaining: u64,
    },
    /// A region name that is not a region id (see
    /// [`candor_schema::is_region_id`]); nothing was opened or created.
    #[error("invalid region id {0:?}: 1-16 characters of a-z, 0-9 and '-', starting with a letter")]
    InvalidRegion(String),
    /// The database was written by a newer version of Candor.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    TooNew {
        /// Version found in the database.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
}

/// The cell of the row that counts, per (metric, dimensions, day), the
/// reports that carried the metric: every accepted report adds 1 to it for
/// each metric it holds. A metric's value cells cannot count that (one
/// report adds to several labels, buckets or domains), and the release
/// engine needs it to count a group's devices. No label, category, bucket
/// index or domain can be `*`.
pub const REPORTS_CELL: &str = "*";

/// A UTC day as days since 1970-01-01 (so storage needs no date type);
/// `candor-time`'s.
pub use candor_time::DayNumber;

/// The key of one aggregate row.
///
/// `dimensions` is the canonical `id=value` list, sorted by id and joined
/// with `,` (empty when none); `cell` is what within the metric the row
/// counts: a label, a category, `true`/`false`, a bucket index, a domain,
/// empty for a plain counter, or [`REPORTS_CELL`] for the number of reports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    /// The data dictionary's id.
    pub schema_id: String,
    /// The UTC day of the reports.
    pub day: DayNumber,
    /// The purpose.
    pub purpose: String,
    /// The consent version the contributors agreed to.
    pub consent_version: u32,
    /// The metric id.
    pub metric: String,
    /// Canonical dimensions (see above).
    pub dimensions: String,
    /// The label, category, bucket, domain or value counted (see above).
    pub cell: String,
}

/// One report's addition to one row: `sum += value`, `contributors += 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    /// The row.
    pub key: RowKey,
    /// What the report adds to the row's sum (≥ 0).
    pub value: i64,
}

/// One accepted, opened and validated report, reduced to what storage needs:
/// its id (for dedup only) and its contributions. The plaintext is gone.
#[derive(Clone, PartialEq, Eq)]
pub struct ReportDelta {
    /// The report's random id, kept only to drop retried duplicates.
    pub report_id: [u8; 16],
    /// The report's day (dedup entries are pruned by day).
    pub day: DayNumber,
    /// The report's schema id and purpose, for per-purpose report counts.
    pub schema_id: String,
    /// The report's purpose.
    pub purpose: String,
    /// Its additions to aggregate rows.
    pub contributions: Vec<Contribution>,
}

impl fmt::Debug for ReportDelta {
    // The id never appears in logs or panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportDelta")
            .field("day", &self.day)
            .field("purpose", &self.purpose)
            .field("contributions", &self.contributions.len())
            .finish_non_exhaustive()
    }
}

/// What became of one report of a committed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Counted now.
    Accepted,
    /// Its id was seen before (or earlier in the same batch): nothing added.
    Duplicate,
}

/// An aggregate row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow {
    /// The row's key.
    pub key: RowKey,
    /// Sum of the contributions.
    pub sum: i64,
    /// Number of reports that contributed.
    pub contributors: i64,
}

/// A stored row as [`Store::visit_rows`] lends it: the key's text borrowed
/// from the backend, so visiting a million rows allocates nothing per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowView<'a> {
    /// The data dictionary's id.
    pub schema_id: &'a str,
    /// The UTC day.
    pub day: DayNumber,
    /// The purpose.
    pub purpose: &'a str,
    /// The consent version.
    pub consent_version: u32,
    /// The metric id.
    pub metric: &'a str,
    /// Canonical dimensions.
    pub dimensions: &'a str,
    /// The cell.
    pub cell: &'a str,
    /// Sum of the contributions.
    pub sum: i64,
    /// Number of reports that contributed.
    pub contributors: i64,
}

impl RowView<'_> {
    /// The row as an owned [`AggregateRow`] (what [`Store::rows`] returns
    /// for each row a backend visits).
    #[must_use]
    pub fn to_row(&self) -> AggregateRow {
        AggregateRow {
            key: RowKey {
                schema_id: self.schema_id.to_owned(),
                day: self.day,
                purpose: self.purpose.to_owned(),
                consent_version: self.consent_version,
                metric: self.metric.to_owned(),
                dimensions: self.dimensions.to_owned(),
                cell: self.cell.to_owned(),
            },
            sum: self.sum,
            contributors: self.contributors,
        }
    }
}

/// A handle opened read-only refuses writes with this error, before
/// anything reaches the database (which would refuse them too, less
/// legibly).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn refuse_if_read_only(read_only: bool) -> Result<(), StoreError> {
    if read_only {
        return Err(StoreError::Backend(
            "this handle was opened read-only; write through the store's writer".into(),
        ));
    }
    Ok(())
}

/// A stored row, or several rows of one series and cell summed over a span
/// of days, as [`Store::visit_spans`] lends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanView<'a> {
    /// The row, `day` being the span's first day, `sum` and `contributors`
    /// added over the span's days.
    pub row: RowView<'a>,
    /// The span's last day (`row.day` for one day's row).
    pub last_day: DayNumber,
}

/// Which rows to read: everything matching the given fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowFilter {
    /// Only this schema.
    pub schema_id: Option<String>,
    /// Only this metric.
    pub metric: Option<String>,
    /// Only this purpose.
    pub purpose: Option<String>,
    /// First day, inclusive.
    pub from_day: Option<DayNumber>,
    /// Last day, inclusive.
    pub to_day: Option<DayNumber>,
}

/// Accepted reports per (schema, day, purpose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCount {
    /// The schema id.
    pub schema_id: String,
    /// The day.
    pub day: DayNumber,
    /// The purpose.
    pub purpose: String,
    /// Reports accepted.
    pub reports: i64,
}

/// ε and δ charged by one release to one (purpose, metric, day), in exact
/// integer units: micro-ε (10⁻⁶) and femto-δ (10⁻¹⁵), so that sums are exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetCharge {
    /// The purpose.
    pub purpose: String,
    /// The metric.
    pub metric: String,
    /// The day whose data the release used.
    pub day: DayNumber,
    /// ε charged, in micro-ε.
    pub micros: u64,
    /// δ charged, in femto-δ (0 for a release without open-set selection).
    pub femtos: u64,
}

/// ε and δ spent so far on one (purpose, metric, day).
pub type BudgetSpent = BudgetCharge;

/// The caps a release's charges must respect after they are added, in the
/// units of [`BudgetCharge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimits {
    /// ε per (purpose, metric, day).
    pub metric_micros: u64,
    /// ε per (purpose, day), summed over its metrics.
    pub purpose_micros: u64,
    /// δ per (purpose, day), summed over its metrics.
    pub purpose_femtos: u64,
}

/// Which ledger entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetFilter {
    /// Only this purpose.
    pub purpose: Option<String>,
    /// Only this metric.
    pub metric: Option<String>,
    /// First day, inclusive.
    pub from_day: Option<DayNumber>,
    /// Last day, inclusive.
    pub to_day: Option<DayNumber>,
}

/// A release to record: its charges, its cached answer, its audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    /// The normalized query: the same question always has the same key.
    pub cache_key: String,
    /// The answer as released (JSON), returned again for the same key.
    pub answer: String,
    /// Last day the answer covers; the cached answer is deleted with that
    /// day's data by retention.
    pub last_day: DayNumber,
    /// What it spends.
    pub charges: Vec<BudgetCharge>,
    /// The caps every (purpose, metric, day) and (purpose, day) must
    /// respect after it.
    pub limits: BudgetLimits,
    /// The audit log's record of the query.
    pub audit: AuditRecord,
}

/// What [`Store::record_release`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Charged, cached and logged.
    Recorded,
    /// The same query had been released meanwhile: nothing was charged,
    /// the audit record was logged, and this is the earlier answer.
    AlreadyCached(String),
}

/// A region's aggregate store.
///
/// Opened through [`StoreConfig`]. Each handle is used from one thread at
/// a time (it is `Send`, not `Sync`). Batches come from one writer per
/// region (the collector's group-commit writer); other handles on the same
/// region may record releases and audit entries (each call is one
/// transaction) or read.
pub trait Store: Send {
    /// In one transaction: for each report, record its id as seen; if it was
    /// already seen, it is a duplicate and adds nothing; otherwise add its
    /// contributions (`sum += value`, `contributors += 1`) and count it.
    /// Either the whole batch is committed or nothing is.
    ///
    /// Returns one outcome per report, in batch order. A report that lists
    /// the same [`RowKey`] twice adds both values but counts as **one**
    /// contributor to that row (it should not happen; the collector builds
    /// one contribution per row).
    ///
    /// # Errors
    /// - [`StoreError::InvalidBatch`] if [`validate_batch`] refuses the
    ///   batch (checked before anything is written);
    /// - [`StoreError::Overflow`] if a row's sum would leave `i64`;
    /// - [`StoreError::Backend`] if the database failed.
    ///
    /// In every case nothing of the batch was committed, and no report id of
    /// it is recorded as seen.
    fn commit(&mut self, batch: &[ReportDelta]) -> Result<Vec<CommitOutcome>, StoreError>;

    /// Forgets the ids of reports for days before `before` (they are outside
    /// the accepted day window, so they cannot come back); returns how many.
    ///
    /// The store itself would accept a forgotten id again: it is the
    /// collector's day window (refusing reports of days before `before`)
    /// that keeps a pruned report from being counted twice.
    fn prune_seen(&mut self, before: DayNumber) -> Result<u64, StoreError>;

    /// Deletes aggregate rows, report counts, budget ledger entries,
    /// cached releases ending before `before` and roll-ups starting before
    /// it (retention); returns how many aggregate rows. Seen ids are not touched: that is
    /// [`Store::prune_seen`]; the audit log is never deleted.
    fn delete_before(&mut self, before: DayNumber) -> Result<u64, StoreError>;

    /// Rows matching `filter`, ordered by key (the derived [`Ord`] of
    /// [`RowKey`]: schema id, day, purpose, consent version, metric,
    /// dimensions, cell; strings compare byte-wise).
    fn rows(&self, filter: &RowFilter) -> Result<Vec<AggregateRow>, StoreError>;

    /// Calls `visit` once for every row matching `filter`, in no particular
    /// order: the release engine's read path, which aggregates as it goes
    /// and needs neither order nor owned rows. The same rows as
    /// [`Store::rows`].
    fn visit_rows(
        &self,
        filter: &RowFilter,
        visit: &mut dyn FnMut(&RowView<'_>),
    ) -> Result<(), StoreError>;

    /// Rolls up the rows of days before `before` (see [`rollup`]): sums
    /// each series' rows over every aligned span of those days that has
    /// none yet, so that [`Store::visit_spans`] reads a few values per
    /// series instead of every day's rows. Returns how many spans it rolled
    /// up. Each span is one transaction; what a crash leaves rolled up is
    /// used, the rest is done on the next call.
    ///
    /// The caller promises that no report for a day before `before` will be
    /// committed any more: the collector passes the day after the region's
    /// last closed day, which its day window no longer accepts (the same
    /// promise [`Store::prune_seen`] relies on). A roll-up is never updated
    /// by a commit; retention ([`Store::delete_before`]) drops those that
    /// start before its cutoff.
    ///
    /// The default does nothing (a backend without roll-ups reads rows).
    fn roll_up(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        let _ = before;
        Ok(0)
    }

    /// The release engine's read path over a range of days: like
    /// [`Store::visit_rows`], except that a cell's rows may come summed over
    /// spans of days that lie inside the filter's range (from roll-ups;
    /// several spans of one series and cell add up to what its rows over
    /// those days hold). [`REPORTS_CELL`] rows always come one per day, as
    /// stored, and with `per_day` every span is one day.
    ///
    /// So for each (series, cell) the sums of `sum` and of `contributors`
    /// over what is visited equal those over [`Store::visit_rows`]'s rows,
    /// and the report-count rows are the same
    /// ([`conformance::visit_spans_adds_up_to_the_rows`]).
    ///
    /// The default visits the rows themselves, each a one-day span.
    fn visit_spans(
        &self,
        filter: &RowFilter,
        per_day: bool,
        visit: &mut dyn FnMut(&SpanView<'_>),
    ) -> Result<(), StoreError> {
        let _ = per_day;
        rollup::rows_as_spans(self, filter, visit)
    }

    /// Accepted reports per (schema, day, purpose), ordered by schema id,
    /// day, purpose.
    fn report_counts(&self) -> Result<Vec<ReportCount>, StoreError>;

    /// The answer cached under a release's cache key, if any.
    fn cached_release(&self, cache_key: &str) -> Result<Option<String>, StoreError>;

    /// The privacy-budget ledger: ε and δ spent per (purpose, metric, day),
    /// ordered by purpose, metric, day; entries that spent nothing are absent.
    fn budget(&self, filter: &BudgetFilter) -> Result<Vec<BudgetSpent>, StoreError>;

    /// In **one transaction**: adds every charge to the ledger, stores the
    /// answer under its cache key and appends the audit record. If any
    /// (purpose, metric, day) or (purpose, day) would then exceed a cap of
    /// `limits`, nothing is written and the error is
    /// [`StoreError::BudgetExceeded`]. If the key
    /// already holds an answer, nothing is charged, the audit record is
    /// still appended, and the earlier answer is returned.
    ///
    /// The caps hold across handles: two writers on one region (two
    /// threads or processes, each with its own handle from
    /// [`StoreConfig::open_region`]) racing to spend the same day's budget
    /// never take it over a cap together
    /// ([`conformance::racing_releases_never_overspend`]).
    fn record_release(&mut self, release: &NewRelease) -> Result<ReleaseOutcome, StoreError>;

    /// Appends one record to the audit log's hash chain (see [`audit`]).
    fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry, StoreError>;

    /// The whole audit log in seq order, and the head the store recorded.
    /// Rows are returned as stored, without checking them: that is
    /// [`audit::verify`]'s job.
    fn audit_log(&self) -> Result<(Vec<AuditEntry>, Option<Head>), StoreError>;

    /// The head the store recorded (one row): what the collector signs and
    /// publishes, read on every request for it, so never the whole log.
    fn audit_head(&self) -> Result<Option<Head>, StoreError>;
}

/// Checks the rules every [`Store`] enforces on a batch before it writes
/// anything, so a bad batch fails the same way on every backend:
///
/// 1. every contribution's `value` is ≥ 0 (rows are counts and sums of
///    clamped, non-negative values; a negative one is a collector bug);
/// 2. every contribution's row is of the report's own schema, day and
///    purpose (retention and dedup pruning work by the report's day, so a
///    row of another day would outlive or predate its report's id).
///
/// # Errors
/// [`StoreError::InvalidBatch`] naming the first offending report.
pub fn validate_batch(batch: &[ReportDelta]) -> Result<(), StoreError> {
    for (index, report) in batch.iter().enumerate() {
        for c in &report.contributions {
            let reason = if c.value < 0 {
                "a contribution's value is negative"
            } else if c.key.day != report.day {
                "a contribution's row is of another day than the report"
            } else if c.key.schema_id != report.schema_id {
                "a contribution's row is of another schema than the report"
            } else if c.key.purpose != report.purpose {
                "a contribution's row is of another purpose than the report"
            } else {
                continue;
            };
            return Err(StoreError::InvalidBatch {
                report: index,
                reason,
            });
        }
    }
    Ok(())
}

/// A boxed store is a store, so what [`StoreConfig`] opens goes wherever a
/// `&mut dyn Store` or an `impl Store` is expected.
impl<S: Store + ?Sized> Store for Box<S> {
    fn commit(&mut self, batch: &[ReportDelta]) -> Result<Vec<CommitOutcome>, StoreError> {
        (**self).commit(batch)
    }
    fn prune_seen(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        (**self).prune_seen(before)
    }
    fn delete_before(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        (**self).delete_before(before)
    }
    fn rows(&self, filter: &RowFilter) -> Result<Vec<AggregateRow>, StoreError> {
        (**self).rows(filter)
    }
    fn visit_rows(
        &self,
        filter: &RowFilter,
        visit: &mut dyn FnMut(&RowView<'_>),
    ) -> Result<(), StoreError> {
        (**self).visit_rows(filter, visit)
    }
    fn roll_up(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        (**self).roll_up(before)
    }
    fn visit_spans(
        &self,
        filter: &RowFilter,
        per_day: bool,
        visit: &mut dyn FnMut(&SpanView<'_>),
    ) -> Result<(), StoreError> {
        (**self).visit_spans(filter, per_day, visit)
    }
    fn report_counts(&self) -> Result<Vec<ReportCount>, StoreError> {
        (**self).report_counts()
    }
    fn cached_release(&self, cache_key: &str) -> Result<Option<String>, StoreError> {
        (**self).cached_release(cache_key)
    }
    fn budget(&self, filter: &BudgetFilter) -> Result<Vec<BudgetSpent>, StoreError> {
        (**self).budget(filter)
    }
    fn record_release(&mut self, release: &NewRelease) -> Result<ReleaseOutcome, StoreError> {
        (**self).record_release(release)
    }
    fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry, StoreError> {
        (**self).append_audit(record)
    }
    fn audit_log(&self) -> Result<(Vec<AuditEntry>, Option<Head>), StoreError> {
        (**self).audit_log()
    }
    fn audit_head(&self) -> Result<Option<Head>, StoreError> {
        (**self).audit_head()
    }
}
