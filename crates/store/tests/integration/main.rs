//! Integration tests of candor-store, one binary; each backend's modules
//! are built with its feature:
//!
//! - `conformance` (`sqlite`): the backend-neutral suites against SQLite:
//!   the store suite in memory, in a WAL file and through the factory; the
//!   token suite in memory and in a file; the configuration suite (several
//!   handles, racing writers) on a fresh data directory;
//! - `sqlite` (`sqlite`): what only the SQLite adapter promises:
//!   migrations, refusal of newer or foreign databases, the read-only
//!   handle, durability across reopen and across a process that dies
//!   without closing, schema shape;
//! - `postgres` (`postgres`): the same suites against PostgreSQL, each case
//!   in a fresh namespace dropped afterwards (skipped, loudly, when no
//!   server answers), and what only that adapter promises: migrations
//!   under a lock, refusals, reconnection, concurrent writers;
//! - `guarded`: handles that own their temporary directory or namespace.

#[cfg(feature = "sqlite")]
mod conformance;
#[allow(dead_code)]
mod guarded;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
