//! The `[store]` section of the configuration: which backend holds the
//! aggregates, ledger, release cache, audit log and tokens.
//!
//! ```toml
//! [store]
//! backend = "postgres"        # or "sqlite" (the default)
//! url = "postgres://candor@db.internal:5432/candor"
//! namespace = "candor"        # keeps deployments sharing a database apart
//! ```
//!
//! `candor` also takes the URL from `--store-url` or `CANDOR_STORE_URL`,
//! which select PostgreSQL (a URL may hold a password: better kept out of
//! the file).

use std::fmt;

use serde::Deserialize;

/// Which backend, and where.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// `sqlite` (one database per region under `data_dir`, nothing to run)
    /// or `postgres` (a shared server, for several collectors or workers).
    pub backend: Backend,
    /// PostgreSQL only: `postgres://user[:password]@host[:port]/database`.
    pub url: Option<String>,
    /// PostgreSQL only: the prefix of the schemas (`<namespace>_region_<region>`,
    /// `<namespace>_tokens`); 1-32 characters of a-z and 0-9.
    pub namespace: String,
}

/// The storage backends this build has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Backend {
    /// Embedded SQLite under `data_dir`.
    #[default]
    Sqlite,
    /// PostgreSQL at `url` (built with the `postgres` feature).
    #[cfg(feature = "postgres")]
    Postgres,
}

/// The namespace used when none is configured.
fn default_namespace() -> String {
    "candor".into()
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            backend: Backend::Sqlite,
            url: None,
            namespace: default_namespace(),
        }
    }
}

impl fmt::Debug for StoreSection {
    // The URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSection")
            .field("backend", &self.backend)
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl StoreSection {
    /// PostgreSQL at `url` (what `--store-url` and `CANDOR_STORE_URL`
    /// select), keeping the namespace.
    ///
    /// # Errors
    /// When this build has no PostgreSQL backend.
    pub fn use_postgres(&mut self, url: String) -> Result<(), String> {
        #[cfg(feature = "postgres")]
        {
            self.backend = Backend::Postgres;
            self.url = Some(url);
            Ok(())
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = url;
            Err("this build has no PostgreSQL store (feature `postgres`)".into())
        }
    }

    /// Checks the section's fields agree with its backend.
    ///
    /// # Errors
    /// What is wrong, naming the field.
    pub fn check(&self) -> Result<(), String> {
        match self.backend {
            Backend::Sqlite => {
                if self.url.is_some() {
                    return Err(
                        "store.url is only for backend = \"postgres\" (SQLite lives in data_dir)"
                            .into(),
                    );
                }
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                if self.url.as_deref().is_none_or(str::is_empty) {
                    return Err("store.backend = \"postgres\" needs store.url".into());
                }
                if !candor_store::postgres::is_namespace(&self.namespace) {
                    return Err(format!(
                        "store.namespace {:?} must be 1-32 characters of a-z and 0-9, \
                         starting with a letter",
                        self.namespace
                    ));
                }
            }
        }
        Ok(())
    }

    /// The store configuration, with `data_dir` for SQLite.
    pub fn store_config(&self, data_dir: &std::path::Path) -> candor_store::StoreConfig {
        match self.backend {
            Backend::Sqlite => candor_store::StoreConfig::sqlite(data_dir),
            #[cfg(feature = "postgres")]
            Backend::Postgres => candor_store::StoreConfig::postgres(
                self.url.clone().unwrap_or_default(),
                self.namespace.clone(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_is_the_default_and_takes_no_url() {
        let section = StoreSection::default();
        assert_eq!(section.check(), Ok(()));
        assert_eq!(
            section.store_config(std::path::Path::new("d")),
            candor_store::StoreConfig::sqlite("d")
        );
        let with_url = StoreSection {
            url: Some("postgres://h/db".into()),
            ..StoreSection::default()
        };
        assert!(with_url.check().is_err());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_needs_a_url_and_a_valid_namespace() {
        let mut section: StoreSection = toml::from_str("backend = \"postgres\"").unwrap();
        assert!(section.check().unwrap_err().contains("store.url"));
        section.url = Some("postgres://ana:s3cret@db/candor".into());
        assert_eq!(section.check(), Ok(()));
        assert!(!format!("{section:?}").contains("s3cret"));
        assert_eq!(
            section.store_config(std::path::Path::new("unused")),
            candor_store::StoreConfig::postgres("postgres://ana:s3cret@db/candor", "candor")
        );
        section.namespace = "Prod_1".into();
        assert!(section.check().unwrap_err().contains("namespace"));
    }

    #[test]
    fn the_section_is_checked_when_the_file_is_parsed() {
        let err = crate::Config::parse("[store]\nurl = \"postgres://h/db\"\n").unwrap_err();
        assert!(err.contains("store.url"), "{err}");
        let err = crate::Config::parse("[store]\nbackend = \"mysql\"\n").unwrap_err();
        assert!(err.contains("backend"), "{err}");
        #[cfg(feature = "postgres")]
        {
            let config = crate::Config::parse(
                "[store]\nbackend = \"postgres\"\nurl = \"postgres://h/db\"\nnamespace = \"prod\"\n",
            )
            .unwrap();
            assert_eq!(
                config.store(),
                candor_store::StoreConfig::postgres("postgres://h/db", "prod")
            );
        }
    }
}
