//! The conformance suites against each SQLite flavour, one `#[test]` per
//! case: the store suite in memory and in a WAL file, the token suite in
//! memory and in a file, and the configuration suite (several handles, the
//! racing writers among them) on a fresh data directory through the
//! factory.

use candor_store::sqlite::{SqliteStore, SqliteTokens};
use candor_store::{
    AggregateRow, AuditEntry, AuditRecord, BudgetFilter, BudgetSpent, CommitOutcome, DayNumber,
    Head, NewRelease, ReleaseOutcome, ReportCount, ReportDelta, RowFilter, RowView, Store,
    StoreConfig, StoreError, TokenError, TokenRecord, TokenStore,
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

mod sqlite_factory {
    candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
        Box::new(super::FileStore::through_the_factory())
    });
}

mod sqlite_tokens_in_memory {
    candor_store::token_conformance_tests!(|| -> Box<dyn candor_store::TokenStore> {
        Box::new(
            candor_store::sqlite::SqliteTokens::open_in_memory()
                .expect("open an in-memory token store"),
        )
    });
}

mod sqlite_tokens_file {
    candor_store::token_conformance_tests!(|| -> Box<dyn candor_store::TokenStore> {
        Box::new(super::FileTokens::new())
    });
}

mod sqlite_config {
    candor_store::config_conformance_tests!(super::Fresh::new);
}

#[test]
fn run_config_and_tokens_drive_their_whole_suites() {
    candor_store::conformance::run_config(&mut Fresh::new);
    candor_store::conformance::tokens::run(&mut || -> Box<dyn TokenStore> {
        Box::new(SqliteTokens::open_in_memory().expect("open an in-memory token store"))
    });
}

/// A fresh data directory and the SQLite configuration on it; the
/// directory is removed on drop, after the case.
struct Fresh {
    config: StoreConfig,
    _dir: tempfile::TempDir,
}

impl Fresh {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self {
            config: StoreConfig::sqlite(dir.path().join("data")),
            _dir: dir,
        }
    }
}

impl AsRef<StoreConfig> for Fresh {
    fn as_ref(&self) -> &StoreConfig {
        &self.config
    }
}

/// A token database in a file of its own temporary directory.
struct FileTokens {
    tokens: SqliteTokens,
    _dir: tempfile::TempDir,
}

impl FileTokens {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let tokens = SqliteTokens::open(dir.path().join("tokens.sqlite")).expect("open");
        Self { tokens, _dir: dir }
    }
}

impl TokenStore for FileTokens {
    fn create(&self, token: &TokenRecord) -> Result<(), TokenError> {
        self.tokens.create(token)
    }
    fn list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.tokens.list()
    }
    fn active(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.tokens.active()
    }
    fn revoke(&self, name: &str, at: i64) -> Result<(), TokenError> {
        self.tokens.revoke(name, at)
    }
}

#[test]
fn run_drives_the_whole_suite() {
    candor_store::conformance::run(&mut || -> Box<dyn Store> {
        Box::new(SqliteStore::open_in_memory().expect("open an in-memory store"))
    });
}

/// A WAL file store in its own temporary directory, removed on drop.
struct FileStore {
    store: Box<dyn Store>,
    _dir: tempfile::TempDir,
}

impl FileStore {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(dir.path().join("region.sqlite")).expect("open a file store");
        Self {
            store: Box::new(store),
            _dir: dir,
        }
    }

    /// A region's writer opened through the factory, as the collector
    /// opens it.
    fn through_the_factory() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = StoreConfig::sqlite(dir.path())
            .open_region("eu")
            .expect("open a region");
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
