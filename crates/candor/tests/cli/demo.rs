//! `candor demo --no-serve`: the summary covers every region of the
//! example schema (devices and reports in each, issue 15) and shows
//! released active devices per region beside the simulator's truth
//! (issue 16).

use crate::serve::free_port;
use crate::{candor, s, text};

/// The whitespace-separated fields of the summary line that starts with
/// `region` in the table under the line starting with `heading`.
fn row<'a>(printed: &'a str, heading: &str, region: &str) -> Vec<&'a str> {
    printed
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(2) // the heading and the table's header
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('('))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&region))
        .unwrap_or_else(|| panic!("no line for {region} under {heading:?} in:\n{printed}"))
}

#[test]
fn the_demo_summary_has_every_region_with_reports_and_active_devices() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let port = free_port().to_string();
    let out = candor(&[
        "demo",
        "--no-serve",
        "--dir",
        s(&dir),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--devices",
        "500",
        "--days",
        "14",
    ]);
    let (printed, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}\n{printed}");
    let schema = candor_schema::load(crate::workspace_root().join("examples/browser.toml"))
        .expect("the example schema")
        .schema;
    assert!(schema.regions.contains_key("cn"), "the example has cn");
    for region in schema.regions.keys() {
        // region, devices, one count per purpose, the total.
        let reports = row(&printed, "Reports accepted, by region", region);
        assert_eq!(reports.len(), 3 + schema.purposes.len(), "{reports:?}");
        let number = |f: &str| f.parse::<u64>().expect("a count");
        assert!(number(reports[1]) > 0, "{region} has devices: {reports:?}");
        let total = number(reports[reports.len() - 1]);
        assert!(total > 0, "{region} has reports: {reports:?}");
        let per_purpose: u64 = reports[2..reports.len() - 1]
            .iter()
            .map(|f| number(f))
            .sum();
        assert_eq!(per_purpose, total, "{reports:?}");

        // Daily and weekly active devices: released (a number and its
        // interval) or suppressed below k, and the true count.
        let active = row(&printed, "Active devices (app.active", region);
        let line = active.join(" ");
        assert!(
            !line.contains("refused"),
            "the demo's budget allows both releases: {line}"
        );
        assert!(
            line.matches(" – ").count() + line.matches("below k").count() == 2,
            "{line}"
        );
    }
    // The largest region's releases come out, close to the truth: within
    // the noise of ε = 0.2 (scale about 7 devices) many times over.
    let eu = row(&printed, "Active devices (app.active", "eu");
    let (released, truth): (f64, f64) = (
        eu[1].parse().expect("released"),
        eu[5].parse().expect("true"),
    );
    assert!(truth > 20.0, "{eu:?}");
    assert!((released - truth).abs() < 100.0, "{eu:?}");
}
