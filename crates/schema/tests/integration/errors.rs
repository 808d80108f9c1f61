//! One test per error kind: each asserts the code, the exact line (the line
//! of the offending text) and the path. Warnings (`metric_expired`,
//! `unused_purpose`, `unused_dimension`) are checked to leave the schema
//! valid.

use candor_schema::{Diagnostic, ErrorKind};

use crate::{line_of, parse};

/// A small valid schema every test starts from.
const BASE: &str = r#"[schema]
id = "org.example.test"
version = 1

[purposes.usage]
title = "Usage"
description = "How often features are used."
consent_version = 1

[dimensions.platform]
description = "The platform."
values = ["android", "ios"]

[metrics."app.opened"]
type = "counter"
purpose = "usage"
description = "How many times the app was opened."
owner = "team@example.org"
expires = 2027-12-31
max_per_report = 10
dimensions = ["platform"]
release = { mechanism = "central_dp", epsilon = 0.5 }

[regions.eu]
name = "European Union"
law = "GDPR"
retention_days = 395
k_min = 10
epsilon_per_metric_day = 2.0
epsilon_per_purpose_day = 3.0
delta_per_purpose_day = 1e-6
"#;

/// `BASE` with `from` (which must occur exactly once) replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "{from:?} must occur once in BASE"
    );
    BASE.replace(from, to)
}

/// `BASE` with `extra` appended.
fn with(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

/// Asserts `src` is invalid with exactly one error of `kind`, on the line
/// holding `needle`, at `path`; returns it.
fn expect_error(src: &str, kind: ErrorKind, needle: &str, path: &str) -> Diagnostic {
    let errors = match parse(src) {
        Ok(_) => panic!("expected error[{}], but the schema is valid", kind.code()),
        Err(e) => e,
    };
    let of_kind: Vec<&Diagnostic> = errors.iter().filter(|d| d.kind == kind).collect();
    assert_eq!(
        of_kind.len(),
        1,
        "expected one error[{}], got:\n{errors}",
        kind.code()
    );
    let d = of_kind[0].clone();
    let line = line_of(src, needle);
    assert_eq!(d.kind.code(), kind.code());
    assert_eq!((d.line, d.path.as_str()), (line, path), "{d}");
    assert!(
        d.to_string().starts_with(&format!(
            "test.toml:{line}:{}: error[{}]: {path}: ",
            d.column,
            kind.code()
        )),
        "{d}"
    );
    d
}

/// Asserts `src` is valid with exactly one warning of `kind` on the line
/// holding `needle`, at `path`.
fn expect_warning(src: &str, kind: ErrorKind, needle: &str, path: &str) -> Diagnostic {
    let checked = match parse(src) {
        Ok(c) => c,
        Err(e) => panic!("a warning must not make the schema invalid:\n{e}"),
    };
    let of_kind: Vec<&Diagnostic> = checked.warnings.iter().filter(|d| d.kind == kind).collect();
    assert_eq!(of_kind.len(), 1, "warnings: {:#?}", checked.warnings);
    let d = of_kind[0].clone();
    assert_eq!(
        (d.line, d.path.as_str()),
        (line_of(src, needle), path),
        "{d}"
    );
    assert!(
        d.to_string()
            .contains(&format!(": warning[{}]: ", kind.code())),
        "{d}"
    );
    d
}

#[test]
fn base_is_valid() {
    let checked = parse(BASE).expect("BASE is valid");
    assert!(checked.warnings.is_empty(), "{:#?}", checked.warnings);
}

#[test]
fn syntax() {
    let src = edit("retention_days = 395", "retention_days = = 395");
    let d = expect_error(&src, ErrorKind::Syntax, "retention_days", "regions.eu");
    assert_eq!(d.column, 18);
}

#[test]
fn syntax_errors_are_capped() {
    let src: String = (0..50).map(|i| format!("line {i}\n")).collect();
    let errors = parse(&src).expect_err("not TOML");
    assert_eq!(errors.len(), candor_schema::limits::MAX_SYNTAX_ERRORS + 1);
    assert!(errors.iter().all(|d| d.kind == ErrorKind::Syntax));
    assert!(
        errors.errors[10]
            .message
            .contains("more syntax errors follow")
    );
}

#[test]
fn unknown_field() {
    let src = edit("max_per_report = 10", "max_per_reprot = 10");
    let d = expect_error(
        &src,
        ErrorKind::UnknownField,
        "max_per_reprot",
        "metrics.\"app.opened\".max_per_reprot",
    );
    assert!(d.message.contains("expected one of"), "{d}");
}

#[test]
fn unknown_field_in_inline_table() {
    let src = edit("epsilon = 0.5 }", "epsilon = 0.5, noise = \"laplace\" }");
    expect_error(
        &src,
        ErrorKind::UnknownField,
        "noise",
        "metrics.\"app.opened\".release.noise",
    );
}

#[test]
fn unknown_section() {
    let src = with("[tracking]\nenabled = true\n");
    expect_error(&src, ErrorKind::UnknownField, "[tracking]", "tracking");
}

#[test]
fn missing_field() {
    let src = edit("owner = \"team@example.org\"\n", "");
    expect_error(
        &src,
        ErrorKind::MissingField,
        "[metrics.\"app.opened\"]",
        "metrics.\"app.opened\".owner",
    );
}

#[test]
fn missing_field_for_type() {
    let src = edit("type = \"counter\"", "type = \"labeled_counter\"");
    expect_error(
        &src,
        ErrorKind::MissingField,
        "[metrics.\"app.opened\"]",
        "metrics.\"app.opened\".labels",
    );
}

#[test]
fn invalid_field() {
    let src = edit("type = \"counter\"", "type = \"countr\"");
    let d = expect_error(
        &src,
        ErrorKind::InvalidField,
        "countr",
        "metrics.\"app.opened\".type",
    );
    assert!(
        d.message.contains("labeled_counter"),
        "lists the allowed types: {d}"
    );
}

#[test]
fn invalid_field_wrong_type() {
    let src = edit("k_min = 10", "k_min = \"ten\"");
    expect_error(&src, ErrorKind::InvalidField, "k_min", "regions.eu.k_min");
}

#[test]
fn invalid_field_bad_date() {
    let src = edit("expires = 2027-12-31", "expires = \"soon\"");
    expect_error(
        &src,
        ErrorKind::InvalidField,
        "expires",
        "metrics.\"app.opened\".expires",
    );
}

#[test]
fn field_not_applicable() {
    let src = edit(
        "max_per_report = 10",
        "max_per_report = 10\nlabels = [\"a\"]",
    );
    expect_error(
        &src,
        ErrorKind::FieldNotApplicable,
        "labels",
        "metrics.\"app.opened\".labels",
    );
}

#[test]
fn conflicting_fields() {
    let src = edit(
        "values = [\"android\", \"ios\"]",
        "values = [\"android\", \"ios\"]\ncoarsen = \"major\"",
    );
    expect_error(
        &src,
        ErrorKind::ConflictingFields,
        "coarsen",
        "dimensions.platform.coarsen",
    );
}

#[test]
fn empty_text() {
    let src = edit("owner = \"team@example.org\"", "owner = \"  \"");
    expect_error(
        &src,
        ErrorKind::EmptyText,
        "owner",
        "metrics.\"app.opened\".owner",
    );
}

#[test]
fn invalid_id() {
    let src = with(
        "[regions.EU_west]\nname = \"x\"\nlaw = \"x\"\nretention_days = 1\nk_min = 2\nepsilon_per_metric_day = 1.0\nepsilon_per_purpose_day = 1.0\ndelta_per_purpose_day = 1e-6\n",
    );
    expect_error(
        &src,
        ErrorKind::InvalidId,
        "[regions.EU_west]",
        "regions.EU_west",
    );
}

#[test]
fn invalid_metric_id() {
    let src = edit("[metrics.\"app.opened\"]", "[metrics.\"App-opened\"]");
    expect_error(
        &src,
        ErrorKind::InvalidId,
        "App-opened",
        "metrics.App-opened",
    );
}

#[test]
fn invalid_version() {
    let src = edit("consent_version = 1", "consent_version = 0");
    expect_error(
        &src,
        ErrorKind::InvalidVersion,
        "consent_version",
        "purposes.usage.consent_version",
    );
}

#[test]
fn invalid_label() {
    let src = edit(
        "values = [\"android\", \"ios\"]",
        "values = [\"android\", \"iOS\"]",
    );
    expect_error(
        &src,
        ErrorKind::InvalidLabel,
        "iOS",
        "dimensions.platform.values[1]",
    );
}

#[test]
fn unknown_purpose() {
    let src = edit("purpose = \"usage\"", "purpose = \"ads\"");
    let d = expect_error(
        &src,
        ErrorKind::UnknownPurpose,
        "purpose = \"ads\"",
        "metrics.\"app.opened\".purpose",
    );
    assert!(
        d.message.contains("`usage`"),
        "lists declared purposes: {d}"
    );
}

#[test]
fn unknown_dimension() {
    let src = edit(
        "dimensions = [\"platform\"]",
        "dimensions = [\"platform\",\n  \"country\"]",
    );
    expect_error(
        &src,
        ErrorKind::UnknownDimension,
        "\"country\"",
        "metrics.\"app.opened\".dimensions[1]",
    );
}

#[test]
fn duplicate_table_is_duplicate_id() {
    // Two `[metrics."app.opened"]` tables: TOML calls this a duplicate key;
    // we report it as `duplicate_id` on the second header, and do not echo
    // every key the two tables share.
    let src = with("[metrics.\"app.opened\"] # again\ntype = \"counter\"\npurpose = \"usage\"\n");
    let d = expect_error(
        &src,
        ErrorKind::DuplicateId,
        "# again",
        "metrics.\"app.opened\"",
    );
    assert!(d.message.contains("first at line 14"), "{d}");
    let errors = parse(&src).expect_err("invalid");
    assert_eq!(errors.len(), 1, "{errors}");
}

#[test]
fn duplicate_key_is_syntax() {
    let src = edit("k_min = 10", "k_min = 10\nk_min = 20");
    expect_error(&src, ErrorKind::Syntax, "k_min = 20", "regions.eu");
}

#[test]
fn duplicate_label() {
    let src = edit(
        "values = [\"android\", \"ios\"]",
        "values = [\"android\", \"ios\",\n  \"android\"]",
    );
    let d = expect_error(
        &src,
        ErrorKind::DuplicateId,
        "  \"android\"]",
        "dimensions.platform.values[2]",
    );
    assert!(d.message.contains("index 0"), "{d}");
}

#[test]
fn duplicate_dimension_reference() {
    let src = edit(
        "dimensions = [\"platform\"]",
        "dimensions = [\"platform\", \"platform\"]",
    );
    expect_error(
        &src,
        ErrorKind::DuplicateId,
        "dimensions = [",
        "metrics.\"app.opened\".dimensions[1]",
    );
}

#[test]
fn empty_section() {
    let regions = &BASE[BASE.find("[regions.eu]").expect("in BASE")..];
    let src = BASE.replace(regions, "");
    let d = expect_error(&src, ErrorKind::EmptySection, "[schema]", "regions");
    assert_eq!(d.column, 1);
}

#[test]
fn empty_section_table() {
    let regions = &BASE[BASE.find("[regions.eu]").expect("in BASE")..];
    let src = BASE.replace(regions, "[regions]\n");
    expect_error(&src, ErrorKind::EmptySection, "[regions]", "regions");
}

#[test]
fn empty_set() {
    let src = edit("values = [\"android\", \"ios\"]", "values = []");
    expect_error(
        &src,
        ErrorKind::EmptySet,
        "values",
        "dimensions.platform.values",
    );
}

#[test]
fn oversized_set() {
    let labels: Vec<String> = (0..=candor_schema::limits::MAX_SET_SIZE)
        .map(|i| format!("\"l{i}\""))
        .collect();
    let src = edit(
        "type = \"counter\"",
        &format!(
            "type = \"labeled_counter\"\nlabels = [{}]",
            labels.join(", ")
        ),
    );
    let d = expect_error(
        &src,
        ErrorKind::OversizedSet,
        "labels",
        "metrics.\"app.opened\".labels",
    );
    assert!(d.message.contains("65 labels"), "{d}");
}

#[test]
fn oversized_set_at_limit_is_fine() {
    let labels: Vec<String> = (0..candor_schema::limits::MAX_SET_SIZE)
        .map(|i| format!("\"l{i}\""))
        .collect();
    let src = edit(
        "type = \"counter\"",
        &format!(
            "type = \"labeled_counter\"\nlabels = [{}]",
            labels.join(", ")
        ),
    );
    parse(&src).expect("64 labels are allowed");
}

#[test]
fn personal_data_label() {
    let src = edit(
        "type = \"counter\"",
        "type = \"labeled_counter\"\nlabels = [\"camera\",\n  \"alice@example.com\"]",
    );
    let d = expect_error(
        &src,
        ErrorKind::PersonalDataLabel,
        "alice@",
        "metrics.\"app.opened\".labels[1]",
    );
    assert!(d.message.contains("e-mail"), "{d}");
}

#[test]
fn personal_data_phone_and_digits() {
    let src = edit(
        "values = [\"android\", \"ios\"]",
        "values = [\"android\",\n  \"+49 30 1234567\",\n  \"user1234567\"]",
    );
    let errors = parse(&src).expect_err("invalid");
    let found: Vec<(usize, &str)> = errors
        .iter()
        .filter(|d| d.kind == ErrorKind::PersonalDataLabel)
        .map(|d| (d.line, d.path.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (line_of(&src, "+49"), "dimensions.platform.values[1]"),
            (line_of(&src, "user123"), "dimensions.platform.values[2]"),
        ]
    );
}

#[test]
fn buckets_not_increasing() {
    let src = edit(
        "type = \"counter\"",
        "type = \"distribution\"\nbuckets = [10, 50,\n  50, 100]",
    );
    let d = expect_error(
        &src,
        ErrorKind::BucketsNotIncreasing,
        "  50, 100]",
        "metrics.\"app.opened\".buckets[2]",
    );
    assert_eq!(d.column, 3);
}

#[test]
fn invalid_epsilon() {
    let src = edit("epsilon = 0.5 }", "epsilon = 0 }");
    expect_error(
        &src,
        ErrorKind::InvalidEpsilon,
        "epsilon = 0 }",
        "metrics.\"app.opened\".release.epsilon",
    );
}

#[test]
fn invalid_epsilon_region() {
    for bad in ["11.0", "nan", "inf", "-1.0"] {
        let src = edit(
            "epsilon_per_metric_day = 2.0",
            &format!("epsilon_per_metric_day = {bad}"),
        );
        expect_error(
            &src,
            ErrorKind::InvalidEpsilon,
            "epsilon_per_metric_day",
            "regions.eu.epsilon_per_metric_day",
        );
    }
}

#[test]
fn epsilon_over_budget() {
    let src = edit("epsilon = 0.5 }", "epsilon = 3.0 }");
    let d = expect_error(
        &src,
        ErrorKind::EpsilonOverBudget,
        "epsilon = 3.0",
        "metrics.\"app.opened\".release.epsilon",
    );
    assert!(d.message.contains("`eu`"), "{d}");
}

#[test]
fn invalid_delta_out_of_range() {
    let src = edit("epsilon = 0.5 }", "epsilon = 0.5, delta = 0.01 }");
    expect_error(
        &src,
        ErrorKind::InvalidDelta,
        "delta = 0.01",
        "metrics.\"app.opened\".release.delta",
    );
}

#[test]
fn invalid_delta_missing_for_domain_set() {
    let src = edit("type = \"counter\"", "type = \"domain_set\"");
    expect_error(
        &src,
        ErrorKind::InvalidDelta,
        "release =",
        "metrics.\"app.opened\".release.delta",
    );
}

#[test]
fn count_epsilon_missing_for_local_dp() {
    let src = edit("type = \"counter\"", "type = \"boolean\"")
        .replace("max_per_report = 10\n", "")
        .replace(
            "{ mechanism = \"central_dp\", epsilon = 0.5 }",
            "{ mechanism = \"local_dp\", epsilon = 2.0 }",
        );
    let d = expect_error(
        &src,
        ErrorKind::MissingField,
        "local_dp",
        "metrics.\"app.opened\".release.count_epsilon",
    );
    assert!(d.message.contains("number of reports"), "{d}");
    // With it, and with a delta, a local-DP metric is valid.
    parse(&src.replace(
        "epsilon = 2.0 }",
        "epsilon = 2.0, count_epsilon = 0.5, delta = 1e-8 }",
    ))
    .expect("valid");
}

#[test]
fn count_epsilon_is_for_local_dp_only() {
    let src = edit("epsilon = 0.5 }", "epsilon = 0.5, count_epsilon = 0.5 }");
    expect_error(
        &src,
        ErrorKind::FieldNotApplicable,
        "count_epsilon",
        "metrics.\"app.opened\".release.count_epsilon",
    );
}

#[test]
fn invalid_delta_missing_for_open_dimension() {
    let src = with("[dimensions.os_major]\ndescription = \"OS.\"\ncoarsen = \"major\"\n").replace(
        "dimensions = [\"platform\"]",
        "dimensions = [\"platform\", \"os_major\"]",
    );
    let d = expect_error(
        &src,
        ErrorKind::InvalidDelta,
        "release =",
        "metrics.\"app.opened\".release.delta",
    );
    assert!(d.message.contains("os_major"), "{d}");
    parse(&src.replace("epsilon = 0.5 }", "epsilon = 0.5, delta = 1e-8 }")).expect("valid");
}

#[test]
fn epsilon_over_purpose_budget() {
    let src = edit(
        "epsilon_per_purpose_day = 3.0",
        "epsilon_per_purpose_day = 0.4",
    );
    let d = expect_error(
        &src,
        ErrorKind::EpsilonOverBudget,
        "epsilon = 0.5",
        "metrics.\"app.opened\".release.epsilon",
    );
    assert!(d.message.contains("per purpose per day"), "{d}");
}

#[test]
fn delta_over_budget() {
    let src = edit("epsilon = 0.5 }", "epsilon = 0.5, delta = 1e-5 }");
    let d = expect_error(
        &src,
        ErrorKind::DeltaOverBudget,
        "delta = 1e-5",
        "metrics.\"app.opened\".release.delta",
    );
    assert!(d.message.contains("`eu`"), "{d}");
}

#[test]
fn invalid_delta_region() {
    for bad in ["0.0", "0.01", "nan"] {
        let src = edit(
            "delta_per_purpose_day = 1e-6",
            &format!("delta_per_purpose_day = {bad}"),
        );
        expect_error(
            &src,
            ErrorKind::InvalidDelta,
            "delta_per_purpose_day",
            "regions.eu.delta_per_purpose_day",
        );
    }
}

#[test]
fn report_window_too_long() {
    let src = with("").replace("k_min = 10", "k_min = 10\nreport_window_days = 31");
    expect_error(
        &src,
        ErrorKind::ReportWindowTooLong,
        "report_window_days",
        "regions.eu.report_window_days",
    );
    let ok = parse(&src.replace("= 31", "= 30")).expect("valid");
    assert_eq!(ok.schema.regions["eu"].report_window_days, 30);
    let default = parse(BASE).expect("valid");
    assert_eq!(
        default.schema.regions["eu"].report_window_days,
        candor_schema::limits::DEFAULT_REPORT_WINDOW_DAYS
    );
}

#[test]
fn local_dp_unsupported_type() {
    let src = edit("mechanism = \"central_dp\"", "mechanism = \"local_dp\"");
    expect_error(
        &src,
        ErrorKind::LocalDpUnsupportedType,
        "local_dp",
        "metrics.\"app.opened\".release.mechanism",
    );
}

#[test]
fn k_min_too_small() {
    let src = edit("k_min = 10", "k_min = 1");
    expect_error(&src, ErrorKind::KMinTooSmall, "k_min", "regions.eu.k_min");
}

#[test]
fn zero_retention() {
    let src = edit("retention_days = 395", "retention_days = 0");
    expect_error(
        &src,
        ErrorKind::ZeroRetention,
        "retention_days",
        "regions.eu.retention_days",
    );
}

#[test]
fn retention_too_long() {
    let src = edit("retention_days = 395", "retention_days = 3651");
    expect_error(
        &src,
        ErrorKind::RetentionTooLong,
        "retention_days",
        "regions.eu.retention_days",
    );
}

#[test]
fn invalid_url() {
    let src = with("collector = \"http://eu.collector.example\"\n");
    expect_error(
        &src,
        ErrorKind::InvalidUrl,
        "collector",
        "regions.eu.collector",
    );
}

#[test]
fn invalid_contribution_bound_zero() {
    let src = edit("max_per_report = 10", "max_per_report = 0");
    expect_error(
        &src,
        ErrorKind::InvalidContributionBound,
        "max_per_report",
        "metrics.\"app.opened\".max_per_report",
    );
}

#[test]
fn invalid_contribution_bound_missing() {
    let src = edit("max_per_report = 10\n", "");
    expect_error(
        &src,
        ErrorKind::InvalidContributionBound,
        "[metrics.\"app.opened\"]",
        "metrics.\"app.opened\".max_per_report",
    );
}

#[test]
fn invalid_contribution_bound_boolean() {
    let src = edit("type = \"counter\"", "type = \"boolean\"").replace(
        "{ mechanism = \"central_dp\", epsilon = 0.5 }",
        "{ mechanism = \"local_dp\", epsilon = 2.0, count_epsilon = 0.5 }",
    );
    expect_error(
        &src,
        ErrorKind::InvalidContributionBound,
        "max_per_report",
        "metrics.\"app.opened\".max_per_report",
    );
    // Omitted or 1 is fine.
    parse(&src.replace("max_per_report = 10", "max_per_report = 1")).expect("valid");
    parse(&src.replace("max_per_report = 10\n", "")).expect("valid");
}

#[test]
fn metric_expired_is_a_warning() {
    let src = edit("expires = 2027-12-31", "expires = 2026-11-28");
    let d = expect_warning(
        &src,
        ErrorKind::MetricExpired,
        "expires",
        "metrics.\"app.opened\".expires",
    );
    assert!(d.message.contains("2026-11-28"), "{d}");
    // The last day itself is not expired.
    let today = edit("expires = 2027-12-31", "expires = \"2026-11-29\"");
    assert!(parse(&today).expect("valid").warnings.is_empty());
    let never = edit("expires = 2027-12-31", "expires = \"never\"");
    let checked = parse(&never).expect("valid");
    assert_eq!(checked.schema.metrics["app.opened"].expires, None);
}

#[test]
fn unused_purpose_is_a_warning() {
    let src =
        with("[purposes.ads]\ntitle = \"Ads\"\ndescription = \"Ads.\"\nconsent_version = 1\n");
    expect_warning(
        &src,
        ErrorKind::UnusedPurpose,
        "[purposes.ads]",
        "purposes.ads",
    );
}

#[test]
fn unused_dimension_is_a_warning() {
    let src = with("[dimensions.os_major]\ndescription = \"OS.\"\ncoarsen = \"major\"\n");
    expect_warning(
        &src,
        ErrorKind::UnusedDimension,
        "[dimensions.os_major]",
        "dimensions.os_major",
    );
}

#[test]
fn every_error_is_reported_in_source_order() {
    let src = with(concat!(
        "[metrics.\"app.closed\"]\n",
        "type = \"labeled_counter\"\n",
        "purpose = \"nope\"\n",
        "description = \"\"\n",
        "owner = \"team\"\n",
        "expires = 2027-01-01\n",
        "labels = [\"a\", \"a\"]\n",
        "max_per_report = 0\n",
        "release = { mechanism = \"local_dp\", epsilon = 20, count_epsilon = 0.5 }\n",
        "\n",
        "[metrics.\"app.crashed\"]\n",
        "type = \"counter\"\n",
        "purpos = \"usage\"\n",
    ))
    .replace("k_min = 10", "k_min = 0");
    let errors = parse(&src).expect_err("invalid");
    let codes: Vec<&str> = errors.iter().map(|d| d.kind.code()).collect();
    assert_eq!(
        codes,
        [
            "k_min_too_small",
            "unknown_purpose",
            "empty_text",
            "duplicate_id",
            "invalid_contribution_bound",
            "local_dp_unsupported_type",
            "invalid_epsilon",
            "unknown_field",
        ],
        "{errors}"
    );
    let lines: Vec<usize> = errors.iter().map(|d| d.line).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted);
    assert_eq!(errors.to_string().lines().count(), errors.len());
}

#[test]
fn every_kind_has_a_distinct_code() {
    // The codes tested above, plus this list, document the stable codes.
    let codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    assert_eq!(
        codes,
        [
            "syntax",
            "unknown_field",
            "missing_field",
            "invalid_field",
            "field_not_applicable",
            "conflicting_fields",
            "empty_text",
            "invalid_id",
            "invalid_version",
            "invalid_label",
            "unknown_purpose",
            "unknown_dimension",
            "duplicate_id",
            "empty_section",
            "empty_set",
            "oversized_set",
            "personal_data_label",
            "buckets_not_increasing",
            "invalid_epsilon",
            "epsilon_over_budget",
            "invalid_delta",
            "delta_over_budget",
            "report_window_too_long",
            "local_dp_unsupported_type",
            "k_min_too_small",
            "zero_retention",
            "retention_too_long",
            "invalid_url",
            "invalid_contribution_bound",
            "metric_expired",
            "unused_purpose",
            "unused_dimension",
        ]
    );
}
