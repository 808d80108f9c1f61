//! Fixtures shared by the unit tests.

use candor_schema::Schema;

/// Noon on 2026-11-29 (UTC), a day the example schema is valid.
pub(crate) const NOON_2026_11_29: i64 = 1_795_953_600;

/// The example data dictionary (examples/browser.toml), parsed as of 2026-11-29.
pub(crate) fn example_schema() -> Schema {
    candor_schema::parse(
        include_str!("../../../examples/browser.toml"),
        "browser.toml",
        time::macros::date!(2026 - 11 - 29),
    )
    .expect("the example schema is valid")
    .schema
}
