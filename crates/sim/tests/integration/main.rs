//! Integration tests of candor-sim, one binary:
//!
//! - `validate`: a test-local checker that a report is valid for a schema.
//! - `fake`: a minimal keep-alive HTTP/1.1 collector on 127.0.0.1.
//! - `generate`: generated reports are valid, varied and distinct.
//! - `seal`: pre-sealed envelopes open to valid reports; grouping into bodies.
//! - `send`: counting, percentiles, retries, pacing and limits against the
//!   fake collector.
//! - `simulate`: the fleet simulator's reports (real SDK) against the fake
//!   collector: valid, equal to the ground truth, refusals and overload
//!   counted and retried, hooks on simulated days.

mod fake;
mod generate;
mod seal;
mod send;
mod simulate;
mod validate;

use std::path::PathBuf;

use candor_protocol::Day;
use candor_schema::Schema;

/// The report day of the tests (every metric of the example schema is live).
pub(crate) fn day() -> Day {
    Day::from_ymd(2026, 11, 29).expect("a real day")
}

/// examples/browser.toml, the schema the project ships.
pub(crate) fn browser_schema() -> Schema {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/browser.toml");
    let src = std::fs::read_to_string(&path).expect("examples/browser.toml is readable");
    candor_schema::parse(&src, "browser.toml", day().date())
        .expect("the example schema is valid")
        .schema
}

/// A schema with the corner cases: an expired metric, a purpose whose only
/// metric expired, tight bounds, a dimension of each rule.
pub(crate) fn edge_schema() -> Schema {
    candor_schema::parse(EDGE_SCHEMA, "edge.toml", day().date())
        .expect("the edge schema is valid")
        .schema
}

const EDGE_SCHEMA: &str = r#"
[schema]
id = "org.example.edge"
version = 7

[purposes.usage]
title = "Usage"
description = "Usage."
consent_version = 4

[purposes.gone]
title = "Gone"
description = "Only expired metrics."
consent_version = 2

[dimensions.platform]
description = "Platform."
values = ["android"]

[dimensions.app_version]
description = "Version."
coarsen = "major_minor"

[dimensions.os_major]
description = "OS."
coarsen = "major"

[metrics."a.tight_labels"]
type = "labeled_counter"
purpose = "usage"
description = "Two labels, bound 1."
owner = "o@example.org"
expires = 2027-12-31
labels = ["x", "y"]
max_per_report = 1
dimensions = ["platform", "os_major"]
release = { mechanism = "central_dp", epsilon = 1.0, delta = 1e-9 }

[metrics."a.one_sample"]
type = "distribution"
purpose = "usage"
description = "One sample."
owner = "o@example.org"
expires = "never"
buckets = [10]
max_per_report = 1
dimensions = ["app_version"]
release = { mechanism = "central_dp", epsilon = 1.0, delta = 1e-9 }

[metrics."a.one_domain"]
type = "domain_set"
purpose = "usage"
description = "One domain."
owner = "o@example.org"
expires = 2027-12-31
max_per_report = 1
release = { mechanism = "central_dp", epsilon = 1.0, delta = 1e-9 }

[metrics."a.big_counter"]
type = "counter"
purpose = "usage"
description = "Large bound."
owner = "o@example.org"
expires = 2027-12-31
max_per_report = 1000000
dimensions = ["platform", "app_version", "os_major"]
release = { mechanism = "central_dp", epsilon = 1.0, delta = 1e-9 }

[metrics."a.expired"]
type = "counter"
purpose = "usage"
description = "Expired."
owner = "o@example.org"
expires = 2026-01-01
max_per_report = 5
release = { mechanism = "central_dp", epsilon = 1.0 }

[metrics."b.expired"]
type = "boolean"
purpose = "gone"
description = "Expired."
owner = "o@example.org"
expires = 2025-06-30
release = { mechanism = "local_dp", epsilon = 1.0, count_epsilon = 0.5 }

[regions.eu]
name = "European Union"
law = "GDPR"
retention_days = 30
k_min = 2
epsilon_per_metric_day = 1.0
epsilon_per_purpose_day = 2.0
delta_per_purpose_day = 1e-6
"#;
