//! Lexical rules for ids and labels, and the personal-data heuristics.

use crate::limits;

/// Purpose and dimension ids: `[a-z][a-z0-9_]{0,31}`.
pub(crate) fn is_purpose_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= limits::MAX_PURPOSE_ID_LEN
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Region ids: `[a-z][a-z0-9-]{0,15}`.
pub(crate) fn is_region_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= limits::MAX_REGION_ID_LEN
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
}

/// Metric ids: `area.name`, each part `[a-z][a-z0-9_]*`, at most 64 bytes.
pub(crate) fn is_metric_id(s: &str) -> bool {
    let part = |p: &str| {
        let mut chars = p.chars();
        matches!(chars.next(), Some('a'..='z'))
            && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
    };
    s.len() <= limits::MAX_METRIC_ID_LEN
        && s.split_once('.')
            .is_some_and(|(area, name)| part(area) && part(name))
}

/// Schema ids: `[a-z0-9][a-z0-9._-]*`, at most 128 bytes.
pub(crate) fn is_schema_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '0'..='9'))
        && s.len() <= limits::MAX_SCHEMA_ID_LEN
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
}

/// Labels, categories and dimension values: `[a-z0-9][a-z0-9_.-]*`, at most
/// 64 bytes.
pub(crate) fn is_label(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '0'..='9'))
        && s.len() <= limits::MAX_LABEL_LEN
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '.' | '-'))
}

/// What a label looks like, if it looks like personal data.
///
/// These are heuristics against the obvious mistakes (a real address or
/// number pasted into a closed set), not a guarantee.
pub(crate) fn personal_data(s: &str) -> Option<&'static str> {
    if looks_like_email(s) {
        return Some("an e-mail address");
    }
    if looks_like_phone(s) {
        return Some("a phone number");
    }
    if longest_digit_run(s) >= limits::PERSONAL_DATA_DIGIT_RUN {
        return Some("a long number (6 or more digits in a row)");
    }
    None
}

fn looks_like_email(s: &str) -> bool {
    s.split_once('@').is_some_and(|(local, domain)| {
        !local.trim().is_empty()
            && domain
                .split_once('.')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
    })
}

fn looks_like_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    digits >= limits::PHONE_MIN_DIGITS
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '(' | ')' | ' '))
}

fn longest_digit_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in s.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Whether `s` is a key TOML can write bare (no quotes needed).
pub(crate) fn is_bare_key(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_purpose_id("usage"));
        assert!(is_purpose_id("a_1"));
        assert!(!is_purpose_id("1a"));
        assert!(!is_purpose_id("Usage"));
        assert!(!is_purpose_id(""));
        assert!(!is_purpose_id(&"a".repeat(33)));
        assert!(is_purpose_id(&"a".repeat(32)));
        assert!(is_region_id("eu"));
        assert!(is_region_id("us-west"));
        assert!(!is_region_id("us_west"));
        assert!(!is_region_id(&"a".repeat(17)));
        assert!(is_metric_id("app.opened"));
        assert!(is_metric_id("browser.page_load_ms"));
        assert!(!is_metric_id("app"));
        assert!(!is_metric_id("app.opened.twice"));
        assert!(!is_metric_id("app.Opened"));
        assert!(!is_metric_id(".opened"));
        assert!(!is_metric_id(&format!("a.{}", "b".repeat(63))));
        assert!(is_schema_id("org.example.browser"));
        assert!(!is_schema_id("Org.example"));
        assert!(!is_schema_id(".org"));
    }

    #[test]
    fn labels() {
        assert!(is_label("camera"));
        assert!(is_label("4g"));
        assert!(is_label("x86_64"));
        assert!(!is_label("Camera"));
        assert!(!is_label("-x"));
        assert!(!is_label("a b"));
        assert!(!is_label(""));
    }

    #[test]
    fn personal_data_heuristics() {
        assert_eq!(
            personal_data("alice@example.com"),
            Some("an e-mail address")
        );
        assert_eq!(personal_data("+49 30 1234567"), Some("a phone number"));
        assert_eq!(personal_data("555-123-4567"), Some("a phone number"));
        assert!(personal_data("user123456").is_some());
        assert_eq!(personal_data("camera"), None);
        assert_eq!(personal_data("2024"), None);
        assert_eq!(personal_data("12345"), None);
        assert_eq!(personal_data("1.2.3"), None);
        assert_eq!(personal_data("@home"), None);
    }
}
