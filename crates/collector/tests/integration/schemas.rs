//! Several apps, several versions: one collector serves two schemas by id,
//! and accepts reports made under an older version of a schema.

use std::sync::Arc;

use candor_collector::clock::ManualClock;
use candor_collector::{Collector, Config};
use candor_protocol::{Day, MetricValue, Report, ReportId, seal};

use crate::common::{NOON, agent, post_raw, schema};

const CAMERA: &str = r#"
[schema]
id = "org.example.camera"
version = 1

[purposes.usage]
title = "Usage statistics"
description = "How often camera modes are used."
consent_version = 1

[metrics."camera.shots"]
type = "labeled_counter"
purpose = "usage"
description = "Photos taken per mode."
owner = "camera-team@example.org"
expires = 2027-12-31
labels = ["photo", "portrait", "night"]
max_per_report = 200
release = { mechanism = "central_dp", epsilon = 1.0 }

[regions.eu]
name = "European Union"
law = "GDPR"
retention_days = 90
k_min = 10
epsilon_per_metric_day = 2.0
epsilon_per_purpose_day = 2.0
delta_per_purpose_day = 1e-6
"#;

fn report(schema: &str, version: u32, metric: &str, value: MetricValue) -> Report {
    let mut r = Report::new(
        ReportId::random().expect("random"),
        schema,
        version,
        "usage",
        1,
        "eu",
        Day::from_ymd(2026, 11, 29).expect("day"),
    );
    r.metrics.insert(metric.into(), value);
    r
}

#[test]
fn two_schemas_and_an_older_schema_version_are_accepted() {
    let camera = candor_schema::parse(CAMERA, "camera.toml", time::macros::date!(2026 - 11 - 29))
        .expect("valid")
        .schema;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let running = rt
        .block_on(Collector::start(
            config,
            vec![schema(), camera],
            Arc::new(ManualClock::new(NOON)),
            std::future::pending(),
        ))
        .expect("starts");
    let url = format!("http://{}", running.addr);
    // The camera schema has only eu; the browser schema adds the others.
    let regions: Vec<&str> = running.collector.region_ids().collect();
    assert_eq!(regions, ["cn", "eu", "in", "us"]);
    let text = agent()
        .get(&format!("{url}/v1/regions/eu/keys"))
        .call()
        .expect("keys")
        .into_body()
        .read_to_string()
        .expect("body");
    let signing = candor_collector::keys::load_verifying_key(&dir.path().join("eu/keys"))
        .expect("readable")
        .expect("created on first start");
    let key = crate::common::verified_keys(&text, &signing, NOON).remove(0);

    let shots = MetricValue::LabeledCounter([("night".to_string(), 4)].into());
    let tabs = MetricValue::Counter(2);
    for r in [
        report("org.example.camera", 1, "camera.shots", shots),
        // A device still on version 2 of the browser schema (now 3): its
        // metrics still exist, so the report counts.
        report("org.example.browser", 2, "browser.tabs_opened", tabs),
    ] {
        let answer = post_raw(&url, "eu", &seal(&r, &key).expect("seal"), &[]);
        assert_eq!(answer.status, 202, "{answer:?}");
        assert_eq!(answer.json["results"][0]["status"], "accepted");
    }
    let store = crate::common::open_store(dir.path(), "eu");
    let rows = store.rows(&Default::default()).expect("rows");
    let schemas: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.key.schema_id.as_str()).collect();
    assert_eq!(
        schemas,
        ["org.example.browser", "org.example.camera"].into()
    );
    drop(store);
    // The public dictionary lists both.
    let listed = agent()
        .get(&format!("{url}/v1/schema"))
        .call()
        .expect("schema")
        .into_body()
        .read_to_string()
        .expect("body");
    assert!(listed.contains("org.example.camera") && listed.contains("org.example.browser"));
    rt.block_on(running.shutdown());
}
