//! `candor schema check` and `candor schema docs`.

use std::io::Write as _;

use crate::{candor, text, workspace_root};

const INVALID: &str = r#"[schema]
id = "org.example.test"
version = 1

[purposes.usage]
title = "Usage"
description = "How often features are used."
consent_version = 1

[metrics."app.opened"]
type = "labeled_counter"
purpose = "ads"
description = "Opens."
owner = "team@example.org"
expires = 2027-12-31
labels = ["camera", "camera"]
max_per_report = 10
release = { mechanism = "central_dp", epsilon = 0.5 }

[regions.eu]
name = "European Union"
law = "GDPR"
retention_days = 0
k_min = 1
epsilon_per_metric_day = 2.0
epsilon_per_purpose_day = 3.0
delta_per_purpose_day = 1e-6
"#;

fn temp_schema(src: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(src.as_bytes()).expect("write");
    file
}

#[test]
fn check_accepts_the_example() {
    let out = candor(&["schema", "check", "examples/browser.toml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("examples/browser.toml: OK: schema org.example.browser version 3: 3 purposes, 3 dimensions, "), "{stdout}");
    assert!(stdout.contains(" 4 regions"), "{stdout}");
}

#[test]
fn check_lists_every_error_with_file_and_line() {
    let file = temp_schema(INVALID);
    let name = file.path().display().to_string();
    let out = candor(&["schema", "check", &name]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let expected = [
        (12, "unknown_purpose", "metrics.\"app.opened\".purpose"),
        (16, "duplicate_id", "metrics.\"app.opened\".labels[1]"),
        (23, "zero_retention", "regions.eu.retention_days"),
        (24, "k_min_too_small", "regions.eu.k_min"),
    ];
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error[")).collect();
    assert_eq!(errors.len(), expected.len(), "{stderr}");
    for (line, (n, code, path)) in errors.iter().zip(expected) {
        let prefix = format!("{name}:{n}:");
        assert!(
            line.starts_with(&prefix),
            "{line} should start with {prefix}"
        );
        assert!(
            line.contains(&format!(": error[{code}]: {path}: ")),
            "{line}"
        );
    }
    assert!(stderr.contains("4 errors"), "{stderr}");
}

#[test]
fn check_of_a_missing_file_exits_2() {
    let out = candor(&["schema", "check", "examples/no-such-schema.toml"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no-such-schema.toml"), "{stderr}");
}

#[test]
fn check_prints_warnings_but_passes() {
    let src = std::fs::read_to_string(workspace_root().join("examples/browser.toml"))
        .expect("readable")
        .replace("expires = 2027-06-30", "expires = 2020-01-01");
    let file = temp_schema(&src);
    let out = candor(&["schema", "check", &file.path().display().to_string()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning[metric_expired]"), "{stderr}");
    assert!(stdout.trim_end().ends_with(", 1 warning"), "{stdout}");
}

#[test]
fn docs_renders_markdown_by_default() {
    let out = candor(&["schema", "docs", "examples/browser.toml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with("# What `org.example.browser` collects"),
        "{stdout}"
    );
    assert!(stdout.contains("| `browser.slow_domains` |"));
    let committed = std::fs::read_to_string(workspace_root().join("docs/privacy.md"))
        .expect("docs/privacy.md is committed");
    assert_eq!(stdout, committed, "docs/privacy.md is stale");
    let md = candor(&["schema", "docs", "examples/browser.toml", "--format", "md"]);
    assert_eq!(md.stdout, out.stdout);
}

#[test]
fn docs_renders_html() {
    let out = candor(&[
        "schema",
        "docs",
        "--format",
        "html",
        "examples/browser.toml",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.starts_with("<!DOCTYPE html>"), "{stdout}");
    assert!(stdout.contains("<td><code>browser.slow_domains</code></td>"));
    assert!(!stdout.contains("<script"));
}

#[test]
fn docs_of_an_invalid_schema_exits_1_with_errors() {
    let file = temp_schema(INVALID);
    let out = candor(&["schema", "docs", &file.path().display().to_string()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("error[unknown_purpose]"), "{stderr}");
}
