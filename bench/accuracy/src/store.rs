//! The study's store: thrown away at the end of the run.

use candor_store::Store;

/// The store type the study writes to and queries: whatever backend the
/// store crate's factory gives for a throwaway store.
pub(crate) type StudyStore = Box<dyn Store>;

/// A new, empty store that lives only as long as the run: the one place
/// the study creates stores.
pub(crate) fn throwaway() -> StudyStore {
    candor_store::open_in_memory().expect("an in-memory store opens")
}
