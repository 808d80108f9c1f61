//! Every test vector of docs/wire.md §9 carries a plaintext that is a valid
//! report of examples/browser.toml: checked by the value rules, not by eye.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The JSON plaintexts of the vectors (the ```json blocks after
/// "Plaintext (").
fn plaintexts() -> Vec<String> {
    let wire = std::fs::read_to_string(root().join("docs/wire.md")).expect("docs/wire.md");
    let mut out = Vec::new();
    let mut rest = wire.as_str();
    while let Some(i) = rest.find("\nPlaintext (") {
        rest = &rest[i + 1..];
        let start = rest.find("```json\n").expect("a json block") + "```json\n".len();
        let end = start + rest[start..].find("```").expect("closed block");
        out.push(rest[start..end].trim().to_owned());
        rest = &rest[end..];
    }
    out
}

#[test]
fn every_vector_plaintext_is_a_valid_report_of_the_example_schema() {
    let text = std::fs::read_to_string(root().join("examples/browser.toml")).expect("schema");
    let schema = candor_schema::parse(&text, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("the example schema is valid")
        .schema;
    let plaintexts = plaintexts();
    assert!(plaintexts.len() >= 2, "found {} vectors", plaintexts.len());
    for (i, json) in plaintexts.iter().enumerate() {
        let report = candor_protocol::Report::from_json(json.as_bytes())
            .unwrap_or_else(|e| panic!("vector {}: {e}", i + 1));
        candor_values::check_report(&schema, &report)
            .unwrap_or_else(|e| panic!("vector {}: {} ({e})", i + 1, e.code()));
        // Consent and day: what the collector checks after the value rules.
        let purpose = schema.purpose(&report.purpose).expect("declared");
        assert_eq!(
            report.consent_version,
            purpose.consent_version,
            "vector {}",
            i + 1
        );
    }
}
