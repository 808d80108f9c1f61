//! Candor's traffic generators: drive a collector the way a fleet of devices
//! would, to measure it and to fill it with realistic data.
//!
//! - [`load`] is the load generator behind `candor load`. It fetches the
//!   region's current key, builds N distinct reports that are valid for the
//!   schema ([`load::ReportGenerator`]), seals them all with the real
//!   protocol crate before the clock starts ([`load::preseal`]), groups them
//!   into upload bodies ([`load::group`]), and sends those over keep-alive
//!   HTTP/1.1 connections at a target rate ([`load::send`]). The result,
//!   [`load::LoadStats`], counts every report's verdict, every error
//!   response by status and code, and the per-request latency percentiles.
//!
//! - [`simulate`] is the fleet simulator behind `candor simulate` (and the
//!   demo): N simulated devices, each a real [`candor_sdk::Candor`]
//!   instance on an injected [`candor_sdk::ManualClock`], live through D
//!   days of realistic usage (skewed app popularity, weekday and weekend
//!   patterns, private browsing, child profiles, consent per purpose, a
//!   long tail of domains) and upload their reports with the SDK's own
//!   HTTP uploader. [`simulate::run`] returns a [`simulate::SimSummary`]
//!   with the collector's verdicts and the [`simulate::GroundTruth`]: what
//!   the devices really did, before and after consent and privacy, to
//!   measure released statistics against.
//! - [`keys`] fetches a region's public key from a collector; both use it.
//!
//! The load generator's steps before the clock starts run offline:
//!
//! ```
//! use candor_protocol::{Day, KeyPair, Opener};
//! use candor_sim::load;
//!
//! let schema = candor_schema::load("../../examples/browser.toml")?.schema;
//! let day = Day::from_ymd(2026, 11, 29).expect("a real day");
//! let keys = KeyPair::generate("eu", 1)?;
//!
//! // 250 valid reports, sealed on every core, in batches of 100.
//! let envelopes = load::preseal(&schema, keys.config(), day, 250, 7, false)?;
//! let bodies = load::group(envelopes, 100)?;
//! assert_eq!(bodies.iter().map(|b| b.reports).collect::<Vec<_>>(), [100, 100, 50]);
//!
//! // What the collector will open.
//! let opener = Opener::new("eu", [keys])?;
//! let first = candor_protocol::batch::decode(&bodies[0].bytes)?[0];
//! assert_eq!(opener.open(first)?.schema, "org.example.browser");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! and [`load::run`] does everything against a running collector:
//!
//! ```no_run
//! use candor_protocol::Day;
//! use candor_sim::load::{self, LoadConfig};
//!
//! let schema = candor_schema::load("examples/browser.toml")?.schema;
//! let day = Day::from_ymd(2026, 11, 29).expect("a real day");
//! // The region's signing public key, as `candor keygen` wrote it.
//! let signing = std::fs::read("candor-data/eu/keys/signing.public.json")?;
//! let signing = candor_protocol::VerifyingKey::from_json(&signing)?;
//! let mut config = LoadConfig::new("http://127.0.0.1:8750", signing, schema, day);
//! config.reports = 10_000;
//! config.batch_size = 100;
//! config.connections = 4;
//! config.rate = Some(2_000.0);
//! let stats = load::run(&config)?;
//! println!("{stats}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The simulator runs the same way against a collector (see
//! [`simulate`] for the usage model and what each day does):
//!
//! ```no_run
//! use candor_protocol::Day;
//! use candor_sim::simulate::{self, ProgressBarHooks, SimConfig};
//!
//! let schema = candor_schema::load("examples/browser.toml")?.schema;
//! let start = Day::from_ymd(2026, 11, 23).expect("a real day");
//! let mut config = SimConfig::new("http://127.0.0.1:8750", schema, start);
//! // Each region's signing key (the devices pin its public half).
//! let signing = std::fs::read("candor-data/eu/keys/signing.private.json")?;
//! config.signing_keys = vec![candor_protocol::SigningKey::from_private_json(&signing)?];
//! config.regions = vec![("eu".into(), 1.0)];
//! config.devices = 2_000;
//! config.days = 7;
//! let hooks = ProgressBarHooks::new(true);
//! let summary = simulate::run(&config, &hooks)?;
//! hooks.finish();
//! println!("{summary}");
//! summary.truth.write_json("truth.json".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`simulate::usage`] plays the same usage model offline, as metric
//! values, for tools that need millions of device-days (the accuracy
//! study in `bench/accuracy`).
//!
//! Who depends on this crate: the `candor` binary (`candor load`,
//! `candor simulate`, the demo) and the accuracy study. It depends on the
//! protocol, schema, values and SDK crates (the SDK with its `http`
//! uploader); nothing else of Candor may depend on it, and it never
//! depends on the collector.

#![deny(missing_docs)]

pub mod keys;
pub mod load;
pub mod simulate;
