//! The analyst service without HTTP or SQLite: a fake store answers the
//! ledger and the report counts; nothing else may be asked of it.

use candor_store::{
    AggregateRow, AuditEntry, BudgetCharge, CommitOutcome, Head, NewRelease, ReleaseOutcome,
    ReportCount, ReportDelta, RowFilter, RowView,
};

use super::*;
use crate::clock::ManualClock;

/// A store holding a fixed ledger and report counts.
struct FakeStore {
    ledger: Vec<BudgetCharge>,
    counts: Vec<ReportCount>,
}

impl Store for FakeStore {
    fn budget(&self, _: &BudgetFilter) -> Result<Vec<BudgetCharge>, StoreError> {
        Ok(self.ledger.clone())
    }
    fn report_counts(&self) -> Result<Vec<ReportCount>, StoreError> {
        Ok(self.counts.clone())
    }
    fn audit_log(&self) -> Result<(Vec<AuditEntry>, Option<Head>), StoreError> {
        Ok((Vec::new(), None))
    }
    fn audit_head(&self) -> Result<Option<Head>, StoreError> {
        Ok(None)
    }
    fn commit(&mut self, _: &[ReportDelta]) -> Result<Vec<CommitOutcome>, StoreError> {
        unreachable!("the read side never writes aggregates")
    }
    fn prune_seen(&mut self, _: DayNumber) -> Result<u64, StoreError> {
        unreachable!()
    }
    fn delete_before(&mut self, _: DayNumber) -> Result<u64, StoreError> {
        unreachable!()
    }
    fn rows(&self, _: &RowFilter) -> Result<Vec<AggregateRow>, StoreError> {
        unreachable!("rows leave only through the release engine")
    }
    fn visit_rows(&self, _: &RowFilter, _: &mut dyn FnMut(&RowView<'_>)) -> Result<(), StoreError> {
        unreachable!("rows leave only through the release engine")
    }
    fn cached_release(&self, _: &str) -> Result<Option<String>, StoreError> {
        unreachable!()
    }
    fn record_release(&mut self, _: &NewRelease) -> Result<ReleaseOutcome, StoreError> {
        unreachable!()
    }
    fn append_audit(&mut self, _: &AuditRecord) -> Result<AuditEntry, StoreError> {
        unreachable!()
    }
}

use candor_store::DayNumber;

const DAY: DayNumber = 20_786;

fn charge(purpose: &str, metric: &str, micros: u64) -> BudgetCharge {
    BudgetCharge {
        purpose: purpose.into(),
        metric: metric.into(),
        day: DAY,
        micros,
        femtos: 0,
    }
}

fn fake() -> Box<dyn Store> {
    Box::new(FakeStore {
        ledger: vec![
            charge("usage", "app.opened", 250_000),
            charge("usage", "browser.tabs_opened", 500_000),
            charge("browsing", "browser.slow_domains", 400_000),
        ],
        counts: vec![ReportCount {
            schema_id: "org.example.browser".into(),
            day: DAY,
            purpose: "usage".into(),
            reports: 42,
        }],
    })
}

fn service() -> Analyst {
    let schema = crate::test_support::example_schema();
    let dir = std::env::temp_dir().join("candor-analyst-fake-has-no-tokens");
    let config = Arc::new(Config {
        data_dir: dir,
        ..Config::default()
    });
    let clock = Arc::new(ManualClock::new(crate::test_support::NOON_2026_11_29));
    Analyst::new(
        Arc::new(Registry::new([schema])),
        Calendar::new(clock, &config.ingest),
        config,
        Arc::new(Metrics::default()),
    )
    .with_region("eu", fake(), Box::new(|| Ok(fake())))
}

fn who(role: Role, regions: &[&str], purposes: &[&str]) -> Principal {
    Principal {
        scope: Scope {
            name: "t".into(),
            admin: role == Role::Admin,
            regions: regions.iter().map(|s| s.to_string()).collect(),
            purposes: purposes.iter().map(|s| s.to_string()).collect(),
        },
        role,
    }
}

#[test]
fn the_budget_view_shows_only_purposes_in_scope_and_the_nearer_cap() {
    let analyst = service();
    let ana = who(Role::Analyst, &["eu"], &["usage"]);
    let view = analyst.budget(&ana.scope, "eu").unwrap();
    assert_eq!(view.entries.len(), 2, "browsing is out of scope");
    assert!(view.entries.iter().all(|e| e.purpose == "usage"));
    // eu: ε 1 per metric and 3 per purpose and day (examples/browser.toml).
    let (metric_cap, purpose_cap) = (view.epsilon_per_metric_day, view.epsilon_per_purpose_day);
    let tabs = view
        .entries
        .iter()
        .find(|e| e.metric == "browser.tabs_opened")
        .unwrap();
    let expected = (metric_cap - 0.5).min(purpose_cap - 0.75).max(0.0);
    assert!((tabs.remaining - expected).abs() < 1e-9);
    assert_eq!(view.purposes.len(), 1);
    assert!((view.purposes[0].spent - 0.75).abs() < 1e-9);

    assert!(matches!(
        analyst.budget(&who(Role::Analyst, &["us"], &[]).scope, "eu"),
        Err(ViewError::Forbidden(_))
    ));
    assert!(matches!(
        analyst.budget(&who(Role::Admin, &[], &[]).scope, "mars"),
        Err(ViewError::UnknownRegion(_))
    ));
}

#[test]
fn exact_counts_are_for_admins_and_the_audit_log_too() {
    let analyst = service();
    let ana = who(Role::Analyst, &[], &[]);
    let overview = analyst.overview(&ana);
    assert!(overview.exact.is_none());
    assert!(overview.closed.iter().any(|c| c.region == "eu"));
    assert!(matches!(
        analyst.audit(&ana, "eu"),
        Err(ViewError::Forbidden(_))
    ));

    let admin = who(Role::Admin, &[], &[]);
    let exact = analyst.overview(&admin).exact.unwrap();
    assert_eq!(exact.reports["eu"]["usage"][&DAY], 42);
    let audit = analyst.audit(&admin, "eu").unwrap();
    assert_eq!(audit.verified, Ok(0));
}
