//! The shipped example and its committed rendering.

use candor_schema::docs::{Format, render};

use crate::{TODAY, workspace_file};

fn example() -> candor_schema::Checked {
    let path = workspace_file("examples/browser.toml");
    let src = std::fs::read_to_string(&path).expect("examples/browser.toml is readable");
    match candor_schema::parse(&src, "examples/browser.toml", TODAY) {
        Ok(checked) => checked,
        Err(errors) => panic!("examples/browser.toml is invalid:\n{errors}"),
    }
}

#[test]
fn example_passes_without_errors_or_warnings() {
    let checked = example();
    let warnings: Vec<String> = checked.warnings.iter().map(ToString::to_string).collect();
    assert!(warnings.is_empty(), "warnings: {warnings:#?}");
    let s = &checked.schema;
    assert_eq!(s.id, "org.example.browser");
    assert_eq!(s.version, 3);
    assert_eq!(
        s.purposes.keys().collect::<Vec<_>>(),
        ["browsing", "diagnostics", "usage"]
    );
    assert_eq!(
        s.regions.keys().collect::<Vec<_>>(),
        ["cn", "eu", "in", "us"]
    );
    assert!(s.metrics.len() >= 12);
    let mut types: Vec<&str> = s.metrics.values().map(|m| m.type_name()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types,
        [
            "activity",
            "boolean",
            "category",
            "counter",
            "distribution",
            "domain_set",
            "labeled_counter"
        ]
    );
    for m in s.metrics.values() {
        let expires = m.expires.expect("every example metric has an expiry date");
        assert!((2027..=2028).contains(&expires.year()), "{}", m.id);
    }
}

#[test]
fn committed_privacy_page_is_current() {
    let rendered = render(&example().schema, Format::Markdown);
    let path = workspace_file("docs/privacy.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/privacy.md is not the current rendering of examples/browser.toml; regenerate it with\n\n    cargo run -p candor -- schema docs examples/browser.toml > docs/privacy.md\n"
    );
}

#[test]
fn rendering_does_not_depend_on_today() {
    let path = workspace_file("examples/browser.toml");
    let src = std::fs::read_to_string(&path).expect("readable");
    let later = time::macros::date!(2031 - 01 - 01);
    let expired = candor_schema::parse(&src, "browser.toml", later).expect("expiry only warns");
    assert!(!expired.warnings.is_empty());
    assert_eq!(
        render(&expired.schema, Format::Markdown),
        render(&example().schema, Format::Markdown)
    );
}
