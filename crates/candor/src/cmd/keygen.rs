//! `candor keygen`: create a region's HPKE key pair.
//!
//! A region's key directory holds, per key id, a private key file
//! `key-NNN.private.json` (mode 0600) and the public key config
//! `key-NNN.config.json` that devices pin. Generating a key never overwrites
//! one: with keys already present it adds the next free id, which is how a
//! region rotates keys.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use candor_protocol::{KeyConfig, KeyPair};
use clap::Args;

/// Arguments of `candor keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Region id the key is for (e.g. `eu`).
    #[arg(long)]
    region: String,
    /// The region's key directory; created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Key id to use (0-255); by default the next one not yet in the directory.
    #[arg(long)]
    key_id: Option<u8>,
}

pub(crate) fn run(args: KeygenArgs) -> Result<ExitCode> {
    let config = generate(&args.out, &args.region, args.key_id)?;
    eprintln!(
        "Wrote key {} for region {} to {}.",
        config.key_id(),
        config.region(),
        args.out.display()
    );
    println!("{}", config.key_id());
    Ok(ExitCode::SUCCESS)
}

/// Existing key configs in `dir`, as (key id, config).
fn existing_configs(dir: &Path) -> Result<Vec<KeyConfig>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("key-") && name.ends_with(".config.json") {
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            out.push(
                KeyConfig::from_json(&bytes)
                    .with_context(|| format!("parsing {}", path.display()))?,
            );
        }
    }
    Ok(out)
}

/// Generates and stores a key pair for `region` in `dir`, returning its
/// public config. Refuses a directory holding another region's keys and an
/// id already in use.
pub(crate) fn generate(dir: &Path, region: &str, key_id: Option<u8>) -> Result<KeyConfig> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let existing = existing_configs(dir)?;
    if let Some(other) = existing.iter().find(|c| c.region() != region) {
        bail!(
            "{} holds keys of region {:?}; each region needs its own key directory",
            dir.display(),
            other.region()
        );
    }
    let used: Vec<u8> = existing.iter().map(KeyConfig::key_id).collect();
    let key_id = match key_id {
        Some(id) if used.contains(&id) => bail!(
            "key {id} already exists in {}; keys are never overwritten",
            dir.display()
        ),
        Some(id) => id,
        None => {
            let start = used.iter().max().map_or(1, |m| m.wrapping_add(1));
            (0..=255u8)
                .map(|i| start.wrapping_add(i))
                .find(|id| !used.contains(id))
                .context("all 256 key ids are in use; retire old keys first")?
        }
    };
    let pair = KeyPair::generate(region, key_id).context("generating the key pair")?;
    let stem = format!("key-{key_id:03}");
    write_new(
        &dir.join(format!("{stem}.private.json")),
        pair.to_private_json().as_bytes(),
        0o600,
    )?;
    write_new(
        &dir.join(format!("{stem}.config.json")),
        pair.config().to_json().as_bytes(),
        0o644,
    )?;
    Ok(pair.config().clone())
}

/// Writes a file that must not exist yet, atomically: the content goes to a
/// temporary file with its final mode, is synced, then hard-linked into place
/// (which fails if the name is taken), so a crash leaves either no file or a
/// complete one, and an existing key is never replaced.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked.with_context(|| {
        format!(
            "{} already exists; keys are never overwritten",
            path.display()
        )
    })?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent).and_then(|d| d.sync_all()).ok();
    }
    Ok(())
}
