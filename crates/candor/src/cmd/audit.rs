//! `candor audit`: read a region's audit log and check its hash chain.
//!
//! The log lives in the region's store (the collector's `Config::store`;
//! with SQLite `<data-dir>/<region>/aggregates.sqlite`), opened read-only,
//! so this works beside a running collector. The chain
//! and its checks are `candor_store::audit`'s. Someone able to write the
//! database could rewrite the whole chain consistently; the head printed by
//! `show` and kept somewhere else (`verify --head`) catches that.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use candor_collector::Config;
use candor_store::audit::{self, AuditEntry, Head};
use candor_store::{Store, StoreError};
use clap::{Args, Subcommand};

use super::ConfigArgs;

/// `candor audit …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Print a region's audit log (queries, token and key changes) and its
    /// head, to be written down elsewhere.
    Show(ShowArgs),
    /// Check a region's audit log: exit 0 if the hash chain is intact (and
    /// contains the given head), 1 naming the first broken entry.
    Verify(VerifyArgs),
}

/// Arguments of `candor audit show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The region whose log to show.
    #[arg(long)]
    region: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `candor audit verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The region whose log to check.
    #[arg(long)]
    region: String,
    /// A head printed earlier by `candor audit show`, as SEQ:HASH: the log
    /// must still hold that entry unchanged (this catches a chain rewritten
    /// consistently from the start).
    #[arg(long, value_name = "SEQ:HASH", value_parser = parse_head)]
    head: Option<Head>,
    #[command(flatten)]
    config: ConfigArgs,
}

fn parse_head(s: &str) -> Result<Head, String> {
    audit::parse_head(s).ok_or_else(|| "expected SEQ:HASH (64 hex digits)".to_owned())
}

pub(crate) fn run(command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Show(a) => show(a),
        AuditCommand::Verify(a) => verify(a),
    }
}

/// A reader of the region's store, which must exist.
fn open_store(config: &Config, region: &str) -> Result<Box<dyn Store>> {
    let stores = config.store();
    let place = stores.describe_region(region);
    match stores.has_region(region) {
        Err(StoreError::InvalidRegion(_)) => bail!("invalid region id {region:?}"),
        Err(e) => return Err(e).with_context(|| format!("cannot look for {place}")),
        Ok(false) => bail!("region {region:?} has no store (and so no audit log) at {place}"),
        Ok(true) => {}
    }
    stores
        .open_region_read_only(region)
        .with_context(|| format!("cannot open {place}"))
}

/// The whole log and the head the store recorded.
fn read_log(config: &Config, region: &str) -> Result<(Vec<AuditEntry>, Option<Head>)> {
    let store = open_store(config, region)?;
    store.audit_log().with_context(|| {
        format!(
            "cannot read the audit log in {}",
            config.store().describe_region(region)
        )
    })
}

fn show(args: ShowArgs) -> Result<ExitCode> {
    let config = args.config.load()?;
    let (entries, head) = read_log(&config, &args.region)?;
    let checked = audit::verify(&entries, head, None);
    if args.json {
        let body = candor_api::audit_log_json(&args.region, &entries, head, &checked);
        println!("{body:#}");
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("The audit log of {} is empty.", args.region);
    } else {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                vec![
                    e.seq.to_string(),
                    super::utc(e.record.at),
                    e.record.actor.clone(),
                    e.record.action.clone(),
                    e.record.detail.clone(),
                ]
            })
            .collect();
        print!(
            "{}",
            super::table(&["seq", "time (UTC)", "actor", "action", "detail"], &rows)
        );
    }
    println!();
    match &checked {
        Ok(n) => println!("chain: intact ({n} entries)"),
        Err(b) => println!("chain: BROKEN at entry {}: {}", b.seq, b.reason),
    }
    match head {
        Some(h) => {
            let head = audit::format_head(&h);
            println!("head:  {head}");
            eprintln!(
                "Write this head down somewhere else (a ticket, a notebook, a published page): \
                 `candor audit verify --region {} --head {head}` later proves that no entry up \
                 to {} was changed, removed or rewritten.",
                args.region, h.seq
            );
        }
        None => println!("head:  none (no entry yet)"),
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let config = args.config.load()?;
    let (entries, head) = read_log(&config, &args.region)?;
    match audit::verify(&entries, head, args.head) {
        Ok(n) => {
            let head = head.map_or_else(|| "none".to_owned(), |h| audit::format_head(&h));
            let pinned = args
                .head
                .map(|p| format!(", contains the given head {}", p.seq))
                .unwrap_or_default();
            println!(
                "audit log of {}: {n} {}, chain intact{pinned}, head {head}",
                args.region,
                if n == 1 { "entry" } else { "entries" },
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(b) => {
            println!(
                "audit log of {} is BROKEN at entry {}: {}",
                args.region, b.seq, b.reason
            );
            Ok(ExitCode::from(1))
        }
    }
}
