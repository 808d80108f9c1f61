//! A collector on 127.0.0.1:0 with the example schema and a manual clock.

use std::path::Path;
use std::sync::Arc;

use candor_collector::clock::ManualClock;
use candor_collector::{Collector, Config, Running};
use candor_protocol::{Day, KeyConfig, MetricValue, Report, ReportId, SignedKeyList, VerifyingKey};
use candor_schema::Schema;
use candor_store::{AggregateRow, RowFilter};

/// 2026-11-29T12:00:00Z.
pub(crate) const NOON: i64 = 1_795_953_600;

pub(crate) fn schema() -> Schema {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/browser.toml");
    let src = std::fs::read_to_string(path).expect("example schema");
    candor_schema::parse(&src, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("valid")
        .schema
}

pub(crate) struct Server {
    pub(crate) running: Running,
    pub(crate) clock: ManualClock,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) rt: tokio::runtime::Runtime,
}

impl Server {
    pub(crate) fn start_with(f: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = ManualClock::new(NOON);
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().to_owned(),
            regions: vec!["eu".into(), "us".into()],
            ..Config::default()
        };
        f(&mut config);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let running = rt
            .block_on(Collector::start(
                config,
                vec![schema()],
                Arc::new(clock.clone()),
                std::future::pending(),
            ))
            .expect("starts");
        Server {
            running,
            clock,
            dir,
            rt,
        }
    }

    pub(crate) fn start() -> Server {
        Self::start_with(|_| {})
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    /// The region's key list document as served (docs/wire.md §5.2).
    pub(crate) fn key_list_text(&self, region: &str) -> String {
        agent()
            .get(&format!("{}/v1/regions/{region}/keys", self.url()))
            .call()
            .expect("keys")
            .into_body()
            .read_to_string()
            .expect("body")
    }

    /// The region's signing public key, as apps pin it.
    pub(crate) fn signing_key(&self, region: &str) -> VerifyingKey {
        let dir = self.dir.path().join(region).join("keys");
        candor_collector::keys::load_verifying_key(&dir)
            .expect("readable")
            .expect("the collector created the signing key")
    }

    /// The region's active key configs, preferred first, as devices get
    /// them: from the served list, verified with the signing key.
    pub(crate) fn key_configs(&self, region: &str) -> Vec<KeyConfig> {
        verified_keys(
            &self.key_list_text(region),
            &self.signing_key(region),
            candor_collector::clock::Clock::now(&self.clock),
        )
    }

    /// The key devices seal to: the list's first.
    pub(crate) fn key(&self, region: &str) -> KeyConfig {
        self.key_configs(region).remove(0)
    }

    /// Every value row of a region (not the report-count rows, which
    /// [`Server::all_rows`] includes).
    pub(crate) fn rows(&self, region: &str) -> Vec<AggregateRow> {
        self.all_rows(region)
            .into_iter()
            .filter(|r| r.key.cell != candor_store::REPORTS_CELL)
            .collect()
    }

    /// Every aggregate row of a region, report counts included.
    pub(crate) fn all_rows(&self, region: &str) -> Vec<AggregateRow> {
        self.store(region)
            .rows(&RowFilter::default())
            .expect("rows")
    }

    /// A read handle on a region's store, opened from the data directory as
    /// an operator would: the collector hands out none.
    pub(crate) fn store(&self, region: &str) -> Box<dyn candor_store::Store> {
        open_store(self.dir.path(), region)
    }

    /// Posts a body; returns status, headers we care about, and body text.
    pub(crate) fn post(&self, region: &str, body: &[u8]) -> Answer {
        post_raw(&self.url(), region, body, &[])
    }

    /// Everything stored in both served test regions (aggregate rows and
    /// report counts), to show that a refusal changed nothing.
    pub(crate) fn snapshot(&self) -> String {
        let mut out = String::new();
        for region in ["eu", "us"] {
            out.push_str(&format!("{:?}", self.rows(region)));
            let counts = self.store(region).report_counts().expect("counts");
            out.push_str(&format!("{counts:?}"));
        }
        out
    }

    pub(crate) fn stop(self) -> tempfile::TempDir {
        let Server {
            running, dir, rt, ..
        } = self;
        rt.block_on(running.shutdown());
        dir
    }
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) content_type: String,
    pub(crate) json: serde_json::Value,
}

pub(crate) fn post_raw(url: &str, region: &str, body: &[u8], headers: &[(&str, &str)]) -> Answer {
    let mut req = agent().post(&format!("{url}/v1/regions/{region}/reports"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .header("content-type", "application/vnd.candor.report")
        .send(body)
        .expect("request completes");
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = header("retry-after");
    let content_type = header("content-type").unwrap_or_default();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    Answer {
        status,
        retry_after,
        content_type,
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    }
}

/// A read handle on `region`'s store under the data directory `data_dir`.
pub(crate) fn open_store(data_dir: &std::path::Path, region: &str) -> Box<dyn candor_store::Store> {
    candor_store::StoreConfig::sqlite(data_dir)
        .open_region_read_only(region)
        .expect("opens")
}

/// A fresh usage report of region eu for `day`, adding `tabs` to
/// `browser.tabs_opened`.
pub(crate) fn usage(day: Day, tabs: u64) -> Report {
    let mut r = Report::new(
        ReportId::random().expect("random"),
        "org.example.browser",
        3,
        "usage",
        1,
        "eu",
        day,
    );
    r.metrics
        .insert("browser.tabs_opened".into(), MetricValue::Counter(tabs));
    r
}

/// The key configs of a served key list document, which must verify with
/// `key` at `now`.
pub(crate) fn verified_keys(text: &str, key: &VerifyingKey, now: i64) -> Vec<KeyConfig> {
    SignedKeyList::verify_json(text.as_bytes(), key, now)
        .expect("a valid signed key list")
        .keys
}
