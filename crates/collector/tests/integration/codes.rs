//! One list of error codes: `Rejection::CODES` (what the collector answers),
//! docs/wire.md §10 and docs/api.md print the same codes with the same
//! statuses in the same order; the generic codes of the HTTP layer are the
//! ones docs/api.md lists.

use std::path::Path;

use candor_collector::Rejection;
use candor_collector::http::GENERIC_CODES;

/// The `(code, status)` rows of the table between `<!-- {marker}:begin -->`
/// and `<!-- {marker}:end -->` in a doc.
fn table(doc: &str, marker: &str) -> Vec<(String, u16)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(doc);
    let text = std::fs::read_to_string(&path).expect("doc");
    let begin = format!("<!-- {marker}:begin -->");
    let end = format!("<!-- {marker}:end -->");
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("{doc}: no {begin}"));
    let stop = text.find(&end).unwrap_or_else(|| panic!("{doc}: no {end}"));
    text[start + begin.len()..stop]
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(2)?.parse().ok()?;
            Some((code.to_owned(), status))
        })
        .collect()
}

#[test]
fn the_upload_codes_of_the_code_wire_md_and_api_md_are_one_list() {
    let code: Vec<(String, u16)> = Rejection::CODES
        .iter()
        .map(|(c, s)| ((*c).to_owned(), *s))
        .collect();
    assert_eq!(table("wire.md", "upload-codes"), code, "docs/wire.md §10");
    assert_eq!(table("api.md", "upload-codes"), code, "docs/api.md");
}

#[test]
fn the_generic_codes_are_documented() {
    let documented: Vec<String> = table("api.md", "generic-codes")
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let mut served: Vec<String> = GENERIC_CODES.iter().map(|c| (*c).to_owned()).collect();
    let mut sorted = documented.clone();
    sorted.sort();
    served.sort();
    assert_eq!(sorted, served);
}

#[test]
fn every_value_rule_code_is_an_upload_code() {
    for code in candor_values::ValueError::CODES {
        assert!(
            Rejection::CODES
                .iter()
                .any(|(c, s)| *c == code && *s == 422),
            "{code}"
        );
    }
}

#[test]
fn the_ohttp_gateway_codes_are_documented_in_order() {
    let code: Vec<(String, u16)> = candor_collector::gateway::GatewayError::CODES
        .iter()
        .map(|(c, s)| ((*c).to_owned(), *s))
        .collect();
    assert_eq!(table("api.md", "ohttp-codes"), code, "docs/api.md");
}
