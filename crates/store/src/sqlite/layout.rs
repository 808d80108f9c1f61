//! The SQLite side of the factory ([`crate::StoreConfig::Sqlite`]): where
//! each database lives under the data directory. The only place that knows
//! the file names.
//!
//! ```text
//! <data_dir>/access.sqlite              the token database
//! <data_dir>/<region>/aggregates.sqlite a region's store (WAL: -wal, -shm)
//! ```
//!
//! A region's directory also holds what is not storage (the collector puts
//! its keys in `<data_dir>/<region>/keys/`), so a region exists for storage
//! when its database file does, not when its directory does.

use std::path::{Path, PathBuf};

use super::{SqliteStore, SqliteTokens};
use crate::StoreError;

/// A region's store file name in its directory.
const STORE_FILE: &str = "aggregates.sqlite";

/// The token database's file name in the data directory.
const TOKENS_FILE: &str = "access.sqlite";

/// The databases of one data directory. Region names reaching it were
/// checked by the factory ([`crate::StoreConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout<'a> {
    data_dir: &'a Path,
}

impl<'a> Layout<'a> {
    /// The layout of `data_dir`.
    pub(crate) fn new(data_dir: &'a Path) -> Self {
        Self { data_dir }
    }

    /// The file of `region`'s store.
    pub(crate) fn region_file(self, region: &str) -> PathBuf {
        self.data_dir.join(region).join(STORE_FILE)
    }

    /// The token database's file.
    pub(crate) fn tokens_file(self) -> PathBuf {
        self.data_dir.join(TOKENS_FILE)
    }

    /// Opens the writer of `region`'s store, creating its directory and
    /// database on first use.
    pub(crate) fn open_region(self, region: &str) -> Result<SqliteStore, StoreError> {
        create_dir(&self.data_dir.join(region))?;
        SqliteStore::open(self.region_file(region))
    }

    /// Opens a reader of `region`'s store, which must exist.
    pub(crate) fn open_region_read_only(self, region: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_read_only(self.region_file(region))
    }

    /// Whether `region` has a store.
    pub(crate) fn has_region(self, region: &str) -> bool {
        self.region_file(region).exists()
    }

    /// The directories of the data directory that are valid region ids and
    /// hold a store, sorted. A missing data directory has none.
    pub(crate) fn regions(self) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(self.data_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("list", self.data_dir, &e)),
        };
        let mut regions: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| candor_schema::is_region_id(name) && self.has_region(name))
            .collect();
        regions.sort();
        Ok(regions)
    }

    /// Opens (creating the data directory and the database if needed) the
    /// token database.
    pub(crate) fn open_tokens(self) -> Result<SqliteTokens, StoreError> {
        create_dir(self.data_dir)?;
        SqliteTokens::open(self.tokens_file())
    }

    /// Whether the token database exists.
    pub(crate) fn has_tokens(self) -> bool {
        self.tokens_file().exists()
    }
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, &e))
}

fn io_error(doing: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Backend(format!("{doing} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_directories_with_a_store_and_a_valid_name() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        assert_eq!(layout.regions().unwrap(), Vec::<String>::new());
        drop(layout.open_region("eu").unwrap());
        drop(layout.open_region("us-west").unwrap());
        // A directory without a store, a file, and a name no region has.
        std::fs::create_dir_all(dir.path().join("in/keys")).unwrap();
        std::fs::write(dir.path().join("notes"), "x").unwrap();
        std::fs::create_dir_all(dir.path().join("EU")).unwrap();
        std::fs::copy(
            layout.region_file("eu"),
            dir.path().join("EU").join(STORE_FILE),
        )
        .unwrap();
        assert_eq!(layout.regions().unwrap(), ["eu", "us-west"]);
        assert!(!layout.has_tokens());
        drop(layout.open_tokens().unwrap());
        assert!(layout.has_tokens());
        let nothing = dir.path().join("nothing");
        let missing = Layout::new(&nothing);
        assert_eq!(missing.regions().unwrap(), Vec::<String>::new());
    }
}
