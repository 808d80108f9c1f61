//! `candor client init`: validate a schema, a region's signing public key
//! and (optionally) a signed key list, and create a client directory from
//! them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use candor_protocol::{SignedKeyList, VerifyingKey};
use candor_schema::Checked;
use candor_sdk::Clock;

use super::file::{CLIENT_FILE, CLIENT_FORMAT, ClientFile, open_sdk, write_client_file};
use super::{join, refuse};

/// Creates the client directory `dir`; refuses an existing one unless `force`.
pub(super) fn init(
    dir: &Path,
    clock: Arc<dyn Clock>,
    schema_path: Option<&Path>,
    (key_path, list_path): (&Path, Option<&Path>),
    dimensions: Vec<(String, String)>,
    force: bool,
) -> Result<ExitCode> {
    let client_path = dir.join(CLIENT_FILE);
    if client_path.exists() && !force {
        bail!(
            "{} already exists; use --force to replace it",
            client_path.display()
        );
    }
    // Read the text once and validate exactly what is copied, with the
    // (possibly injected) clock's day for the expiry checks.
    let (origin, src) = match schema_path {
        Some(path) => {
            let origin = path.display().to_string();
            let src = fs::read_to_string(path).with_context(|| format!("reading {origin}"))?;
            (origin, src)
        }
        None => (
            "examples/browser.toml (built in)".to_owned(),
            crate::cmd::serve::BUILTIN_SCHEMA.to_owned(),
        ),
    };
    let schema = match candor_schema::parse(&src, &origin, clock.today().date()) {
        Ok(Checked { schema, warnings }) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            schema
        }
        Err(errors) => {
            for d in errors.errors.iter().chain(&errors.warnings) {
                eprintln!("{d}");
            }
            let n = errors.errors.len();
            return refuse(format!(
                "{origin}: invalid schema: {n} error{}",
                if n == 1 { "" } else { "s" }
            ));
        }
    };
    let key_bytes =
        fs::read(key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let signing_key = match VerifyingKey::from_json(&key_bytes) {
        Ok(k) => k,
        Err(e) => return refuse(format!("{}: {e}", key_path.display())),
    };
    if schema.region(signing_key.region()).is_none() {
        return refuse(format!(
            "the signing key is for region {:?}, which schema {} does not declare (regions: {})",
            signing_key.region(),
            schema.id,
            join(schema.regions.keys())
        ));
    }
    let key_list = match list_path {
        None => None,
        Some(path) => {
            let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            if let Err(e) = SignedKeyList::verify_json(&bytes, &signing_key, clock.now()) {
                return refuse(format!("{}: refused ({}): {e}", path.display(), e.code()));
            }
            Some(bytes)
        }
    };
    let mut dims = BTreeMap::new();
    for (id, raw) in dimensions {
        let Some(dimension) = schema.dimension(&id) else {
            return refuse(format!(
                "unknown dimension {id:?} (schema dimensions: {})",
                join(schema.dimensions.keys())
            ));
        };
        if dimension.coarsen(&raw).is_none() {
            return refuse(format!("dimension {id}: the schema does not allow {raw:?}"));
        }
        dims.insert(id, raw);
    }
    let file = ClientFile {
        format: CLIENT_FORMAT,
        schema_origin: origin,
        schema: src,
        region: signing_key.region().to_owned(),
        signing_key: signing_key.to_hex(),
        dimensions: dims,
        private_mode: false,
    };
    // Opening the SDK once checks the directory is usable before
    // client.json claims it.
    let sdk = open_sdk(dir, &file, schema.clone(), clock, None)?;
    if let Some(bytes) = &key_list {
        sdk.set_key_list(bytes)
            .map_err(|e| anyhow::anyhow!("the key list was refused: {e}"))?;
    }
    sdk.flush();
    drop(sdk);
    write_client_file(dir, &file, force)?;
    eprintln!(
        "Initialised {}: schema {} version {} (from {}), region {}, signing key {}{}.",
        dir.display(),
        schema.id,
        schema.version,
        file.schema_origin,
        file.region,
        file.signing_key,
        if key_list.is_some() {
            ", with a signed key list"
        } else {
            "; no key list yet (`upload` fetches one)"
        }
    );
    Ok(ExitCode::SUCCESS)
}
