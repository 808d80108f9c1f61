//! Size probe: Glean initialized on a data directory, one counter added, as
//! an app using glean_parser's generated code would do.

use std::path::PathBuf;

use glean::net::{CapablePingUploadRequest, PingUploader, UploadResult};
use glean::private::{CounterMetric, PingType};
use glean::{ClientInfoMetrics, CommonMetricData, Lifetime};

/// The host app's uploader; this one never sends.
#[derive(Debug)]
struct NeverSends;

impl PingUploader for NeverSends {
    fn upload(&self, _request: CapablePingUploadRequest) -> UploadResult {
        UploadResult::done()
    }
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("glean-compare-glean"));
    std::fs::create_dir_all(&dir).expect("data dir");
    let _ping = PingType::new(
        "usage",
        true,   // include_client_id
        false,  // send_if_empty
        true,   // precise_timestamps
        true,   // include_info_sections
        true,   // enabled
        vec![], // schedules_pings
        vec![], // reason_codes
        true,   // follows_collection_enabled
        vec![], // uploader_capabilities
    );
    let tabs = CounterMetric::new(CommonMetricData {
        category: "browser".into(),
        name: "tabs_opened".into(),
        send_in_pings: vec!["usage".into()],
        lifetime: Lifetime::Ping,
        ..Default::default()
    });
    let cfg = glean::ConfigurationBuilder::new(true, &dir, "org.example.browser")
        .with_uploader(NeverSends)
        .build();
    glean::initialize(cfg, ClientInfoMetrics::unknown());
    tabs.add(1);
    glean::shutdown();
    println!("{}", dir.display());
}
