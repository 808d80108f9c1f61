//! Shared fixtures: the example schema, a key, a manual clock, fake uploaders.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candor_protocol::{KeyList, KeyPair, Opener, Report, SignedKeyList, SigningKey, batch};
use candor_schema::Schema;
use candor_sdk::{
    Candor, Config, KeyListFetch, ManualClock, ReportResult, UploadResponse, Uploader,
};

/// 2026-11-29T12:00:00Z.
pub(crate) const NOON: i64 = 1_795_953_600;
pub(crate) const DAY: i64 = 86_400;

pub(crate) fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/browser.toml")
}

pub(crate) fn schema() -> Schema {
    let src = std::fs::read_to_string(example_path()).expect("example schema");
    candor_schema::parse(&src, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("valid example")
        .schema
}

pub(crate) fn keys() -> KeyPair {
    KeyPair::derive("eu", 1, &[42; 32]).expect("valid key")
}

/// The region's signing key (the collector's side).
pub(crate) fn signer() -> SigningKey {
    SigningKey::from_seed("eu", [43; 32]).expect("valid region")
}

/// A list of [`keys`] issued at `issued_at`, valid for `days`, signed by
/// `signer`.
pub(crate) fn signed_list(signer: &SigningKey, issued_at: i64, days: i64) -> SignedKeyList {
    KeyList {
        region: "eu".into(),
        serial: u64::try_from(issued_at).expect("not negative"),
        issued_at,
        expires_at: issued_at + days * DAY,
        keys: vec![keys().config().clone()],
    }
    .sign(signer)
    .expect("signs")
}

/// An SDK instance on a temporary directory with a manual clock at NOON.
pub(crate) struct Device {
    pub(crate) candor: Candor,
    pub(crate) clock: ManualClock,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn config(dir: &Path, clock: &ManualClock) -> Config {
    let mut config = Config::new(dir, schema(), signer().verifying_key());
    // Valid well past every test's last day.
    config.key_list = Some(
        signed_list(&signer(), NOON - DAY, 400)
            .to_json()
            .into_bytes(),
    );
    config.clock = Arc::new(clock.clone());
    config.persist_interval = None;
    config
        .dimensions
        .insert("platform".into(), "android".into());
    config
        .dimensions
        .insert("app_version".into(), "121.0.6167.101".into());
    config.dimensions.insert("os_major".into(), "14.2".into());
    config
}

pub(crate) fn device_with(f: impl FnOnce(&mut Config)) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(NOON);
    let mut config = config(dir.path(), &clock);
    f(&mut config);
    Device {
        candor: Candor::open(config).expect("opens"),
        clock,
        dir,
    }
}

pub(crate) fn device() -> Device {
    device_with(|_| {})
}

/// Every file under `dir`, with its contents as text.
pub(crate) fn files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
            out.push((path, text));
        }
    }
    out
}

pub(crate) fn parse(json: &str) -> serde_json::Value {
    serde_json::from_str(json).expect("valid JSON")
}

/// A fake collector: opens every envelope with the region's key, records
/// the reports, and answers with `answer` (or accepts all).
#[derive(Default)]
pub(crate) struct FakeCollector {
    pub(crate) received: Mutex<Vec<Report>>,
    pub(crate) requests: Mutex<usize>,
    pub(crate) answers: Mutex<Vec<UploadResponse>>,
    /// Key list documents served to `fetch_key_list`, first first; none
    /// left: `RetryLater`.
    pub(crate) key_lists: Mutex<Vec<Vec<u8>>>,
    pub(crate) key_fetches: Mutex<usize>,
}

impl FakeCollector {
    pub(crate) fn reports(&self) -> Vec<Report> {
        self.received.lock().expect("lock").clone()
    }
}

impl Uploader for FakeCollector {
    fn fetch_key_list(&self, _region: &str) -> KeyListFetch {
        *self.key_fetches.lock().expect("lock") += 1;
        let mut lists = self.key_lists.lock().expect("lock");
        if lists.is_empty() {
            return KeyListFetch::RetryLater;
        }
        KeyListFetch::Fetched(lists.remove(0))
    }

    fn upload(&self, region: &str, body: &[u8]) -> UploadResponse {
        *self.requests.lock().expect("lock") += 1;
        let scripted = {
            let mut answers = self.answers.lock().expect("lock");
            (!answers.is_empty()).then(|| answers.remove(0))
        };
        if let Some(answer) = scripted {
            return answer;
        }
        let opener = Opener::new(region, [keys()]).expect("region key");
        let parts = batch::split_upload(body).expect("well-formed upload");
        let mut results = Vec::new();
        for part in parts {
            let report = opener.open(part).expect("opens");
            self.received.lock().expect("lock").push(report);
            results.push(ReportResult::Accepted);
        }
        UploadResponse::Results(results)
    }
}
