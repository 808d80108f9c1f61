//! Candor's value rules: what a report may hold under its data dictionary.
//!
//! The SDK applies these rules before it seals a report, and the collector
//! applies them again after it opens one, before anything is added to an
//! aggregate: both call the functions of this crate, so there is no second
//! copy to drift. A modified or foreign client therefore cannot turn a
//! hostname, an IP address or an undeclared value into a stored cell.
//!
//! - [`check_report`]: schema version, purpose, metrics, the dimension rule
//!   and every value ([`check_value`]), with a stable [`ValueError::code`].
//! - [`clamp`]: what the SDK sends of a value over the metric's bound;
//!   [`cells`]: the cells a value adds to (the collector's rows);
//!   [`choice_value`] / [`choice_index`]: a boolean's or category's value
//!   by its index (what local DP randomizes).
//! - [`domain`]: the canonical registrable domain; [`domain::of_host`] is
//!   what the SDK's URL sanitizer keeps of a host, and
//!   [`domain::check_canonical`] accepts exactly its outputs.
//!
//! ```
//! use candor_protocol::{Day, MetricValue, Report, ReportId};
//! # let schema = candor_schema::parse(include_str!("../../../examples/browser.toml"),
//! #     "browser.toml", time::macros::date!(2026 - 11 - 29)).unwrap().schema;
//! let mut report = Report::new(ReportId([7; 16]), "org.example.browser", 3,
//!     "browsing", 1, "eu", Day::from_ymd(2026, 11, 29).unwrap());
//! let domains = |d: &[&str]| MetricValue::DomainSet(d.iter().map(|s| s.to_string()).collect());
//! report.metrics.insert("browser.slow_domains".into(), domains(&["example.com"]));
//! assert!(candor_values::check_report(&schema, &report).is_ok());
//!
//! report.metrics.insert("browser.slow_domains".into(), domains(&["www.example.com"]));
//! let refused = candor_values::check_report(&schema, &report).unwrap_err();
//! assert_eq!(refused.code(), "value_out_of_bounds");
//! ```
//!
//! Who may depend on it: the SDK, the collector and tools that build or
//! check reports. It depends only on `candor-schema`, `candor-protocol` and
//! `candor-privacy` (its uniform sampling, for clamping domain sets) among
//! our crates.
#![deny(missing_docs)]

pub mod domain;
mod rules;

pub use rules::{
    ValueError, cells, check_activity_day, check_report, check_value, choice_index, choice_value,
    clamp,
};
