//! Candor's regional collector.
//!
//! Each region the collector serves has its own keys ([`keys`]) and its own
//! store; a report is opened only with its region's key and stored only in
//! its region's database. The crate's parts, each with one job:
//!
//! - [`ingest`]: the write side, a pipeline of stages (front → open →
//!   validate → sink) independent of HTTP; [`validate`] holds the data
//!   dictionary checks, [`ingest::writer`] the group-commit sink.
//! - [`analyst`]: the read side, the only owner of the stores' release
//!   paths: queries through the [`release`] engine, budget, audit and
//!   overview views. No public item hands out a store.
//! - [`http`] and [`dashboard`]: thin renderers of the two sides (JSON,
//!   problem+json, HTML).
//! - [`server`]: start and stop ([`Collector::start`]); [`jobs`]:
//!   retention and key reloads; [`access`]: tokens; [`calendar`]: the day
//!   window; [`config`], [`error`], [`metrics`].
//! - [`gateway`]: the Oblivious HTTP gateway (RFC 9458), one more front
//!   of the same pipeline: it decapsulates a request a relay forwarded
//!   and hands it to the device-facing routes.
//! - [`queue`]: scale-out, the `front` and `worker` roles over NATS
//!   JetStream (feature `queue`); the stream holds sealed envelopes only.
//!
//! The plaintext report never leaves the validate stage. Nothing logs or
//! stores an IP address, a user agent, a header value or a payload.
#![deny(missing_docs)]

pub mod access;
pub mod analyst;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod gateway;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod keys;
pub mod metrics;
pub mod queue;
pub mod release;
pub mod server;
pub mod store_config;
#[cfg(test)]
mod test_support;
pub mod validate;

pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use error::Rejection;
pub use ingest::ReportOutcome;
pub use server::{Collector, LOCK_FILE, Running, StartError};
