//! Handles that own what must outlive them — a temporary directory, a
//! PostgreSQL namespace — and drop it after the handle, for suites whose
//! factories return a bare `Box<dyn Store>` or `Box<dyn TokenStore>`.

use candor_store::{
    AggregateRow, AuditEntry, AuditRecord, BudgetFilter, BudgetSpent, CommitOutcome, DayNumber,
    Head, NewRelease, ReleaseOutcome, ReportCount, ReportDelta, RowFilter, RowView, Store,
    StoreError, TokenError, TokenRecord, TokenStore,
};

/// A store and its guard; fields drop in order, so the store closes first.
pub(crate) struct Guarded<G> {
    pub(crate) store: Box<dyn Store>,
    pub(crate) _guard: G,
}

impl<G: Send> Store for Guarded<G> {
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
    fn audit_head(&self) -> Result<Option<Head>, StoreError> {
        self.store.audit_head()
    }
}

/// A token store and its guard, dropped after it.
pub(crate) struct GuardedTokens<G> {
    pub(crate) tokens: Box<dyn TokenStore>,
    pub(crate) _guard: G,
}

impl<G: Send> TokenStore for GuardedTokens<G> {
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
