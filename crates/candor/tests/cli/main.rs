//! Integration tests for the `candor` binary, one test binary.
//!
//! Each module drives the real executable for one subcommand:
//! - `schema`: `candor schema check` and `candor schema docs`;
//! - `serve`: `candor serve` killed under load and restarted;
//! - `keygen`: `candor keygen`;
//! - `client`: `candor client`, an SDK instance driven from the shell.

mod client;
mod keygen;
mod schema;
mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `candor` binary with `args` from the workspace root.
pub(crate) fn candor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("the candor binary runs")
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
