//! `candor`: the command line for Candor.
//!
//! Thin glue over the library crates: every subcommand lives in its own
//! module under `cmd/`, parses its arguments with clap, and reports errors
//! through `anyhow`. `main` prints an error once (a cause already quoted by
//! the message above it is not repeated), with a hint when the cause has a
//! known next step, and maps the outcome to an exit code: 0 on success,
//! 1 when the input was checked and found wrong (for example an invalid
//! schema, a broken audit chain, or a query the collector refused), 2 for
//! usage errors and anything that stopped the command, and 3
//! when `client upload` made requests and none delivered a report.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Candor: privacy-preserving usage analytics.
#[derive(Debug, Parser)]
#[command(
    name = "candor",
    version,
    about,
    propagate_version = true,
    before_help = START_HERE
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The first lines of `candor --help`: a new user's first command.
const START_HERE: &str = "\
New here? Start with `candor demo`: it runs a collector, keys, tokens and a
simulated fleet of 2,000 devices, prints what was released, and serves the
dashboard until Ctrl-C. README.md goes on from there.";

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole system in one command: a collector, keys, tokens, a
    /// simulated fleet, a summary of what was released, and the dashboard
    /// (until Ctrl-C).
    Demo(cmd::demo::DemoArgs),
    /// Check a data dictionary or render its public privacy page.
    #[command(subcommand)]
    Schema(cmd::schema::SchemaCommand),
    /// Generate (or retire) an HPKE key pair of a region.
    Keygen(cmd::keygen::KeygenArgs),
    /// Run the regional collector.
    Serve(cmd::serve::ServeArgs),
    /// Run an Oblivious HTTP relay in front of one collector's gateway, so
    /// that the collector never sees a device's address (for a third party
    /// to run).
    Relay(cmd::relay::RelayArgs),
    /// Drive an SDK instance from the shell: consent, recording, day end,
    /// upload, and the reports as JSON.
    #[command(after_help = cmd::client::AFTER_HELP)]
    Client(cmd::client::ClientArgs),
    /// Load-test a collector: seal N valid reports, send them at a target
    /// rate, and print accepted/s, latency percentiles and errors by code.
    Load(cmd::load::LoadArgs),
    /// Simulate a fleet of devices (real SDK instances on simulated time)
    /// uploading to a collector, and write what they really did.
    #[command(after_help = cmd::simulate::AFTER_HELP)]
    Simulate(cmd::simulate::SimulateArgs),
    /// Create, list and revoke the bearer tokens of the analyst API (on the
    /// collector's machine, in its data directory).
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// Ask a collector a question about one metric and print the
    /// privately released answer (table, JSON or CSV).
    Query(cmd::query::QueryArgs),
    /// Show a region's audit log or verify its hash chain.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Check a running collector from outside (its URL, a region, the
    /// region's signing public key and an auditor token): schema against
    /// the published privacy page, signed audit head and chain, daily ε,
    /// ledger against the logged releases. Prints a pass/fail table.
    Verify(cmd::verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Schema(c) => cmd::schema::run(c),
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Relay(a) => cmd::relay::run(a),
        Command::Client(a) => cmd::client::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Load(a) => cmd::load::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Token(c) => cmd::token::run(c),
        Command::Query(a) => cmd::query::run(a),
        Command::Audit(c) => cmd::audit::run(c),
        Command::Verify(a) => cmd::verify::run(a),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cmd::errors::message(&error));
            if let Some(hint) = cmd::errors::hint(&error) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}
