//! Integration tests of candor-store, one binary:
//!
//! - `conformance`: the backend-neutral suite against SQLite in memory and
//!   SQLite in a WAL file;
//! - `sqlite`: what only the SQLite adapter promises: migrations, refusal
//!   of newer or foreign databases, the read-only handle, durability across
//!   reopen and across a process that dies without closing, schema shape.

mod conformance;
mod sqlite;
