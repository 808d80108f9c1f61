//! `candor keygen`: create (or retire) a region's HPKE key pair, and the
//! region's signing key the first time; either way it signs the region's
//! new key list (`keys.signed.json`, docs/wire.md §5.2), which is what the
//! collector serves to devices.
//!
//! The key directory layout and its rules (0600 private keys, never
//! overwritten, next id for rotation, retirement markers) live in
//! `candor_collector::keys`, which the collector loads the same way.
//!
//! In the collector's layout (`--out <data-dir>/<region>/keys`) each key
//! generated or retired is also appended to the region's audit log, in its
//! store in that data directory (with SQLite
//! `<data-dir>/<region>/aggregates.sqlite`), with the key's public config
//! (docs/api.md, "Key history").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use candor_collector::{access, keys};
use candor_protocol::SigningKey;
use candor_store::{AuditRecord, StoreConfig};
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
    /// The collector's PostgreSQL store, whose audit log records the key
    /// change (as `candor serve --store-url`); also read from
    /// `CANDOR_STORE_URL`. Without it, the SQLite store of the data
    /// directory the key directory is in.
    #[arg(long)]
    store_url: Option<String>,
}

pub(crate) fn run(args: KeygenArgs) -> Result<ExitCode> {
    let now = super::now();
    if let Some(id) = args.retire {
        let config = keys::load_public(&args.out)?
            .into_iter()
            .find(|k| k.config.key_id() == id)
            .map(|k| k.config)
            .with_context(|| format!("no key {id} in {}", args.out.display()))?;
        keys::retire(&args.out, id, now)?;
        eprintln!("Retired key {id} in {}.", args.out.display());
        audit(&args, "key.retire", keys::retire_detail(&config, now), now)?;
        match keys::load_signing_key(&args.out)? {
            Some(signing) => sign_list(&args.out, &signing, now)?,
            None => eprintln!(
                "Note: {} has no signing key, so the served key list was not re-signed.",
                args.out.display()
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = keys::generate(&args.out, &args.region, args.key_id)?;
    eprintln!(
        "Wrote key {} for region {} to {}.",
        config.key_id(),
        config.region(),
        args.out.display()
    );
    audit(&args, "key.generate", keys::generate_detail(&config), now)?;
    let (signing, created) = keys::ensure_signing_key(&args.out, &args.region)?;
    eprintln!(
        "{} signing key of region {} (the public half is what apps pin): {}",
        if created { "New" } else { "The" },
        signing.region(),
        signing.verifying_key().to_hex()
    );
    sign_list(&args.out, &signing, now)?;
    println!("{}", config.key_id());
    Ok(ExitCode::SUCCESS)
}

/// Signs the directory's active keys as the region's key list, so that the
/// collector (a `front` too, which cannot sign) serves the change.
fn sign_list(out: &Path, signing: &SigningKey, now: i64) -> Result<()> {
    let active = keys::active_configs(out)?;
    match keys::refresh_key_list(out, signing, &active, now)? {
        Some(_) => eprintln!(
            "Signed the key list ({} active key(s)) in {}.",
            active.len(),
            out.join(keys::KEY_LIST_FILE).display()
        ),
        None => eprintln!("Note: no active key left, so no key list was signed."),
    }
    Ok(())
}

/// The stores of the data directory when `out` is
/// `<data-dir>/<region>/keys`, the layout of `candor serve`.
fn store_of(out: &Path, region: &str, store_url: Option<&str>) -> Result<Option<StoreConfig>> {
    let Some(data_dir) = data_dir_of(out, region) else {
        return Ok(None);
    };
    // The same backend as the collector's, `Config::store`.
    let mut config = candor_collector::Config {
        data_dir,
        ..candor_collector::Config::default()
    };
    super::apply_store_url(&mut config, store_url)?;
    Ok(Some(config.store()))
}

/// The data directory when `out` is `<data-dir>/<region>/keys`.
fn data_dir_of(out: &Path, region: &str) -> Option<PathBuf> {
    let out = std::path::absolute(out).ok()?;
    if out.file_name()? != "keys" {
        return None;
    }
    let region_dir = out.parent()?;
    (region_dir.file_name()? == region).then(|| region_dir.parent().map(Path::to_owned))?
}

/// Appends `action` with `detail` to the region's audit log, or says why
/// there is none.
fn audit(args: &KeygenArgs, action: &str, detail: String, now: i64) -> Result<()> {
    let (out, region) = (&args.out, args.region.as_str());
    let Some(store) = store_of(out, region, args.store_url.as_deref())? else {
        eprintln!(
            "Note: {} is not a collector's key directory (<data-dir>/{region}/keys), \
             so no audit log was written.",
            out.display()
        );
        return Ok(());
    };
    let record = AuditRecord {
        at: now,
        actor: "cli".into(),
        action: action.into(),
        detail,
    };
    access::audit_to(&store, region, &record).with_context(|| {
        format!(
            "the key changed, but its audit entry could not be written to {}",
            store.describe_region(region)
        )
    })?;
    eprintln!("Logged {action} in the audit log of region {region}.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_serve_layout_has_a_store() {
        let dir = |out: &str| data_dir_of(Path::new(out), "eu");
        assert_eq!(dir("/d/eu/keys"), Some(PathBuf::from("/d")));
        assert_eq!(dir("/d/eu/keys/"), Some(PathBuf::from("/d")));
        assert_eq!(dir("/d/in/keys"), None);
        assert_eq!(dir("/d/keys/eu"), None);
    }

    #[test]
    fn a_store_url_puts_the_audit_entry_in_postgres() {
        let store = store_of(
            Path::new("/d/eu/keys"),
            "eu",
            Some("postgres://ana:s3cret@db/candor"),
        )
        .expect("a valid URL")
        .expect("the serve layout");
        let described = store.describe_region("eu");
        assert!(described.contains("db"), "{described}");
        assert!(!described.contains("s3cret"), "{described}");
        assert!(!described.contains("aggregates.sqlite"), "{described}");
    }
}
