//! Integration tests for the `candor` binary, one test binary.
//!
//! Each module drives the real executable for one subcommand:
//! - `activity`: `candor simulate` and `candor query --active` against a
//!   `candor serve`, released active devices and retention against the
//!   simulator's ground truth (issue 16's accuracy study);
//! - `schema`: `candor schema check` and `candor schema docs`;
//! - `serve`: `candor serve` killed under load and restarted;
//! - `keygen`: `candor keygen`;
//! - `client`: `candor client`, an SDK instance driven from the shell;
//! - `token`: `candor token create|list|revoke`;
//! - `query`: `candor query` against a running `candor serve`;
//! - `simulate`: `candor simulate` against a running `candor serve`, its
//!   stored aggregates checked against the simulator's ground truth;
//! - `browser`: `candor demo` end to end, then its dashboard in headless
//!   chromium (via `webdriver`), with screenshots under target/screenshots;
//! - `demo`: `candor demo --no-serve`, its summary's regions and active
//!   devices;
//! - `audit`: `candor audit show|verify`, and tampered logs;
//! - `queue`: `candor serve --role front|worker` over NATS JetStream;
//! - `relay`: a device uploading through `candor relay` to the OHTTP
//!   gateway of `candor serve`, each on its own loopback address;
//! - `security`: every test SECURITY.md names exists;
//! - `verify`: `candor verify` against a running `candor demo`, passing,
//!   then failing by name after each kind of tampering;
//! - `tls`: `candor serve --tls-cert/--tls-key` with a test CA: plain HTTP
//!   refused, `candor client upload --ca-cert` counted, an upload that does
//!   not trust the CA refused, `Secure` dashboard cookies;
//! - `readme`: README.md's shell blocks, run as written in a fresh
//!   directory;
//! - `explain`: the CLI's messages for a new user's mistakes: each error
//!   once, a taken port, address forms, an unreachable collector, `--help`,
//!   logs without colour, `serve --detach`.

mod activity;
mod audit;
mod browser;
mod client;
mod demo;
mod explain;
mod keygen;
mod query;
#[cfg(feature = "queue")]
mod queue;
mod readme;
mod relay;
mod schema;
mod security;
mod serve;
mod simulate;
mod tls;
mod token;
mod verify;
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `candor` binary with `args` from the workspace root.
pub(crate) fn candor(args: &[&str]) -> Output {
    candor_env(args, &[])
}

/// Like [`candor`], with extra environment variables (and without a
/// `CANDOR_TOKEN` inherited from the test's environment).
pub(crate) fn candor_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(args)
        .env_remove("CANDOR_TOKEN")
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .output()
        .expect("the candor binary runs")
}

/// A path as `&str` (test paths are UTF-8).
pub(crate) fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The workspace root (so paths like `examples/browser.toml` resolve).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Stdout and stderr as text.
pub(crate) fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A key list of the region whose key directory is `keys`, signed as of
/// `at` (Unix seconds), in a directory of its own beside `keys`: what an
/// app would bundle on a device whose clock reads `at`. The key directory
/// itself is not changed, so a collector serving it keeps its own list.
pub(crate) fn key_list_signed_at(keys: &Path, at: i64) -> PathBuf {
    use candor_collector::keys as k;
    let signer = k::load_signing_key(keys)
        .expect("readable")
        .expect("keygen created the signing key");
    let active = k::active_configs(keys).expect("keys");
    let dir = keys.with_file_name(format!("key-list-at-{at}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    k::refresh_key_list(&dir, &signer, &active, at)
        .expect("signs")
        .expect("a key is active");
    dir.join(k::KEY_LIST_FILE)
}

/// Now, in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The arguments of `candor client init` for a device of the region whose
/// key directory is `keys` (platform android): the region's signing public
/// key, and a key list signed two days back, so that a device clock at
/// yesterday or today is inside its validity.
pub(crate) fn device_init_args(keys: &Path) -> Vec<String> {
    let key_list = key_list_signed_at(keys, unix_now() - 2 * 86_400);
    [
        "init",
        "--schema",
        "examples/browser.toml",
        "--signing-key",
        s(&keys.join("signing.public.json")),
        "--key-list",
        s(&key_list),
        "--dimension",
        "platform=android",
    ]
    .map(str::to_owned)
    .to_vec()
}
