//! SECURITY.md's threat model stays honest: every "Stopped by" line names
//! at least one test as `path::test_name`, and each of those files holds a
//! test function of that name.

use std::path::Path;

use crate::workspace_root;

/// The `path.rs::name` references in `line`, from its backticked spans.
fn test_references(line: &str) -> Vec<(String, String)> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| {
            let (path, name) = span.rsplit_once("::")?;
            path.ends_with(".rs")
                .then(|| (path.to_owned(), name.to_owned()))
        })
        .collect()
}

#[test]
fn every_stopped_by_line_names_a_test_that_exists() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join("SECURITY.md")).expect("SECURITY.md");
    // A "Stopped by" sentence ends at the end of its bullet: join each
    // bullet's wrapped lines first.
    let mut bullets: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("- ") || bullets.is_empty() || trimmed.is_empty() {
            bullets.push(trimmed.to_owned());
        } else if let Some(last) = bullets.last_mut() {
            last.push(' ');
            last.push_str(trimmed);
        }
    }
    let mut checked = 0;
    for bullet in bullets
        .iter()
        .filter(|b| b.starts_with("- ") && b.contains("Stopped by:"))
    {
        let refs = test_references(bullet);
        assert!(
            !refs.is_empty(),
            "a Stopped by line names no test: {bullet}"
        );
        for (path, name) in refs {
            let file = root.join(Path::new(&path));
            let source = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("SECURITY.md names {path}, which cannot be read: {e}"));
            let at = source.find(&format!("fn {name}(")).unwrap_or_else(|| {
                panic!("SECURITY.md names {path}::{name}, which has no such function")
            });
            let before = &source[source[..at].rfind('}').unwrap_or(0)..at];
            assert!(
                before.contains("#[test]") || before.contains("#[tokio::test"),
                "SECURITY.md names {path}::{name}, which is not a test"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "the threat model names its tests: {checked}");
}
