//! The conformance suites against each SQLite flavour, one `#[test]` per
//! case: the store suite in memory and in a WAL file, the token suite in
//! memory and in a file, and the configuration suite (several handles, the
//! racing writers among them) on a fresh data directory through the
//! factory.

use candor_store::sqlite::{SqliteStore, SqliteTokens};
use candor_store::{Store, StoreConfig, TokenStore};

use crate::guarded::{Guarded, GuardedTokens};

mod sqlite_in_memory {
    candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
        Box::new(
            candor_store::sqlite::SqliteStore::open_in_memory().expect("open an in-memory store"),
        )
    });
}

mod sqlite_file {
    candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
        Box::new(super::file_store())
    });
}

mod sqlite_factory {
    candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
        Box::new(super::factory_store())
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
        Box::new(super::file_tokens())
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
fn file_tokens() -> GuardedTokens<tempfile::TempDir> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let tokens = SqliteTokens::open(dir.path().join("tokens.sqlite")).expect("open");
    GuardedTokens {
        tokens: Box::new(tokens),
        _guard: dir,
    }
}

#[test]
fn run_drives_the_whole_suite() {
    candor_store::conformance::run(&mut || -> Box<dyn Store> {
        Box::new(SqliteStore::open_in_memory().expect("open an in-memory store"))
    });
}

/// A WAL file store in its own temporary directory, removed on drop.
fn file_store() -> Guarded<tempfile::TempDir> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("region.sqlite")).expect("open a file store");
    Guarded {
        store: Box::new(store),
        _guard: dir,
    }
}

/// A region's writer opened through the factory, as the collector opens
/// it.
fn factory_store() -> Guarded<tempfile::TempDir> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = StoreConfig::sqlite(dir.path())
        .open_region("eu")
        .expect("open a region");
    Guarded { store, _guard: dir }
}
