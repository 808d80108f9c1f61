//! Cases that need more than one handle, so they get a [`StoreConfig`]
//! (with no region and no token store yet) and open what they need through
//! the factory, as the collector and the CLI do.

use std::sync::Barrier;

use super::helpers::*;
use crate::tokens::{TokenError, TokenRecord};
use crate::{BudgetFilter, ReleaseOutcome, RowFilter, Store, StoreConfig, StoreError};

/// The factory lists exactly the regions it opened a writer for, refuses
/// names that are not region ids (creating nothing), opens a reader only on
/// an existing store, and a reader sees what the writer committed.
pub fn regions_are_listed_and_checked(config: &StoreConfig) {
    assert_eq!(
        config
            .regions()
            .expect("list the regions of an empty backend"),
        Vec::<String>::new(),
        "a fresh configuration has no regions"
    );
    assert!(!config.has_region("eu").expect("has_region"));
    assert!(
        config.open_region_read_only("eu").is_err(),
        "a reader needs a store a writer created"
    );
    for bad in ["", "EU", "../eu", "eu/keys", "e u", "a-very-long-region-id"] {
        assert!(
            matches!(config.open_region(bad), Err(StoreError::InvalidRegion(_))),
            "open_region({bad:?}) must be InvalidRegion"
        );
        assert!(
            matches!(config.has_region(bad), Err(StoreError::InvalidRegion(_))),
            "has_region({bad:?}) must be InvalidRegion"
        );
    }
    let mut eu = config.open_region("eu").expect("open eu's writer");
    drop(
        config
            .open_region("us-west")
            .expect("open us-west's writer"),
    );
    assert_eq!(
        config.regions().expect("list the regions"),
        ["eu", "us-west"],
        "regions are listed sorted, and only those opened"
    );
    assert!(config.has_region("eu").expect("has_region"));
    assert_ne!(
        config.describe_region("eu"),
        config.describe_region("us-west")
    );
    let key = key(SCHEMA, 10, "usage", 1, "tabs", "", "");
    eu.commit(&[report(1, SCHEMA, 10, "usage", &[(&key, 3)])])
        .expect("commit through the writer");
    let mut reader = config.open_region_read_only("eu").expect("open a reader");
    assert_eq!(
        reader.rows(&RowFilter::default()).expect("read"),
        [row(&key, 3, 1)],
        "a reader sees the writer's committed batch"
    );
    assert!(
        reader
            .commit(&[report(2, SCHEMA, 10, "usage", &[])])
            .is_err(),
        "a reader refuses writes"
    );
    let other = config.open_region("us-west").expect("reopen us-west");
    assert!(
        other.rows(&RowFilter::default()).expect("read").is_empty(),
        "regions do not share rows"
    );
}

/// Two handles on the token store see each other's changes at their next
/// call (the CLI creates and revokes while the collector authenticates).
pub fn tokens_are_shared_between_handles(config: &StoreConfig) {
    assert!(
        !config.has_tokens().expect("has_tokens"),
        "a fresh configuration has no token store"
    );
    let cli = config.open_tokens().expect("open the token store");
    let token = TokenRecord {
        name: "ana".into(),
        role: "analyst".into(),
        regions: vec!["eu".into()],
        purposes: vec![],
        hash: [7; 32],
        created_at: 10,
        revoked_at: None,
    };
    cli.create(&token).expect("create");
    assert!(config.has_tokens().expect("has_tokens"));
    let collector = config.open_tokens().expect("a second handle");
    assert_eq!(
        collector.active().expect("active"),
        std::slice::from_ref(&token)
    );
    cli.revoke("ana", 20).expect("revoke");
    assert_eq!(
        collector.active().expect("active"),
        [],
        "a revocation applies to the other handle's next call"
    );
    assert!(matches!(
        collector.create(&token),
        Err(TokenError::NameTaken(_))
    ));
}

/// Two writers on one region, each in its own thread with its own handle,
/// race to record releases that spend the same day's budget: together they
/// never take it over a cap. Every release is recorded or refused with
/// [`StoreError::BudgetExceeded`] (never a lost update, never an error from
/// the race itself), exactly as many fit as the cap allows, and the ledger,
/// the cache and the audit log agree with what was recorded.
///
/// First under the metric's ε cap (both spend one metric), then under the
/// purpose's (each spends its own metric, the purpose adds them up).
pub fn racing_releases_never_overspend(config: &StoreConfig) {
    const REGION: &str = "race";
    const ATTEMPTS: usize = 12;
    const CHARGE: u64 = 100_000;
    // Metric cap 1 ε: 10 of 0.1 ε fit. Purpose cap 1.5 ε: 15 fit, though
    // each metric alone could take 10.
    let phases: [(&str, [&str; 2], usize, u64); 2] = [
        (
            "metric",
            ["app.opened", "app.opened"],
            10,
            LIMITS.metric_micros,
        ),
        ("purpose", ["m.a", "m.b"], 15, LIMITS.purpose_micros),
    ];
    for (phase, (name, metrics, fit, cap)) in phases.into_iter().enumerate() {
        let day = 30 + phase as i32;
        let handles: Vec<Box<dyn Store>> = (0..2)
            .map(|_| config.open_region(REGION).expect("open a writer"))
            .collect();
        let barrier = Barrier::new(handles.len());
        let results: Vec<Vec<(String, Result<ReleaseOutcome, StoreError>)>> =
            std::thread::scope(|s| {
                let threads: Vec<_> = handles
                    .into_iter()
                    .zip(metrics)
                    .enumerate()
                    .map(|(h, (mut store, metric))| {
                        let barrier = &barrier;
                        s.spawn(move || {
                            barrier.wait();
                            (0..ATTEMPTS)
                                .map(|i| {
                                    let key = format!("{name}-{h}-{i}");
                                    let r = release_of(metric, &key, day..=day, CHARGE, 0);
                                    (key, store.record_release(&r))
                                })
                                .collect()
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .map(|t| t.join().expect("a racing writer panicked"))
                    .collect()
            });
        let store = config.open_region(REGION).expect("reopen");
        let mut recorded = 0;
        for (key, result) in results.iter().flatten() {
            match result {
                Ok(ReleaseOutcome::Recorded) => {
                    recorded += 1;
                    assert!(
                        store.cached_release(key).expect("cache").is_some(),
                        "{name} cap: recorded release {key} must be cached"
                    );
                }
                Err(StoreError::BudgetExceeded { .. }) => assert_eq!(
                    store.cached_release(key).expect("cache"),
                    None,
                    "{name} cap: refused release {key} must not be cached"
                ),
                other => panic!(
                    "{name} cap: a racing release must be recorded or refused for its budget, \
                     got {other:?} for {key}"
                ),
            }
        }
        let ledger = store
            .budget(&BudgetFilter {
                from_day: Some(day),
                to_day: Some(day),
                ..BudgetFilter::default()
            })
            .expect("budget");
        let spent: u64 = ledger.iter().map(|b| b.micros).sum();
        assert!(
            spent <= cap,
            "{name} cap: the racing writers spent {spent} micro-ε of {cap}"
        );
        assert!(
            ledger.iter().all(|b| b.micros <= LIMITS.metric_micros),
            "{name} cap: a metric went over its cap: {ledger:?}"
        );
        assert_eq!(
            (recorded, spent),
            (fit, fit as u64 * CHARGE),
            "{name} cap: exactly what fits is recorded, and the ledger holds all of it"
        );
        let (log, head) = store.audit_log().expect("audit log");
        assert_eq!(
            crate::audit::verify(&log, head, None),
            Ok(log.len() as u64),
            "{name} cap: the racing appends form one chain"
        );
    }
    let store = config.open_region(REGION).expect("reopen");
    assert_eq!(
        store.audit_log().expect("audit log").0.len(),
        10 + 15,
        "only recorded releases are logged"
    );
}
