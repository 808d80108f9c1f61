//! `candor client`: drive an SDK instance from the shell.
//!
//! So the SDK can be tried and scripted without writing Rust. A client
//! directory holds `client.json` (written by `init`: the schema's TOML text,
//! the region's signing public key, the raw dimension values and the private
//! mode switch) next to the SDK's own files (consent receipts, day
//! aggregates, outbox, sent reports).
//!
//! Every command but `init` is one short SDK session: load `client.json`,
//! open the SDK without a background thread, bring it up to date with the
//! clock (days that have ended become reports), do one thing, and `flush()`
//! before exiting so nothing recorded is lost. `--now` replaces the system
//! clock with a fixed one so scripts and tests can walk through days.
//!
//! Recording calls the SDK, whose recording never fails; the client says
//! what the SDK cannot: when nothing was recorded (consent not granted,
//! private mode, or an error the SDK counted: unknown metric or label,
//! wrong type, negative value, dropped URL, ...) a warning on stderr says
//! why in words, with the error code and a hint, and the exit status is 1;
//! a value above the metric's per-report bound is flagged as clamped. An
//! upload that fails, or is held back by the SDK's backoff, says so on
//! stderr with the retry time in local time and how to override it.
//!
//! Nothing here prints or stores a private key or token: `client.json` holds
//! only the region's signing public key; the SDK keeps the signed key list
//! it verified (`key-list.json`).
//!
//! The pieces: `args` is the command line, `file` the `client.json` file and
//! opening the SDK from it, `init` creates a client directory, `session`
//! runs every other command in one SDK session, `record` is the recording
//! call, `show` prints what the commands show, and `words` says the SDK's
//! error codes in words.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use candor_sdk::{Clock, ManualClock, SystemClock};

mod args;
mod file;
mod init;
mod record;
mod session;
mod show;
mod words;

#[cfg(test)]
mod tests;

pub(crate) use args::ClientArgs;

use args::ClientCommand;
use init::init;
use session::Session;

/// Exit status of `record` when nothing was recorded (the input was checked
/// and refused).
const NOTHING_RECORDED: u8 = 1;

/// Exit status of `upload` when it made requests and none delivered a report.
const UPLOAD_FAILED: u8 = 3;

/// Shown after `candor client --help`.
pub(crate) const AFTER_HELP: &str = "\
Every command needs --dir. Commands that show something print JSON on stdout;
notes and warnings go to stderr.

Exit status: 0 success (a value above the metric's bound is recorded, and
clamped in the report: a warning says so); 1 the input was checked and
refused (invalid schema, signing key, key list or dimension, unknown purpose;
`record` when nothing was recorded: no consent, private mode, unknown metric
or label, wrong type, negative value, dropped URL, with the reason on
stderr); 2 usage errors and anything that stopped the command (missing or
unreadable files, re-init without --force); 3 `upload` made requests and none
delivered a report (collector unreachable, asked to retry later, or refused
the reports; stderr says which, and until when the SDK backs off).";

/// Runs a `client` subcommand. Exit codes: see [`AFTER_HELP`].
pub(crate) fn run(args: ClientArgs) -> Result<ExitCode> {
    // clap cannot make a global option required, so it is checked here.
    let Some(dir) = args.dir else {
        bail!("the --dir DIR option is required for every `candor client` command");
    };
    let clock: Arc<dyn Clock> = match args.now {
        Some(now) => Arc::new(ManualClock::new(now)),
        None => Arc::new(SystemClock),
    };
    match args.command {
        ClientCommand::Init {
            schema,
            signing_key,
            key_list,
            dimensions,
            force,
        } => init(
            &dir,
            clock,
            schema.as_deref(),
            (&signing_key, key_list.as_deref()),
            dimensions,
            force,
        ),
        command => Session::open(&dir, clock, &command)?.run(command),
    }
}

/// Prints `error: {message}` and returns exit status 1: the input was
/// checked and refused.
fn refuse(message: impl std::fmt::Display) -> Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(1))
}

/// Ids as a comma-separated list, for messages.
fn join<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(String::as_str).collect::<Vec<_>>().join(", ")
}
