//! A region's key directory: generation, rotation, retirement.
//!
//! Per key id the directory holds `key-NNN.private.json` (mode 0600, the
//! private key; never overwritten), `key-NNN.config.json` (the public key
//! config devices pin) and, once retired, `key-NNN.retired` (the Unix time
//! of retirement). Several keys can be active at once; a retired key still
//! opens reports for a grace period, then its reports are refused with their
//! own error code.
//!
//! The directory also holds the region's signing key (Ed25519, see
//! [`candor_protocol::signing`]): `signing.private.json` (mode 0600, never
//! overwritten) and `signing.public.json`, the key apps pin and auditors
//! are given. It signs what the region publishes about itself, among it
//! the key-config list devices fetch (docs/wire.md §5.2): `keys.signed.json`
//! holds the last list signed, so that a `front`, which has no private
//! key, can serve a list that a process with the signing key (`candor
//! keygen`, a collector of role `all` or `worker`) signed and re-signs
//! before it expires ([`refresh_key_list`]).

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use candor_protocol::{
    Envelope, KeyConfig, KeyList, KeyPair, Opener, Report, SignedKeyList, SigningKey, VerifyingKey,
};

use crate::error::Rejection;

/// Why a key directory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A key file is invalid.
    #[error("{path}: {source}")]
    Invalid {
        /// The path.
        path: PathBuf,
        /// The error.
        source: candor_protocol::Error,
    },
    /// The directory holds another region's keys.
    #[error("{dir} holds keys of region {found:?}; each region needs its own key directory")]
    OtherRegion {
        /// The directory.
        dir: PathBuf,
        /// The region found.
        found: String,
    },
    /// The key id is taken.
    #[error("key {0} already exists; keys are never overwritten")]
    Exists(u8),
    /// All 256 ids are in use.
    #[error("all 256 key ids are in use; remove retired keys first")]
    Full,
    /// No such key.
    #[error("no key {0} in this directory")]
    NoSuchKey(u8),
    /// The region id is invalid.
    #[error(transparent)]
    Region(candor_protocol::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One key of a directory.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// The key pair.
    pub pair: KeyPair,
    /// When it was retired (Unix seconds), if it was.
    pub retired_at: Option<i64>,
}

fn stem(id: u8) -> String {
    format!("key-{id:03}")
}

/// Every key in `dir` (none if the directory does not exist), by id.
pub fn load(dir: &Path) -> Result<Vec<KeyEntry>, KeyError> {
    let mut out = Vec::new();
    for (path, bytes) in key_files(dir, ".private.json")? {
        let pair = KeyPair::from_private_json(&bytes).map_err(|source| KeyError::Invalid {
            path: path.clone(),
            source,
        })?;
        let retired_at = retired_at(dir, pair.config().key_id());
        out.push(KeyEntry { pair, retired_at });
    }
    out.sort_by_key(|k| k.pair.config().key_id());
    Ok(out)
}

/// Generates a key pair for `region` in `dir` (created if missing) and
/// returns its public config. Without `key_id`, the id after the highest in
/// use. Refuses a directory holding another region's keys and an id in use.
pub fn generate(dir: &Path, region: &str, key_id: Option<u8>) -> Result<KeyConfig, KeyError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let existing = load(dir)?;
    if let Some(other) = existing.iter().find(|k| k.pair.config().region() != region) {
        return Err(KeyError::OtherRegion {
            dir: dir.to_owned(),
            found: other.pair.config().region().to_owned(),
        });
    }
    let used: BTreeSet<u8> = existing.iter().map(|k| k.pair.config().key_id()).collect();
    let key_id = match key_id {
        Some(id) if used.contains(&id) => return Err(KeyError::Exists(id)),
        Some(id) => id,
        None => {
            let start = used.last().map_or(1, |m| m.wrapping_add(1));
            (0..=255u8)
                .map(|i| start.wrapping_add(i))
                .find(|id| !used.contains(id))
                .ok_or(KeyError::Full)?
        }
    };
    let pair = KeyPair::generate(region, key_id).map_err(KeyError::Region)?;
    write_new(
        &dir.join(format!("{}.private.json", stem(key_id))),
        pair.to_private_json().as_bytes(),
        0o600,
    )?;
    write_new(
        &dir.join(format!("{}.config.json", stem(key_id))),
        pair.config().to_json().as_bytes(),
        0o644,
    )?;
    Ok(pair.config().clone())
}

/// The private signing key's file name in a key directory.
pub const SIGNING_PRIVATE_FILE: &str = "signing.private.json";
/// The public signing key's file name in a key directory.
pub const SIGNING_PUBLIC_FILE: &str = "signing.public.json";

/// The region's signing key in `dir` (created if missing), generating one
/// if the directory has none; `true` with it when it was generated now. An
/// existing key is never replaced, and one of another region is refused.
pub fn ensure_signing_key(dir: &Path, region: &str) -> Result<(SigningKey, bool), KeyError> {
    if let Some(key) = load_signing_key(dir)? {
        if key.region() != region {
            return Err(KeyError::OtherRegion {
                dir: dir.to_owned(),
                found: key.region().to_owned(),
            });
        }
        return Ok((key, false));
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let key = SigningKey::generate(region).map_err(KeyError::Region)?;
    write_new(
        &dir.join(SIGNING_PRIVATE_FILE),
        key.to_private_json().as_bytes(),
        0o600,
    )?;
    let public = dir.join(SIGNING_PUBLIC_FILE);
    match write_new(&public, key.verifying_key().to_json().as_bytes(), 0o644) {
        // A crash between the two writes left the private file only; the
        // public one is derived from it, so writing it now is safe.
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {}
        other => other?,
    }
    Ok((key, true))
}

/// The region's signing key in `dir`, if it has one.
pub fn load_signing_key(dir: &Path) -> Result<Option<SigningKey>, KeyError> {
    read_optional(
        &dir.join(SIGNING_PRIVATE_FILE),
        SigningKey::from_private_json,
    )
}

/// The region's signing public key in `dir`, if it has one: all a process
/// without the private key (a `front`) needs.
pub fn load_verifying_key(dir: &Path) -> Result<Option<VerifyingKey>, KeyError> {
    read_optional(&dir.join(SIGNING_PUBLIC_FILE), VerifyingKey::from_json)
}

/// Parses the file at `path` with `parse`; `None` if there is no file.
fn read_optional<T>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, candor_protocol::Error>,
) -> Result<Option<T>, KeyError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    parse(&bytes).map(Some).map_err(|source| KeyError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// The signed key-config list's file name in a key directory: what
/// `GET /v1/regions/{region}/keys` serves.
pub const KEY_LIST_FILE: &str = "keys.signed.json";

/// How long a signed key list is valid. Signers sign a new one once half
/// of it has passed ([`refresh_key_list`]; the collector's jobs run
/// hourly), and devices fetch one then too.
pub const KEY_LIST_VALIDITY_SECONDS: i64 = 7 * candor_time::SECONDS_PER_DAY;

/// The list to sign for `active` keys at `now`: the keys newest (highest
/// id) first, since devices seal to the first, valid for
/// [`KEY_LIST_VALIDITY_SECONDS`], with the issue time as serial.
fn key_list(region: &str, active: &[KeyConfig], now: i64) -> KeyList {
    let mut keys = active.to_vec();
    keys.sort_by_key(|k| std::cmp::Reverse(k.key_id()));
    KeyList {
        region: region.to_owned(),
        serial: u64::try_from(now).unwrap_or(0),
        issued_at: now,
        expires_at: now.saturating_add(KEY_LIST_VALIDITY_SECONDS),
        keys,
    }
}

/// The active (not retired) key configs of `dir`, as devices get them.
pub fn active_configs(dir: &Path) -> Result<Vec<KeyConfig>, KeyError> {
    Ok(load_public(dir)?
        .into_iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.config)
        .collect())
}

/// The key list in `dir`'s [`KEY_LIST_FILE`], if there is one (not verified).
pub fn load_key_list(dir: &Path) -> Result<Option<SignedKeyList>, KeyError> {
    read_optional(&dir.join(KEY_LIST_FILE), SignedKeyList::from_json)
}

/// The list a collector serves: `dir`'s [`KEY_LIST_FILE`] if it verifies
/// with `key` at `now` and lists exactly `active` (in any order), else
/// `None`. A `front`'s check of what a signer wrote.
pub fn current_key_list(
    dir: &Path,
    key: &VerifyingKey,
    active: &[KeyConfig],
    now: i64,
) -> Result<Option<(SignedKeyList, KeyList)>, KeyError> {
    let Some(signed) = load_key_list(dir)? else {
        return Ok(None);
    };
    let Ok(list) = signed.verify(key, now) else {
        return Ok(None);
    };
    let mut listed: Vec<u8> = list.keys.iter().map(KeyConfig::key_id).collect();
    let mut wanted: Vec<u8> = active.iter().map(KeyConfig::key_id).collect();
    listed.sort_unstable();
    wanted.sort_unstable();
    let same = listed == wanted && active.iter().all(|a| list.keys.contains(a));
    Ok(same.then_some((signed, list)))
}

/// Signs `active` as the region's key list at `now` and writes it to
/// `dir`'s [`KEY_LIST_FILE`] (replaced atomically), unless the file already
/// holds a valid list of exactly those keys with more than half of its
/// validity left. Returns the list to serve. With no active key there is
/// nothing a device could seal to: no list is signed (`None`).
pub fn refresh_key_list(
    dir: &Path,
    signer: &SigningKey,
    active: &[KeyConfig],
    now: i64,
) -> Result<Option<SignedKeyList>, KeyError> {
    if active.is_empty() {
        return Ok(None);
    }
    if let Some((signed, list)) = current_key_list(dir, &signer.verifying_key(), active, now)? {
        let half = list.issued_at + (list.expires_at - list.issued_at) / 2;
        if now < half {
            return Ok(Some(signed));
        }
    }
    let path = dir.join(KEY_LIST_FILE);
    let signed = key_list(signer.region(), active, now)
        .sign(signer)
        .map_err(|source| KeyError::Invalid {
            path: path.clone(),
            source,
        })?;
    write_replace(&path, signed.to_json().as_bytes())?;
    Ok(Some(signed))
}

/// The detail of a `key.generate` audit entry: the key id and its whole
/// public config, so that a verifier can check a served key list against
/// the chain (docs/api.md, "Key history").
pub fn generate_detail(config: &KeyConfig) -> String {
    let config: serde_json::Value =
        serde_json::from_str(&config.to_json()).expect("a key config is JSON");
    serde_json::json!({ "key_id": config["key_id"], "config": config }).to_string()
}

/// The detail of a `key.retire` audit entry: the key id, its public key
/// (hex) and the retirement time (Unix seconds).
pub fn retire_detail(config: &KeyConfig, retired_at: i64) -> String {
    serde_json::json!({
        "key_id": config.key_id(),
        "public_key": hex::encode(config.public_key()),
        "retired_at": retired_at,
    })
    .to_string()
}

/// Replaces a public file atomically: a temporary file synced, then
/// renamed over it, so a reader sees the old file or the new one.
fn write_replace(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Marks a key retired as of `now` (Unix seconds). Retiring twice keeps the
/// first time.
pub fn retire(dir: &Path, key_id: u8, now: i64) -> Result<(), KeyError> {
    if !dir.join(format!("{}.private.json", stem(key_id))).exists() {
        return Err(KeyError::NoSuchKey(key_id));
    }
    let marker = dir.join(format!("{}.retired", stem(key_id)));
    match write_new(&marker, format!("{now}\n").as_bytes(), 0o644) {
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(())
        }
        other => other,
    }
}

/// Writes a file that must not exist yet, atomically: content to a temporary
/// file with its final mode, synced, then hard-linked into place (which
/// fails if the name is taken), so a crash leaves no file or a complete one
/// and an existing key is never replaced.
pub(crate) fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io(&tmp))?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(io(path))?;
    if let Some(parent) = path.parent() {
        let _ = fs::File::open(parent).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Where a key stands at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    /// Not retired: handed to devices, opens reports.
    Active,
    /// Retired within its grace period: still opens reports.
    InGrace,
    /// Retired past its grace period: its reports get `key_retired`.
    Expired,
}

/// The state at `now` of a key retired at `retired_at` (if it was): the
/// one rule that both the opening side ([`RegionKeys`]) and the front's
/// header check ([`PublicKeys`]) apply.
fn key_state(retired_at: Option<i64>, now: i64, grace_days: u32) -> KeyState {
    match retired_at {
        None => KeyState::Active,
        Some(t)
            if now >= t.saturating_add(i64::from(grace_days) * candor_time::SECONDS_PER_DAY) =>
        {
            KeyState::Expired
        }
        Some(_) => KeyState::InGrace,
    }
}

/// One public key config of a directory, with its retirement.
#[derive(Debug, Clone)]
pub struct PublicKeyEntry {
    /// The public config devices seal to.
    pub config: KeyConfig,
    /// When it was retired (Unix seconds), if it was.
    pub retired_at: Option<i64>,
}

/// Every public key config in `dir` (none if the directory does not
/// exist), by id. Reads `key-NNN.config.json` and the retirement markers
/// only, never a private key: what a `front` process needs.
pub fn load_public(dir: &Path) -> Result<Vec<PublicKeyEntry>, KeyError> {
    let mut out = Vec::new();
    for (path, bytes) in key_files(dir, ".config.json")? {
        let config = KeyConfig::from_json(&bytes).map_err(|source| KeyError::Invalid {
            path: path.clone(),
            source,
        })?;
        out.push(PublicKeyEntry {
            retired_at: retired_at(dir, config.key_id()),
            config,
        });
    }
    out.sort_by_key(|k| k.config.key_id());
    Ok(out)
}

/// The `key-*<suffix>` files of `dir` and their bytes (none if the
/// directory does not exist): the walk [`load`] and [`load_public`] share.
fn key_files(dir: &Path, suffix: &str) -> Result<Vec<(PathBuf, Vec<u8>)>, KeyError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !(name.starts_with("key-") && name.ends_with(suffix)) {
            continue;
        }
        let bytes = fs::read(&path).map_err(io(&path))?;
        out.push((path, bytes));
    }
    Ok(out)
}

/// When key `id` of `dir` was retired, if it was.
fn retired_at(dir: &Path, id: u8) -> Option<i64> {
    let marker = dir.join(format!("{}.retired", stem(id)));
    fs::read_to_string(&marker)
        .ok()
        .and_then(|t| t.trim().parse().ok())
}

/// What a front checks an envelope's header against, as of one moment: a
/// region's public key configs (no private key). An envelope that passes
/// names this region and a key that can still open it; whether it opens
/// is for a worker to find out.
#[derive(Debug, Clone)]
pub struct PublicKeys {
    region: String,
    /// Keys that still open reports (active, or retired within grace).
    usable: Vec<KeyConfig>,
    /// Retired keys past their grace period.
    expired: BTreeSet<u8>,
    /// Public configs of the active keys, for devices.
    pub active: Vec<KeyConfig>,
}

impl PublicKeys {
    /// Sorts a directory's public configs by state at `now`.
    pub fn new(region: &str, keys: Vec<PublicKeyEntry>, now: i64, grace_days: u32) -> Self {
        let mut out = PublicKeys {
            region: region.to_owned(),
            usable: Vec::new(),
            expired: BTreeSet::new(),
            active: Vec::new(),
        };
        for k in keys {
            match key_state(k.retired_at, now, grace_days) {
                KeyState::Expired => {
                    out.expired.insert(k.config.key_id());
                    continue;
                }
                KeyState::Active => out.active.push(k.config.clone()),
                KeyState::InGrace => {}
            }
            out.usable.push(k.config);
        }
        out
    }

    /// The header checks of [`RegionKeys::open`] that need no private key,
    /// with the same codes: the region, the key id (`key_retired` past its
    /// grace), and the key's suite.
    pub fn check(&self, envelope: &Envelope<'_>) -> Result<(), Rejection> {
        let header = &envelope.header;
        if header.region != self.region {
            return Err(Rejection::WrongRegion);
        }
        let Some(key) = self.usable.iter().find(|k| k.key_id() == header.key_id) else {
            return Err(if self.expired.contains(&header.key_id) {
                Rejection::KeyRetired(header.key_id)
            } else {
                Rejection::UnknownKey(header.key_id)
            });
        };
        if key.suite() != header.suite {
            // Same key id, other suite: the key cannot have sealed it (the
            // opener answers the same).
            return Err(Rejection::DecryptionFailed);
        }
        Ok(())
    }
}

/// The keys a region opens reports with, as of one moment.
#[derive(Debug, Clone)]
pub struct RegionKeys {
    /// Opens envelopes sealed to active keys and to retired keys in grace.
    pub opener: Opener,
    /// Retired keys past their grace period: their reports are refused
    /// with `key_retired`.
    pub expired: BTreeSet<u8>,
    /// Public configs of the active (not retired) keys, for devices.
    pub active: Vec<KeyConfig>,
}

impl RegionKeys {
    /// Sorts a directory's keys by state at `now`.
    pub fn new(
        region: &str,
        keys: Vec<KeyEntry>,
        now: i64,
        grace_days: u32,
    ) -> Result<Self, KeyError> {
        let mut opener = Opener::new(region, []).map_err(KeyError::Region)?;
        let mut expired = BTreeSet::new();
        let mut active = Vec::new();
        for k in keys {
            let id = k.pair.config().key_id();
            match key_state(k.retired_at, now, grace_days) {
                KeyState::Expired => {
                    expired.insert(id);
                    continue;
                }
                KeyState::InGrace => {}
                KeyState::Active => active.push(k.pair.config().clone()),
            }
            opener.insert(k.pair).map_err(KeyError::Region)?;
        }
        Ok(RegionKeys {
            opener,
            expired,
            active,
        })
    }

    /// Opens an envelope with this region's keys: the header names this
    /// region and a key it holds (a retired key past its grace is refused
    /// with its own code, `key_retired`), and HPKE opens the report with
    /// the header as associated data.
    pub fn open(&self, envelope: &Envelope<'_>) -> Result<Report, Rejection> {
        match self.opener.open_envelope(envelope) {
            Err(candor_protocol::Error::UnknownKey(id)) if self.expired.contains(&id) => {
                Err(Rejection::KeyRetired(id))
            }
            other => other.map_err(Rejection::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_key_is_created_once_private_to_its_owner_and_never_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = ensure_signing_key(dir.path(), "eu").unwrap();
        assert!(created);
        let (again, created) = ensure_signing_key(dir.path(), "eu").unwrap();
        assert!(!created);
        assert_eq!(again.verifying_key(), first.verifying_key());
        let mode = fs::metadata(dir.path().join(SIGNING_PRIVATE_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            load_verifying_key(dir.path()).unwrap(),
            Some(first.verifying_key())
        );
        assert!(matches!(
            ensure_signing_key(dir.path(), "us"),
            Err(KeyError::OtherRegion { .. })
        ));
        let empty = tempfile::tempdir().unwrap();
        assert!(load_signing_key(empty.path()).unwrap().is_none());
    }

    #[test]
    fn a_fronts_public_keys_apply_the_same_rules_as_the_opener() {
        let dir = tempfile::tempdir().unwrap();
        let old = generate(dir.path(), "eu", None).unwrap();
        let new = generate(dir.path(), "eu", None).unwrap();
        retire(dir.path(), old.key_id(), 1_000).unwrap();
        let mut report = candor_protocol::Report::new(
            candor_protocol::ReportId::random().unwrap(),
            "s",
            1,
            "usage",
            1,
            "eu",
            candor_protocol::Day::from_ymd(2026, 11, 29).unwrap(),
        );
        report
            .metrics
            .insert("m.n".into(), candor_protocol::MetricValue::Counter(1));
        let sealed_old = candor_protocol::seal(&report, &old).unwrap();
        let sealed_new = candor_protocol::seal(&report, &new).unwrap();
        let check = |now: i64, bytes: &[u8]| {
            let keys = PublicKeys::new("eu", load_public(dir.path()).unwrap(), now, 30);
            keys.check(&Envelope::decode(bytes).unwrap())
        };
        assert_eq!(check(1_000, &sealed_old), Ok(()), "retired, within grace");
        let after_grace = 1_000 + 30 * candor_time::SECONDS_PER_DAY;
        assert_eq!(
            check(after_grace, &sealed_old),
            Err(Rejection::KeyRetired(old.key_id()))
        );
        assert_eq!(check(after_grace, &sealed_new), Ok(()));
        let us = PublicKeys::new("us", load_public(dir.path()).unwrap(), 0, 30);
        assert_eq!(
            us.check(&Envelope::decode(&sealed_new).unwrap()),
            Err(Rejection::WrongRegion)
        );
        let active = PublicKeys::new("eu", load_public(dir.path()).unwrap(), 0, 30).active;
        assert_eq!(active, [new], "devices get the active key only");
    }

    #[test]
    fn the_key_list_is_signed_once_kept_while_fresh_and_re_signed_on_change_or_half_life() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, _) = ensure_signing_key(dir.path(), "eu").unwrap();
        let public = signer.verifying_key();
        assert_eq!(refresh_key_list(dir.path(), &signer, &[], 0).unwrap(), None);
        let first = generate(dir.path(), "eu", None).unwrap();
        let active = active_configs(dir.path()).unwrap();
        let signed = refresh_key_list(dir.path(), &signer, &active, 1_000)
            .unwrap()
            .unwrap();
        assert_eq!(load_key_list(dir.path()).unwrap(), Some(signed.clone()));
        let list = signed.verify(&public, 1_000).unwrap();
        assert_eq!(list.keys, std::slice::from_ref(&first));
        assert_eq!(list.expires_at, 1_000 + KEY_LIST_VALIDITY_SECONDS);
        let half = 1_000 + KEY_LIST_VALIDITY_SECONDS / 2;
        let again = refresh_key_list(dir.path(), &signer, &active, half - 1).unwrap();
        assert_eq!(again, Some(signed.clone()), "still fresh: not re-signed");
        let later = refresh_key_list(dir.path(), &signer, &active, half)
            .unwrap()
            .unwrap();
        assert_eq!(later.verify(&public, half).unwrap().issued_at, half);

        let second = generate(dir.path(), "eu", None).unwrap();
        let active = active_configs(dir.path()).unwrap();
        assert_eq!(
            current_key_list(dir.path(), &public, &active, half).unwrap(),
            None,
            "a list without the new key is not current"
        );
        let rotated = refresh_key_list(dir.path(), &signer, &active, half + 1)
            .unwrap()
            .unwrap();
        let list = rotated.verify(&public, half + 1).unwrap();
        assert_eq!(list.keys, [second.clone(), first], "newest first");
        assert_eq!(list.preferred(), &second);
    }
}
