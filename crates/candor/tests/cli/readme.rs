//! README.md's commands, run as written: every ```` ```sh ```` block not
//! marked `no-test` (the ones that build, serve until stopped, or need
//! files or services a clone does not have), in order, in one shell, in a
//! fresh directory holding a copy of `examples/`, with this build's
//! `candor` first on the PATH. A command fails the test when it exits
//! non-zero, or when it prints nothing although it is not one that is
//! quiet by nature (an assignment, a redirection into a file, `mkdir`,
//! `kill`). The collector the README starts gets a free port through
//! `CANDOR_LISTEN` and `CANDOR_URL`, which the CLI reads, so the commands
//! stay as written and never meet a collector someone else runs on 8750.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use crate::{s, workspace_root};

/// The info-string word that keeps a block out of this test.
const NO_TEST: &str = "no-test";

/// The `sh` blocks of a Markdown text that are not marked [`NO_TEST`].
fn shell_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None => {
                if let Some(info) = line.trim_start().strip_prefix("```") {
                    let words: Vec<&str> = info.split_whitespace().collect();
                    current = Some(String::new());
                    if words.first() != Some(&"sh") || words.contains(&NO_TEST) {
                        // Not run; still consumed up to its closing fence.
                        current = Some("\0skip".to_owned());
                    }
                }
            }
            Some(block) => {
                if line.trim_start().starts_with("```") {
                    let block = current.take().expect("in a block");
                    if !block.starts_with('\0') {
                        blocks.push(block);
                    }
                } else if !block.starts_with('\0') {
                    block.push_str(line);
                    block.push('\n');
                }
            }
        }
    }
    blocks
}

/// A block's commands: continuation lines joined, blank and comment-only
/// lines left out.
fn commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head.trim_end());
                pending.push(' ');
            }
            None => {
                pending.push_str(trimmed);
                out.push(std::mem::take(&mut pending));
            }
        }
    }
    out
}

/// Whether a command may print nothing: an assignment or `export`, a
/// redirection of its output into a file, `mkdir` or `kill`.
fn quiet(command: &str) -> bool {
    let code = command.split(" #").next().unwrap_or(command);
    let first = code.split_whitespace().next().unwrap_or("");
    matches!(first, "export" | "mkdir" | "kill" | "cd")
        || code.contains(" > ")
        || (first.contains('=') && !first.starts_with('-') && code.split_whitespace().count() == 1)
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Stops the collector the README started, however the test ends.
struct StopServe<'a>(&'a Path);

impl Drop for StopServe<'_> {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("candor-demo/data/serve.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Copies the directory `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[test]
fn every_readme_command_runs_as_written_and_prints_something() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let blocks = shell_blocks(&readme);
    let all: Vec<String> = blocks.iter().flat_map(|b| commands(b)).collect();
    assert!(
        all.iter().any(|c| c.starts_with("candor query")),
        "the README's runnable blocks ask no question: {all:?}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &workspace_root().join("examples"),
        &dir.path().join("examples"),
    );
    let logs = dir.path().join(".readme-test");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let mut script = String::from("set -u\n");
    for (n, command) in all.iter().enumerate() {
        let out = logs.join(format!("{n}.txt"));
        script.push_str(&format!(
            "{{ eval \"$(cat <<'__README_COMMAND__'\n{command}\n__README_COMMAND__\n)\"; }} > '{out}' 2>&1\n\
             rc=$?\n\
             echo '$ {shown}'; cat '{out}'\n\
             if [ $rc -ne 0 ]; then echo 'README command {n} failed with exit status '$rc >&2; exit 100; fi\n",
            out = s(&out),
            shown = command.replace('\'', "'\\''"),
        ));
        if !quiet(command) {
            script.push_str(&format!(
                "if [ ! -s '{out}' ]; then echo 'README command {n} printed nothing' >&2; exit 101; fi\n",
                out = s(&out),
            ));
        }
    }

    let bin = Path::new(env!("CARGO_BIN_EXE_candor"))
        .parent()
        .expect("the binary's directory")
        .to_owned();
    let path = format!("{}:{}", s(&bin), std::env::var("PATH").unwrap_or_default());
    let port = free_port();
    let _stop = StopServe(dir.path());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("CANDOR_LISTEN", format!("127.0.0.1:{port}"))
        .env("CANDOR_URL", format!("http://127.0.0.1:{port}"))
        .env_remove("CANDOR_TOKEN")
        .env_remove("CANDOR_STORE_URL")
        .env_remove("RUST_LOG")
        .output()
        .expect("bash runs");
    let (stdout, stderr) = crate::text(&out);
    assert!(
        out.status.success(),
        "{stderr}\n--- what ran, with its output ---\n{stdout}"
    );
    // The questions were answered with released groups, not an empty table.
    assert!(stdout.contains("95% interval"), "{stdout}");
    assert!(!stdout.contains("No group released."), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(",today,") && l.ends_with(",discrete_laplace")),
        "the daily-active-devices question released no row: {stdout}"
    );
    assert!(stdout.contains("chain intact"), "{stdout}");
}

#[test]
fn blocks_marked_no_test_and_other_languages_are_left_out() {
    let md = "```sh\na\n```\n```sh no-test\nb\n```\n```text\nc\n```\n```sh\n# note\nd --x \\\n    --y\ne > f\n```\n";
    let blocks = shell_blocks(md);
    assert_eq!(blocks, ["a\n", "# note\nd --x \\\n    --y\ne > f\n"]);
    assert_eq!(commands(&blocks[1]), ["d --x --y", "e > f"]);
    assert!(quiet("e > f"));
    assert!(quiet("export X=$(candor token create)"));
    assert!(!quiet("candor query --region eu"));
    assert!(!quiet("candor load  # prints a table"));
}
