//! The conformance suites: what every backend must do, identically.
//!
//! Three suites, each a list of public case functions that panic with a
//! message saying what broke:
//!
//! - [`CASES`]: a region's [`Store`], each case on a fresh, empty handle;
//! - [`tokens::CASES`]: the [`TokenStore`](crate::TokenStore), each case on
//!   a fresh, empty one;
//! - [`CONFIG_CASES`]: cases that need several handles (two writers racing
//!   for one day's budget, two token handles, the region list), each given
//!   a fresh [`StoreConfig`] to open them through the factory.
//!
//! A backend runs each suite with one line in its tests, one `#[test]` per
//! case:
//!
//! ```no_run
//! mod in_memory {
//!     candor_store::store_conformance_tests!(|| candor_store::open_in_memory().expect("open"));
//! }
//! ```
//!
//! ([`token_conformance_tests!`](crate::token_conformance_tests) and
//! [`config_conformance_tests!`](crate::config_conformance_tests) alike), or
//! all in one test with [`run`], [`tokens::run`] and [`run_config`]:
//!
//! ```no_run
//! use candor_store::{conformance, Store};
//!
//! conformance::run(&mut || -> Box<dyn Store> {
//!     candor_store::open_in_memory().expect("open an in-memory store")
//! });
//! ```
//!
//! The expected results come from a model in this module (a plain
//! in-memory implementation of the trait's contract), so the
//! randomized case checks a backend against the specification rather than
//! against another backend.
//!
//! How a failure is forced backend-neutrally: by the shared rules, not by
//! breaking the database. A negative value is refused by
//! [`validate_batch`](crate::validate_batch) before anything is written;
//! a sum that overflows `i64` is refused by the backend in the middle of the
//! transaction, after report ids and other rows were already written, which
//! checks the rollback itself.
//!
//! Files: `commit.rs`, `reads.rs`, `model.rs` (the randomized case and its
//! model), `release.rs` and `rollup.rs` hold the [`Store`] cases, `concurrent.rs` the
//! configuration cases, `tokens.rs` the token suite, `helpers.rs` what
//! they share.

mod commit;
mod concurrent;
mod helpers;
mod model;
mod reads;
mod release;
mod rollup;
pub mod tokens;

pub use commit::{
    commit_sums_and_counts_contributors, duplicates_add_nothing, empty_store,
    invalid_batch_commits_nothing, overflow_rolls_back_the_whole_batch,
    repeated_row_in_one_report_is_one_contributor,
};
pub use concurrent::{
    racing_releases_never_overspend, regions_are_listed_and_checked,
    tokens_are_shared_between_handles,
};
pub use model::randomized_against_model;
pub use reads::{
    delete_before_removes_old_rows_and_counts, large_batch, prune_seen_forgets_only_older_days,
    report_counts_per_schema_day_purpose, rows_filter_and_order, visit_rows_sees_the_same_rows,
};
pub use release::{
    audit_log_is_a_verified_chain, release_charges_caches_and_logs,
    release_over_budget_changes_nothing, release_over_the_purpose_cap_changes_nothing,
    retention_keeps_the_audit_log,
};
pub use rollup::visit_spans_adds_up_to_the_rows;

use crate::{Store, StoreConfig};

/// A case of the suite: gets a fresh, empty store.
pub type Case = fn(&mut dyn Store);

/// Every case, by name, in the order [`run`] runs them.
pub const CASES: &[(&str, Case)] = &[
    ("empty_store", empty_store),
    (
        "commit_sums_and_counts_contributors",
        commit_sums_and_counts_contributors,
    ),
    (
        "repeated_row_in_one_report_is_one_contributor",
        repeated_row_in_one_report_is_one_contributor,
    ),
    ("duplicates_add_nothing", duplicates_add_nothing),
    (
        "invalid_batch_commits_nothing",
        invalid_batch_commits_nothing,
    ),
    (
        "overflow_rolls_back_the_whole_batch",
        overflow_rolls_back_the_whole_batch,
    ),
    (
        "prune_seen_forgets_only_older_days",
        prune_seen_forgets_only_older_days,
    ),
    (
        "delete_before_removes_old_rows_and_counts",
        delete_before_removes_old_rows_and_counts,
    ),
    ("rows_filter_and_order", rows_filter_and_order),
    (
        "visit_rows_sees_the_same_rows",
        visit_rows_sees_the_same_rows,
    ),
    (
        "report_counts_per_schema_day_purpose",
        report_counts_per_schema_day_purpose,
    ),
    ("large_batch", large_batch),
    ("randomized_against_model", randomized_against_model),
    (
        "release_charges_caches_and_logs",
        release_charges_caches_and_logs,
    ),
    (
        "release_over_budget_changes_nothing",
        release_over_budget_changes_nothing,
    ),
    (
        "release_over_the_purpose_cap_changes_nothing",
        release_over_the_purpose_cap_changes_nothing,
    ),
    (
        "audit_log_is_a_verified_chain",
        audit_log_is_a_verified_chain,
    ),
    (
        "retention_keeps_the_audit_log",
        retention_keeps_the_audit_log,
    ),
    (
        "visit_spans_adds_up_to_the_rows",
        visit_spans_adds_up_to_the_rows,
    ),
];

/// Runs every case, each on a fresh store from `make`. The name of the case
/// is printed before it runs, so a failure's output says which one it was.
pub fn run(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        eprintln!("candor-store conformance: {name}");
        let mut store = make();
        case(&mut *store);
    }
}

/// Generates one `#[test]` per conformance case (plus one checking that the
/// list is complete) in the current module, each on a fresh store from the
/// given factory, an expression of type `impl FnMut() -> Box<dyn Store>`.
///
/// ```no_run
/// mod in_memory {
///     candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
///         candor_store::open_in_memory().expect("open")
///     });
/// }
/// ```
///
/// A backend that needs a running server passes `optional:` and a factory
/// returning `Option<Box<dyn Store>>`: where it returns `None` (the server
/// is absent, and the factory said so), the case returns without running.
#[macro_export]
macro_rules! store_conformance_tests {
    (optional: $make:expr) => {
        $crate::store_conformance_tests!(@cases $make;
            empty_store,
            commit_sums_and_counts_contributors,
            repeated_row_in_one_report_is_one_contributor,
            duplicates_add_nothing,
            invalid_batch_commits_nothing,
            overflow_rolls_back_the_whole_batch,
            prune_seen_forgets_only_older_days,
            delete_before_removes_old_rows_and_counts,
            rows_filter_and_order,
            visit_rows_sees_the_same_rows,
            report_counts_per_schema_day_purpose,
            large_batch,
            randomized_against_model,
            release_charges_caches_and_logs,
            release_over_budget_changes_nothing,
            release_over_the_purpose_cap_changes_nothing,
            audit_log_is_a_verified_chain,
            retention_keeps_the_audit_log,
            visit_spans_adds_up_to_the_rows,
        );
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(optional: {
            let mut make = $make;
            move || -> ::std::option::Option<::std::boxed::Box<dyn $crate::Store>> {
                ::std::option::Option::Some(make())
            }
        });
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                let mut make = $make;
                let store: ::std::option::Option<::std::boxed::Box<dyn $crate::Store>> = make();
                let ::std::option::Option::Some(mut store) = store else {
                    return;
                };
                $crate::conformance::$case(&mut *store);
            }
        )+

        #[test]
        fn conformance_list_is_complete() {
            let generated: &[&str] = &[$(stringify!($case)),+];
            let all: ::std::vec::Vec<&str> =
                $crate::conformance::CASES.iter().map(|(name, _)| *name).collect();
            assert_eq!(
                generated,
                all.as_slice(),
                "store_conformance_tests! and conformance::CASES list different cases"
            );
        }
    };
}

/// A case of the configuration suite: gets a fresh [`StoreConfig`] (no
/// region, no token store yet) and opens the handles it needs.
pub type ConfigCase = fn(&StoreConfig);

/// Every configuration case, by name, in the order [`run_config`] runs
/// them.
pub const CONFIG_CASES: &[(&str, ConfigCase)] = &[
    (
        "regions_are_listed_and_checked",
        regions_are_listed_and_checked,
    ),
    (
        "tokens_are_shared_between_handles",
        tokens_are_shared_between_handles,
    ),
    (
        "racing_releases_never_overspend",
        racing_releases_never_overspend,
    ),
];

/// Runs every configuration case, each on a fresh configuration from
/// `make` (anything that holds a [`StoreConfig`]: a fixture that also owns
/// a temporary directory, dropped after the case, will do). The name of the
/// case is printed before it runs.
pub fn run_config<C: AsRef<StoreConfig>>(make: &mut dyn FnMut() -> C) {
    for (name, case) in CONFIG_CASES {
        eprintln!("candor-store configuration conformance: {name}");
        let fixture = make();
        case(fixture.as_ref());
    }
}

/// Generates one `#[test]` per configuration case (plus one checking that
/// the list is complete) in the current module, each on a fresh
/// configuration from the given factory, an expression of type
/// `impl FnMut() -> C` where `C: AsRef<StoreConfig>` (a fixture owning a
/// temporary directory lives until the case ends).
///
/// ```no_run
/// struct Fresh(candor_store::StoreConfig, tempfile::TempDir);
///
/// impl AsRef<candor_store::StoreConfig> for Fresh {
///     fn as_ref(&self) -> &candor_store::StoreConfig {
///         &self.0
///     }
/// }
///
/// mod sqlite_files {
///     candor_store::config_conformance_tests!(|| {
///         let dir = tempfile::tempdir().expect("a temporary directory");
///         super::Fresh(candor_store::StoreConfig::sqlite(dir.path()), dir)
///     });
/// }
/// ```
///
/// With `optional:`, the factory returns `Option<C>`, and a case whose
/// factory returns `None` (its server is absent) returns without running.
#[macro_export]
macro_rules! config_conformance_tests {
    (optional: $make:expr) => {
        $crate::config_conformance_tests!(@cases $make;
            regions_are_listed_and_checked,
            tokens_are_shared_between_handles,
            racing_releases_never_overspend,
        );
    };
    ($make:expr) => {
        $crate::config_conformance_tests!(optional: {
            let mut make = $make;
            move || ::std::option::Option::Some(make())
        });
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                let mut make = $make;
                let ::std::option::Option::Some(fixture) = make() else {
                    return;
                };
                $crate::conformance::$case(::std::convert::AsRef::<$crate::StoreConfig>::as_ref(
                    &fixture,
                ));
            }
        )+

        #[test]
        fn config_conformance_list_is_complete() {
            let generated: &[&str] = &[$(stringify!($case)),+];
            let all: ::std::vec::Vec<&str> =
                $crate::conformance::CONFIG_CASES.iter().map(|(name, _)| *name).collect();
            assert_eq!(
                generated,
                all.as_slice(),
                "config_conformance_tests! and conformance::CONFIG_CASES list different cases"
            );
        }
    };
}
