//! `candor serve --role front|worker` as processes over the real NATS
//! JetStream: keys made by `candor keygen` beforehand, a front and a worker
//! sharing a data directory, every acknowledged report counted once, and
//! both stopping cleanly on SIGTERM. Skipped (loudly) without NATS.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use candor_protocol::MetricValue;
use candor_store::RowFilter;

use crate::serve::{free_port, key, post, ready, stop, today, usage_batch};
use crate::{candor, s, text};

/// Starts `candor serve` in `role` with the configuration file `config`;
/// the queue URL comes from the environment, as in a container.
fn serve(config: &Path, data: &Path, role: &str, port: u16, nats: &str) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(["serve", "--config", s(config), "--data-dir", s(data)])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--role", role])
        .env("CANDOR_QUEUE_URL", nats)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("candor serve starts");
    ready(child, port)
}

/// The stored sum of `browser.tabs_opened` of region eu.
fn tabs_sum(data: &Path) -> i64 {
    let Ok(store) = candor_store::StoreConfig::sqlite(data).open_region_read_only("eu") else {
        return 0;
    };
    store
        .rows(&RowFilter::default())
        .map(|rows| {
            rows.iter()
                .filter(|r| r.key.metric == "browser.tabs_opened" && r.key.cell.is_empty())
                .map(|r| r.sum)
                .sum()
        })
        .unwrap_or(0)
}

/// Deletes the test's stream when the test ends, however it ends.
struct Stream {
    nats: String,
    name: String,
}

impl Drop for Stream {
    fn drop(&mut self) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            if let Ok(client) = async_nats::connect(self.nats.as_str()).await {
                let _ = async_nats::jetstream::new(client)
                    .delete_stream(&self.name)
                    .await;
            }
        });
    }
}

#[test]
fn a_front_and_a_worker_count_every_acknowledged_report_once() {
    let Some(nats) = candor_testkit::NATS.get("candor serve --role front|worker") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let prefix = format!("cli{}", std::process::id());
    let _stream = Stream {
        nats: nats.clone(),
        name: format!("{prefix}_EU"),
    };
    let config = tmp.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "regions = [\"eu\"]\n\n[queue]\nstream_prefix = \"{prefix}\"\nworker_max_wait_ms = 50\n"
        ),
    )
    .expect("config");

    // Without keys a front refuses to start, and says what to do.
    let refused = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(["serve", "--config", s(&config), "--data-dir", s(&data)])
        .args(["--listen", "127.0.0.1:0"])
        .env("CANDOR_ROLE", "front")
        .env("CANDOR_QUEUE_URL", &nats)
        .output()
        .expect("runs");
    let (_, stderr) = text(&refused);
    assert!(!refused.status.success());
    assert!(stderr.contains("candor keygen"), "{stderr}");

    let keygen = candor(&[
        "keygen",
        "--region",
        "eu",
        "--out",
        s(&data.join("eu/keys")),
    ]);
    assert!(keygen.status.success(), "{}", text(&keygen).1);
    let (front_port, worker_port) = (free_port(), free_port());
    let front = serve(&config, &data, "front", front_port, &nats);
    let worker = serve(&config, &data, "worker", worker_port, &nats);

    let key = key(front_port);
    let one = MetricValue::Counter(1);
    for _ in 0..5 {
        let body = usage_batch(&key, today(), 20, "browser.tabs_opened", &one, &[]);
        assert_eq!(post(front_port, &body), Some(202));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while tabs_sum(&data) < 100 {
        assert!(
            Instant::now() < deadline,
            "the worker did not commit everything"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The worker serves no uploads.
    assert_eq!(post(worker_port, b"x"), Some(404));
    stop(front);
    stop(worker);
    assert_eq!(tabs_sum(&data), 100, "every report counted once");
}
