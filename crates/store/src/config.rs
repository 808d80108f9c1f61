//! [`StoreConfig`]: which backend holds a deployment's data, and the one
//! place that opens it.

#[cfg(feature = "sqlite")]
use std::path::PathBuf;

use crate::tokens::TokenStore;
use crate::{Store, StoreError};

/// Where a deployment's data lives, and the factory that opens it: each
/// region's store (one writer, any number of readers), the list of regions
/// that have one, and the token store.
///
/// Everything outside this crate opens storage through it, so a backend is
/// chosen in one place (today the collector's `data_dir`; tomorrow a
/// PostgreSQL URL) and no caller names a driver, a file or a table.
///
/// Region names are checked first with the schema's rule
/// ([`candor_schema::is_region_id`]): a bad one is
/// [`StoreError::InvalidRegion`] and nothing is opened or created, so a
/// region name can never reach outside the backend's place for it.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use candor_store::{RowFilter, StoreConfig};
///
/// let dir = tempfile::tempdir()?;
/// let config = StoreConfig::sqlite(dir.path());
/// assert!(!config.has_region("eu")?);
/// let mut writer = config.open_region("eu")?;
/// assert!(writer.commit(&[])?.is_empty());
/// let reader = config.open_region_read_only("eu")?;
/// assert!(reader.rows(&RowFilter::default())?.is_empty());
/// assert_eq!(config.regions()?, ["eu"]);
/// assert!(config.open_region("../eu").is_err());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreConfig {
    /// The embedded SQLite backend ([`crate::sqlite`]): one database per
    /// region in `<data_dir>/<region>/`, and the token database in
    /// `<data_dir>`.
    #[cfg(feature = "sqlite")]
    Sqlite {
        /// The data directory (created on first write).
        data_dir: PathBuf,
    },
    /// The PostgreSQL backend ([`crate::postgres`]): in the database at
    /// `url`, one schema per region (`<namespace>_region_<region>`) and
    /// one for the tokens (`<namespace>_tokens`). Its `Debug` leaves the
    /// URL's password out.
    #[cfg(feature = "postgres")]
    Postgres {
        /// A `postgres://user[:password]@host[:port]/database` URL (or
        /// `key=value` settings), as the driver accepts it.
        url: String,
        /// Keeps deployments (and tests) sharing a database apart; see
        /// [`crate::postgres::is_namespace`].
        namespace: String,
    },
}

impl std::fmt::Debug for StoreConfig {
    // A URL may hold a password: show where it points only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => f
                .debug_struct("Sqlite")
                .field("data_dir", data_dir)
                .finish(),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => f
                .debug_struct("Postgres")
                .field("url", &crate::postgres::describe_url(url))
                .field("namespace", namespace)
                .finish(),
            #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
            _ => f.write_str("StoreConfig"),
        }
    }
}

impl StoreConfig {
    /// SQLite under `data_dir`.
    #[cfg(feature = "sqlite")]
    #[must_use]
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> Self {
        Self::Sqlite {
            data_dir: data_dir.into(),
        }
    }

    /// PostgreSQL at `url`, in `namespace` (see
    /// [`crate::postgres::DEFAULT_NAMESPACE`]). Nothing is checked or
    /// connected until a store is opened.
    #[cfg(feature = "postgres")]
    #[must_use]
    pub fn postgres(url: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self::Postgres {
            url: url.into(),
            namespace: namespace.into(),
        }
    }

    /// Opens the writer of `region`'s store, creating the store (and
    /// migrating it to this build's schema) on first use. The collector
    /// holds one per region for its writer thread and one for releases and
    /// audit entries; tools that append to the audit log open their own.
    ///
    /// # Errors
    /// [`StoreError::InvalidRegion`]; [`StoreError::TooNew`] for a store of
    /// a newer build; [`StoreError::Backend`] if it cannot be created,
    /// opened or migrated.
    pub fn open_region(&self, region: &str) -> Result<Box<dyn Store>, StoreError> {
        check_region(region)?;
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => Ok(Box::new(
                crate::sqlite::Layout::new(data_dir).open_region(region)?,
            )),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => Ok(Box::new(
                crate::postgres::Layout::new(url, namespace).open_region(region)?,
            )),
        }
    }

    /// Opens a reader of `region`'s store, which a writer created: it sees
    /// every batch committed before each read starts, and refuses writes.
    /// Readers run beside the writer without blocking it.
    ///
    /// # Errors
    /// [`StoreError::InvalidRegion`]; [`StoreError::TooNew`];
    /// [`StoreError::Backend`] if the region has no store (see
    /// [`StoreConfig::has_region`]) or it is not yet migrated.
    pub fn open_region_read_only(&self, region: &str) -> Result<Box<dyn Store>, StoreError> {
        check_region(region)?;
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => Ok(Box::new(
                crate::sqlite::Layout::new(data_dir).open_region_read_only(region)?,
            )),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => Ok(Box::new(
                crate::postgres::Layout::new(url, namespace).open_region_read_only(region)?,
            )),
        }
    }

    /// Whether `region` has a store (a writer opened it at least once).
    ///
    /// # Errors
    /// [`StoreError::InvalidRegion`]; [`StoreError::Backend`] if the
    /// backend cannot tell.
    pub fn has_region(&self, region: &str) -> Result<bool, StoreError> {
        check_region(region)?;
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => {
                Ok(crate::sqlite::Layout::new(data_dir).has_region(region))
            }
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => crate::postgres::Layout::new(url, namespace).has_region(region),
        }
    }

    /// Every region that has a store, sorted: for actions that concern all
    /// regions (a token scoped to all of them is logged in each one's audit
    /// log). None when the backend holds no data yet.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the backend cannot be listed.
    pub fn regions(&self) -> Result<Vec<String>, StoreError> {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => crate::sqlite::Layout::new(data_dir).regions(),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => crate::postgres::Layout::new(url, namespace).regions(),
        }
    }

    /// Where `region`'s store is, for log lines and the CLI's messages: for
    /// SQLite its file. Never a secret (a URL's password is left out). Not
    /// checked: describing a bad name is harmless and helps its message.
    #[must_use]
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unused_variables)
    )]
    pub fn describe_region(&self, region: &str) -> String {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => crate::sqlite::Layout::new(data_dir)
                .region_file(region)
                .display()
                .to_string(),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => crate::postgres::Layout::new(url, namespace).describe_region(region),
        }
    }

    /// Opens the token store, creating it on first use.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if it cannot be created or opened, or the
    /// place holds something that is not a Candor token store.
    pub fn open_tokens(&self) -> Result<Box<dyn TokenStore>, StoreError> {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => Ok(Box::new(
                crate::sqlite::Layout::new(data_dir).open_tokens()?,
            )),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => Ok(Box::new(
                crate::postgres::Layout::new(url, namespace).open_tokens()?,
            )),
        }
    }

    /// Whether the token store exists (a token was ever created): a reader
    /// of tokens checks this first, so it creates nothing (the collector
    /// starts before any token exists).
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the backend cannot tell.
    pub fn has_tokens(&self) -> Result<bool, StoreError> {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => Ok(crate::sqlite::Layout::new(data_dir).has_tokens()),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => crate::postgres::Layout::new(url, namespace).has_tokens(),
        }
    }

    /// Where the token store is, for messages (as
    /// [`StoreConfig::describe_region`]).
    #[must_use]
    pub fn describe_tokens(&self) -> String {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref data_dir } => crate::sqlite::Layout::new(data_dir)
                .tokens_file()
                .display()
                .to_string(),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => crate::postgres::Layout::new(url, namespace).describe_tokens(),
        }
    }
}

impl StoreConfig {
    /// Whether the backend answers now: for readiness probes. SQLite is
    /// always there (a missing data directory is created on first write);
    /// PostgreSQL must accept a connection and a query within its connect
    /// timeout (5 s unless the URL sets `connect_timeout`).
    ///
    /// # Errors
    /// [`StoreError::Backend`] saying why not.
    pub fn ping(&self) -> Result<(), StoreError> {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { .. } => Ok(()),
            #[cfg(feature = "postgres")]
            Self::Postgres {
                ref url,
                ref namespace,
            } => crate::postgres::Layout::new(url, namespace).ping(),
        }
    }
}

/// A configuration is its own fixture for the configuration suite
/// ([`crate::conformance::run_config`]).
impl AsRef<StoreConfig> for StoreConfig {
    fn as_ref(&self) -> &StoreConfig {
        self
    }
}

/// A private, empty store in memory, gone when dropped: for tests,
/// benchmarks and studies that need a throwaway store. It is the default
/// backend's (SQLite), configured and migrated exactly like a region's.
///
/// # Errors
/// [`StoreError::Backend`] if the backend fails (out of memory).
#[cfg(feature = "sqlite")]
pub fn open_in_memory() -> Result<Box<dyn Store>, StoreError> {
    Ok(Box::new(crate::sqlite::SqliteStore::open_in_memory()?))
}

/// Refuses a name that is not a region id.
fn check_region(region: &str) -> Result<(), StoreError> {
    if candor_schema::is_region_id(region) {
        Ok(())
    } else {
        Err(StoreError::InvalidRegion(region.to_owned()))
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn bad_region_names_open_and_create_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::sqlite(dir.path().join("data"));
        for bad in [
            "",
            "..",
            "../eu",
            "eu/x",
            "EU",
            "e u",
            "a".repeat(17).as_str(),
        ] {
            assert!(
                matches!(config.open_region(bad), Err(StoreError::InvalidRegion(_))),
                "{bad:?}"
            );
            assert!(matches!(
                config.open_region_read_only(bad),
                Err(StoreError::InvalidRegion(_))
            ));
            assert!(matches!(
                config.has_region(bad),
                Err(StoreError::InvalidRegion(_))
            ));
        }
        assert!(!dir.path().join("data").exists(), "nothing was created");
    }

    #[test]
    fn describe_names_the_file() {
        let config = StoreConfig::sqlite("d");
        assert_eq!(
            std::path::PathBuf::from(config.describe_region("eu")),
            std::path::Path::new("d")
                .join("eu")
                .join("aggregates.sqlite")
        );
        assert_eq!(
            std::path::PathBuf::from(config.describe_tokens()),
            std::path::Path::new("d").join("access.sqlite")
        );
    }
}
