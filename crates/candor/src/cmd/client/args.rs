//! The command line of `candor client`: its options, its subcommands and
//! their value parsers (`record`'s own arguments are in `record`).

use std::path::PathBuf;

use candor_protocol::Day;
use clap::{Args, Subcommand, ValueEnum};

use super::record::RecordArgs;

/// Arguments of `candor client`.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The client's data directory (required): holds client.json and the
    /// SDK's state, outbox and sent reports.
    #[arg(long, global = true, value_name = "DIR")]
    pub(super) dir: Option<PathBuf>,
    /// A fixed current time instead of the system clock: RFC 3339
    /// (2026-11-29T12:00:00Z), or YYYY-MM-DD meaning noon UTC that day.
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_now)]
    pub(super) now: Option<i64>,
    #[command(subcommand)]
    pub(super) command: ClientCommand,
}

/// The `client` subcommands.
#[derive(Debug, Subcommand)]
pub(super) enum ClientCommand {
    /// Create a client directory from a schema and a region's signing
    /// public key (and optionally its signed key list). Validates them (exit
    /// 1 listing the problems).
    Init {
        /// The data dictionary (TOML); its text is copied into client.json
        /// (default: the built-in example, examples/browser.toml, the one
        /// `candor serve` serves by default).
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
        /// The region's signing public key (`signing.public.json` from
        /// `candor keygen`); its region must be in the schema. Reports are
        /// sealed only to keys of a list it signed.
        #[arg(long, value_name = "signing.public.json")]
        signing_key: PathBuf,
        /// A signed key list to start with (`keys.signed.json` from `candor
        /// keygen`, or what the collector serves); without it, reports are
        /// sealed once `upload` has fetched one from the collector.
        #[arg(long, value_name = "keys.signed.json")]
        key_list: Option<PathBuf>,
        /// A raw context value, e.g. `app_version=121.0.6167.101`; coarsened
        /// by the schema's rule. Repeatable.
        #[arg(long = "dimension", value_name = "ID=VALUE", value_parser = parse_dimension)]
        dimensions: Vec<(String, String)>,
        /// Replace an existing client.json (the SDK's data in DIR is kept).
        #[arg(long)]
        force: bool,
    },
    /// Grant consent to a purpose (stores a receipt).
    Grant {
        /// The purpose id, e.g. `usage`.
        purpose: String,
    },
    /// Revoke consent to a purpose: its queued data is deleted at once.
    Revoke {
        /// The purpose id.
        purpose: String,
    },
    /// Switch the global opt-out (e.g. Global Privacy Control); `on` deletes
    /// everything queued.
    OptOut {
        /// `on` or `off`.
        state: Switch,
    },
    /// Switch the child profile (no collection at all); `on` deletes
    /// everything queued.
    Child {
        /// `on` or `off`.
        state: Switch,
    },
    /// Switch app-wide private mode: nothing is recorded for purposes not
    /// allowed in private mode. The SDK does not persist private mode; the
    /// client stores it in client.json and applies it every time it opens
    /// the SDK.
    Private {
        /// `on` or `off`.
        state: Switch,
    },
    /// Show the consent status of every purpose, and the private mode (JSON).
    Status,
    /// Record one value through a typed metric handle.
    Record(RecordArgs),
    /// End the current day now: build, seal and queue today's reports.
    /// Anything recorded later today is dropped.
    EndDay,
    /// Persist the aggregates and queue the reports of days that have ended
    /// (every command does this before it exits).
    Flush,
    /// Send the queued reports to a collector and print the upload summary
    /// (JSON: requests, accepted, rejected, remaining, retry_at).
    ///
    /// Exit 0 when nothing needed sending, when at least one report was
    /// delivered, or when the SDK is still backing off from an earlier
    /// failure and so made no request (retry_at says until when, and
    /// stderr says it in local time). Exit 3 when this pass made requests
    /// and none delivered a report: the collector was unreachable, asked
    /// to retry later (retry_at is then set and the reports stay queued)
    /// or refused the reports; stderr says which.
    ///
    /// After a failure the SDK backs off; an upload to another address
    /// than the one that failed, or with --force, tries at once.
    Upload {
        /// The collector's base URL (reports go to
        /// {URL}/v1/regions/{region}/reports); not used with --relay.
        #[arg(
            long,
            value_name = "BASE",
            env = "CANDOR_URL",
            default_value = "http://127.0.0.1:8750"
        )]
        url: String,
        /// Send through the Oblivious HTTP relay at this base URL instead
        /// (`candor relay`): the collector never sees this device's address.
        #[arg(long, value_name = "BASE")]
        relay: Option<String>,
        /// The gateway's key configuration list (`application/ohttp-keys`)
        /// to encapsulate to; without it, fetched through the relay.
        #[arg(long, value_name = "FILE", requires = "relay")]
        gateway_keys: Option<std::path::PathBuf>,
        /// Trust only the CA certificate(s) in this PEM file for an
        /// https:// URL, instead of the public CAs (a private deployment,
        /// a test CA). The collector's certificate is always verified.
        #[arg(long, value_name = "FILE", conflicts_with = "relay")]
        ca_cert: Option<std::path::PathBuf>,
        /// Try now even if an earlier failure set a backoff (retry_at): for
        /// when the cause is gone (the collector is up again).
        #[arg(long)]
        force: bool,
    },
    /// Print every report waiting to be sent (JSON array of the reports'
    /// plaintext, pretty-printed).
    Pending,
    /// Print the reports sent in the last N days (JSON array).
    Sent {
        /// How many days back.
        #[arg(long, default_value_t = 30, value_name = "N")]
        days: u32,
    },
    /// Print every consent grant and revocation made here (JSON array).
    Receipts,
    /// Print the SDK's error counters: metric id (`*` for the SDK, `*url`
    /// for dropped URLs by reason) → error code → count (JSON).
    Errors,
    /// Delete all collected data; consent receipts are kept.
    DeleteAll,
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Switch {
    On,
    Off,
}

impl Switch {
    pub(super) fn on(self) -> bool {
        self == Switch::On
    }
}

/// `--now`: RFC 3339, or `YYYY-MM-DD` for noon UTC that day, as Unix seconds.
pub(super) fn parse_now(text: &str) -> Result<i64, String> {
    if let Some(day) = Day::parse(text) {
        return Ok(day.noon());
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("expected RFC 3339 (2026-11-29T12:00:00Z) or YYYY-MM-DD: {e}"))
}

/// `--dimension ID=VALUE`.
pub(super) fn parse_dimension(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((id, value)) if !id.is_empty() => Ok((id.to_owned(), value.to_owned())),
        _ => Err("expected ID=VALUE, e.g. platform=android".to_owned()),
    }
}
