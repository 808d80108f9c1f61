//! Integration tests of candor-store, one binary:
//!
//! - `conformance`: the backend-neutral suites against SQLite: the store
//!   suite in memory, in a WAL file and through the factory; the token
//!   suite in memory and in a file; the configuration suite (several
//!   handles, racing writers) on a fresh data directory;
//! - `sqlite`: what only the SQLite adapter promises: migrations, refusal
//!   of newer or foreign databases, the read-only handle, durability across
//!   reopen and across a process that dies without closing, schema shape.

mod conformance;
mod sqlite;
