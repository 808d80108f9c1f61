//! The conformance suite against each SQLite flavour, one `#[test]` per case.

use candor_store::sqlite::SqliteStore;
use candor_store::{
    AggregateRow, AuditEntry, AuditRecord, BudgetFilter, BudgetSpent, CommitOutcome, DayNumber,
    Head, NewRelease, ReleaseOutcome, ReportCount, ReportDelta, RowFilter, RowView, Store,
    StoreError,
};

mod sqlite_in_memory {
    candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
        Box::new(
            candor_store::sqlite::SqliteStore::open_in_memory().expect("open an in-memory store"),
        )
    });
}

mod sqlite_file {
    candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
        Box::new(super::FileStore::new())
    });
}

#[test]
fn run_drives_the_whole_suite() {
    candor_store::conformance::run(&mut || -> Box<dyn Store> {
        Box::new(SqliteStore::open_in_memory().expect("open an in-memory store"))
    });
}

/// A WAL file store in its own temporary directory, removed on drop.
struct FileStore {
    store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl FileStore {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(dir.path().join("region.sqlite")).expect("open a file store");
        Self { store, _dir: dir }
    }
}

impl Store for FileStore {
    fn commit(&mut self, batch: &[ReportDelta]) -> Result<Vec<CommitOutcome>, StoreError> {
        self.store.commit(batch)
    }
    fn prune_seen(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.store.prune_seen(before)
    }
    fn delete_before(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.store.delete_before(before)
    }
    fn rows(&self, filter: &RowFilter) -> Result<Vec<AggregateRow>, StoreError> {
        self.store.rows(filter)
    }
    fn report_counts(&self) -> Result<Vec<ReportCount>, StoreError> {
        self.store.report_counts()
    }
    fn visit_rows(
        &self,
        filter: &RowFilter,
        visit: &mut dyn FnMut(&RowView<'_>),
    ) -> Result<(), StoreError> {
        self.store.visit_rows(filter, visit)
    }
    fn cached_release(&self, cache_key: &str) -> Result<Option<String>, StoreError> {
        self.store.cached_release(cache_key)
    }
    fn budget(&self, filter: &BudgetFilter) -> Result<Vec<BudgetSpent>, StoreError> {
        self.store.budget(filter)
    }
    fn record_release(&mut self, release: &NewRelease) -> Result<ReleaseOutcome, StoreError> {
        self.store.record_release(release)
    }
    fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry, StoreError> {
        self.store.append_audit(record)
    }
    fn audit_log(&self) -> Result<(Vec<AuditEntry>, Option<Head>), StoreError> {
        self.store.audit_log()
    }
}
