//! Integration tests of the collector through its real HTTP server, one binary:
//! - `activity`: a foreign client's activity values accepted and counted,
//!   impossible ones refused (`impossible_activity`);
//! - `end_to_end`: SDK devices in two regions upload; stored aggregates equal
//!   the reports exactly, and no region holds another's data;
//! - `codes`: one list of error codes in the code, docs/wire.md and docs/api.md;
//! - `rejections`: every error code, with the database unchanged;
//! - `strict_api`: the upload media type (415), problem+json for every
//!   error, authentication before parameters, strict parameters, and
//!   `too_large` naming its limit;
//! - `value_rules`: every value rule (canonical domains, schema version,
//!   empty reports, the dimension rule, bounds) refused at the door for a
//!   `foreign` client built from docs/wire.md alone;
//! - `schemas`: two schemas by id, and an older schema version;
//! - `config`: the sample configuration in docs/ and config errors;
//! - `privacy`: client addresses, user agents and cookies are never stored
//!   or logged (in scale-out: nor queued in JetStream or stored in PostgreSQL);
//! - `api`: the OpenAPI document lists exactly the routes; keys, schema,
//!   privacy page, health and metrics endpoints;
//! - `dashboard`: sign-in with CSRF, security headers, the explorer's
//!   numbers equal to the query API's, admin-only audit page;
//! - `query`: the analyst API: noisy answers, scope (403), revocation
//!   (401), CSV, cached repeats, budget and audit endpoints, no token in
//!   plain form on disk or in logs;
//! - `lifecycle`: overload answers 503 with Retry-After, shutdown commits
//!   what was accepted, key rotation and retirement, retention;
//! - `supervision`: an auditor token reads the audit log and the ledger
//!   and is refused every data query (API and dashboard); the signed audit
//!   head is public and follows every append;
//! - `postgres` (feature `postgres`; skipped without a server): a collector
//!   on PostgreSQL ingests, releases and audits from its async runtime, and
//!   `/readyz` fails while the database is unreachable.
//! - `queue` (feature `queue`, real NATS JetStream): the `front` and
//!   `worker` roles, `queued`, dropped reports, redelivery, an unreachable
//!   queue, no key generation, two workers sharing a PostgreSQL store;
//! - `tls`: `[tls]` with a test CA: the SDK's uploader delivers only when
//!   it trusts the certificate; unloadable TLS files create nothing.

mod activity;
mod api;
mod codes;
mod common;
mod config;
mod dashboard;
mod end_to_end;
mod foreign;
mod lifecycle;
#[cfg(feature = "postgres")]
mod postgres;
mod privacy;
mod query;
#[cfg(feature = "queue")]
mod queue;
mod rejections;
mod schemas;
mod strict_api;
mod supervision;
mod tls;
mod value_rules;
