//! `client.json`, the client's own file (schema text, public key config, raw
//! dimension values, private mode), written atomically, and opening the SDK
//! it describes.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use candor_protocol::VerifyingKey;
use candor_schema::Schema;
use candor_sdk::{Candor, Clock, Config};
use serde::{Deserialize, Serialize};

/// The name of the client's own file inside `--dir`.
pub(super) const CLIENT_FILE: &str = "client.json";

/// The format version written into `client.json`.
pub(super) const CLIENT_FORMAT: u32 = 2;

/// What `client.json` holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientFile {
    /// Format version of this file ([`CLIENT_FORMAT`]).
    pub(super) format: u32,
    /// Where the schema was copied from (for messages only).
    pub(super) schema_origin: String,
    /// The data dictionary's TOML text, copied at init so that later edits
    /// of the original do not change what this client records.
    pub(super) schema: String,
    /// The device's region.
    pub(super) region: String,
    /// The region's signing public key (hex): reports are sealed only to
    /// keys of a list it signed. Never a private key.
    pub(super) signing_key: String,
    /// Raw dimension values, coarsened by the SDK when it opens.
    #[serde(default)]
    pub(super) dimensions: BTreeMap<String, String>,
    /// App-wide private mode. The SDK does not persist it, so the client
    /// keeps it here and applies it on every open.
    #[serde(default)]
    pub(super) private_mode: bool,
}

/// Writes `client.json` atomically: a synced temporary file, then a rename
/// (`replace`) or a hard link that fails if the name is taken, then a synced
/// directory. A crash leaves the old file or the new one, never a mixture.
pub(super) fn write_client_file(dir: &Path, file: &ClientFile, replace: bool) -> Result<()> {
    let path = dir.join(CLIENT_FILE);
    let tmp = dir.join(format!(".{CLIENT_FILE}.tmp"));
    let mut bytes = serde_json::to_vec_pretty(file).context("encoding client.json")?;
    bytes.push(b'\n');
    let written = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()
    })();
    written.with_context(|| format!("writing {}", tmp.display()))?;
    let placed = if replace {
        fs::rename(&tmp, &path)
    } else {
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        linked
    };
    placed.with_context(|| format!("writing {}", path.display()))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// Opens the SDK for a client directory: no background thread, and the
/// private mode `client.json` keeps.
pub(super) fn open_sdk(
    dir: &Path,
    file: &ClientFile,
    schema: Schema,
    clock: Arc<dyn Clock>,
    uploader: Option<Arc<dyn candor_sdk::Uploader>>,
) -> Result<Candor> {
    let signing_key = VerifyingKey::from_hex(&file.region, &file.signing_key)
        .with_context(|| format!("{} holds an invalid signing key", dir.display()))?;
    let mut config = Config::new(dir, schema, signing_key);
    config.dimensions = file.dimensions.clone();
    config.clock = clock;
    config.uploader = uploader;
    // One command per process: no background thread; `flush()` persists.
    config.persist_interval = None;
    let sdk = Candor::open(config).with_context(|| format!("opening {}", dir.display()))?;
    sdk.set_private_mode(file.private_mode);
    Ok(sdk)
}
