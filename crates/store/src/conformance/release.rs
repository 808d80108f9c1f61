//! Release bookkeeping and the audit log: charges, the cache, the caps,
//! the hash chain, and what retention keeps.

use super::helpers::*;
use crate::audit;
use crate::{BudgetFilter, ReleaseOutcome, Store, StoreError};

/// A release charges each day, caches its answer, and logs; the same key
/// again charges nothing and returns the first answer.
pub fn release_charges_caches_and_logs(store: &mut dyn Store) {
    assert_eq!(store.cached_release("q1").expect("read cache"), None);
    let first = release("q1", 10..=12, 400_000);
    assert_eq!(
        store.record_release(&first).expect("release"),
        ReleaseOutcome::Recorded
    );
    assert_eq!(
        spent(store),
        vec![(10, 400_000), (11, 400_000), (12, 400_000)]
    );
    assert_eq!(
        store.cached_release("q1").expect("read cache").as_deref(),
        Some("answer of q1")
    );
    let mut again = release("q1", 10..=12, 400_000);
    again.answer = "another answer".into();
    assert_eq!(
        store.record_release(&again).expect("release again"),
        ReleaseOutcome::AlreadyCached("answer of q1".into()),
        "the same key must return the first answer"
    );
    assert_eq!(
        spent(store),
        vec![(10, 400_000), (11, 400_000), (12, 400_000)],
        "no second charge"
    );
    let filtered = store
        .budget(&BudgetFilter {
            from_day: Some(11),
            metric: Some("app.opened".into()),
            ..BudgetFilter::default()
        })
        .expect("filtered budget");
    assert_eq!(filtered.len(), 2);
    let (log, _) = store.audit_log().expect("audit log");
    assert_eq!(log.len(), 2, "both queries are logged");
}

/// A release that would take one day over the limit charges no day,
/// caches nothing and logs nothing.
pub fn release_over_budget_changes_nothing(store: &mut dyn Store) {
    store
        .record_release(&release("a", 10..=11, 700_000))
        .expect("first release");
    let err = store
        .record_release(&release("b", 9..=12, 400_000))
        .expect_err("day 10 would reach 1.1");
    match err {
        StoreError::BudgetExceeded {
            day,
            cap,
            remaining,
            ..
        } => assert_eq!((day, cap, remaining), (10, "metric_epsilon", 300_000)),
        other => panic!("expected BudgetExceeded, got {other}"),
    }
    assert_eq!(spent(store), vec![(10, 700_000), (11, 700_000)]);
    assert_eq!(store.cached_release("b").expect("cache"), None);
    assert_eq!(store.audit_log().expect("log").0.len(), 1);
    // Exactly up to the limit is allowed.
    store
        .record_release(&release("c", 10..=10, 300_000))
        .expect("spending the rest");
    assert_eq!(spent(store)[0], (10, 1_000_000));
}

/// The purpose's ε and δ caps add up every metric of the purpose on a day:
/// a release within its own metric's cap is refused when the purpose's sum
/// would pass its cap, and nothing of it is written.
pub fn release_over_the_purpose_cap_changes_nothing(store: &mut dyn Store) {
    store
        .record_release(&release_of("a", "qa", 10..=11, 1_000_000, 10_000_000))
        .expect("metric a spends its whole metric cap");
    let err = store
        .record_release(&release_of("b", "qb", 11..=11, 600_000, 0))
        .expect_err("the purpose has 0.5 left on day 11");
    match err {
        StoreError::BudgetExceeded {
            metric,
            day,
            cap,
            remaining,
        } => assert_eq!(
            (metric.as_str(), day, cap, remaining),
            ("b", 11, "purpose_epsilon", 500_000)
        ),
        other => panic!("expected BudgetExceeded, got {other}"),
    }
    assert_eq!(store.cached_release("qb").expect("cache"), None);
    store
        .record_release(&release_of("b", "qb2", 11..=11, 400_000, 20_000_000))
        .expect("within both purpose caps");
    let err = store
        .record_release(&release_of("c", "qc", 10..=11, 100_000, 1))
        .expect_err("δ on day 11 is spent");
    match err {
        StoreError::BudgetExceeded {
            day,
            cap,
            remaining,
            ..
        } => {
            assert_eq!((day, cap, remaining), (11, "purpose_delta", 0))
        }
        other => panic!("expected BudgetExceeded, got {other}"),
    }
    let ledger = store.budget(&BudgetFilter::default()).expect("budget");
    let femtos: u64 = ledger
        .iter()
        .filter(|b| b.day == 11)
        .map(|b| b.femtos)
        .sum();
    let micros: u64 = ledger
        .iter()
        .filter(|b| b.day == 11)
        .map(|b| b.micros)
        .sum();
    assert_eq!((micros, femtos), (1_400_000, 30_000_000));
    assert_eq!(ledger.len(), 3, "the refused releases wrote nothing");
    assert_eq!(store.audit_log().expect("log").0.len(), 2);
}

/// Appends form a chain that verifies, with the head the store recorded.
pub fn audit_log_is_a_verified_chain(store: &mut dyn Store) {
    assert_eq!(store.audit_log().expect("empty log"), (Vec::new(), None));
    assert_eq!(store.audit_head().expect("no head"), None);
    let mut appended = Vec::new();
    for n in 0..5 {
        appended.push(
            store
                .append_audit(&audit_record("token.create", n))
                .expect("append"),
        );
    }
    let (entries, head) = store.audit_log().expect("log");
    assert_eq!(entries, appended);
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(head.map(|h| (h.seq, h.hash)), Some((5, entries[4].hash)));
    assert_eq!(store.audit_head().expect("head"), head);
    assert_eq!(audit::verify(&entries, head, None), Ok(5));
}

/// Retention deletes old budget entries and cached answers, never audit rows.
pub fn retention_keeps_the_audit_log(store: &mut dyn Store) {
    store
        .record_release(&release("old", 10..=11, 100_000))
        .expect("release");
    store
        .record_release(&release("new", 20..=20, 100_000))
        .expect("release");
    store.delete_before(15).expect("retention");
    assert_eq!(spent(store), vec![(20, 100_000)]);
    assert_eq!(store.cached_release("old").expect("cache"), None);
    assert!(store.cached_release("new").expect("cache").is_some());
    let (entries, head) = store.audit_log().expect("log");
    assert_eq!(audit::verify(&entries, head, None), Ok(2));
}
