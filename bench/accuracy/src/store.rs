//! The study's store: thrown away at the end of the run.

use candor_store::sqlite::SqliteStore;

/// The store type the study writes to and queries.
pub(crate) type StudyStore = SqliteStore;

/// A new, empty store that lives only as long as the run: the one place
/// the study creates stores, so the backend is chosen in one line.
pub(crate) fn throwaway() -> StudyStore {
    SqliteStore::open_in_memory().expect("an in-memory store opens")
}
