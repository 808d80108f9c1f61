//! `candor keygen`: create (or retire) a region's HPKE key pair.
//!
//! The key directory layout and its rules (0600 private keys, never
//! overwritten, next id for rotation, retirement markers) live in
//! `candor_collector::keys`, which the collector loads the same way.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use candor_collector::keys;
use clap::Args;

/// Arguments of `candor keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Region id the key is for (e.g. `eu`).
    #[arg(long)]
    region: String,
    /// The region's key directory; created if missing. With `candor serve`
    /// defaults it is `candor-data/<region>/keys`.
    #[arg(long)]
    out: PathBuf,
    /// Key id to use (0-255); by default the next one not yet in the directory.
    #[arg(long, conflicts_with = "retire")]
    key_id: Option<u8>,
    /// Retire this key id instead of creating one: devices stop getting it,
    /// and after the collector's grace period its reports are refused.
    #[arg(long)]
    retire: Option<u8>,
}

pub(crate) fn run(args: KeygenArgs) -> Result<ExitCode> {
    if let Some(id) = args.retire {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        keys::retire(&args.out, id, now)?;
        eprintln!("Retired key {id} in {}.", args.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let config = keys::generate(&args.out, &args.region, args.key_id)?;
    eprintln!(
        "Wrote key {} for region {} to {}.",
        config.key_id(),
        config.region(),
        args.out.display()
    );
    println!("{}", config.key_id());
    Ok(ExitCode::SUCCESS)
}
