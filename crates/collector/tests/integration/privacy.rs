//! Nothing that identifies a sender is stored or logged: the test sends
//! reports from 40 different loopback addresses (127.0.0.10–49), each with
//! its own X-Forwarded-For, Forwarded, User-Agent and Cookie values, then
//! scans every file under the data directory and everything logged.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex, OnceLock};

use candor_protocol::{Day, MetricValue, Report, ReportId, seal};

use crate::common::Server;

/// Everything any test in this binary logged.
pub(crate) fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One HTTP/1.1 POST from a chosen loopback source address.
fn post_from(source: &str, server: std::net::SocketAddr, i: usize, body: &[u8]) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{source}:0").parse().expect("addr"))
            .expect("bind a loopback source address");
        socket.connect(server).await.expect("connect")
    });
    let mut stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    let head = format!(
        "POST /v1/regions/eu/reports HTTP/1.1\r\nHost: {server}\r\n\
         Content-Type: application/vnd.candor.report\r\nContent-Length: {}\r\n\
         X-Forwarded-For: 203.0.113.{i}, 198.51.100.{i}\r\n\
         Forwarded: for=\"[2001:db8::{i:x}]\";proto=https\r\n\
         X-Real-IP: 192.0.2.{i}\r\n\
         User-Agent: Mozilla/5.0 (CandorPrivacyProbe-{i}; rv:{i}.0)\r\n\
         Cookie: session=probe-cookie-{i}; uid=probe-user-{i}\r\n\
         Authorization: Bearer probe-token-{i}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read answer");
    answer
}

#[test]
fn no_address_user_agent_cookie_or_header_is_stored_or_logged() {
    let logs = captured_logs();
    let server = Server::start();
    let key = server.key("eu");
    let mut needles = Vec::new();
    for i in 10..50usize {
        let mut r = Report::new(
            ReportId::random().expect("random"),
            "org.example.browser",
            3,
            "usage",
            1,
            "eu",
            Day::from_ymd(2026, 11, 29).expect("day"),
        );
        r.metrics
            .insert("browser.tabs_opened".into(), MetricValue::Counter(1));
        let source = format!("127.0.0.{i}");
        let answer = post_from(
            &source,
            server.running.addr,
            i,
            &seal(&r, &key).expect("seal"),
        );
        assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
        needles.extend([
            source,
            format!("203.0.113.{i}"),
            format!("198.51.100.{i}"),
            format!("2001:db8::{i:x}"),
            format!("192.0.2.{i}"),
            format!("CandorPrivacyProbe-{i}"),
            format!("probe-cookie-{i}"),
            format!("probe-user-{i}"),
            format!("probe-token-{i}"),
        ]);
    }
    let tabs: i64 = server.rows("eu").iter().map(|r| r.sum).sum();
    assert_eq!(tabs, 40, "every report was counted");
    let dir = server.stop();

    let mut scanned = 0;
    let mut stack = vec![dir.path().to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for e in std::fs::read_dir(&path).expect("dir") {
                stack.push(e.expect("entry").path());
            }
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for n in &needles {
            assert!(
                !text.contains(n.as_str()),
                "{n} found in {}",
                path.display()
            );
        }
        scanned += 1;
    }
    assert!(
        scanned >= 3,
        "database, WAL or keys were scanned: {scanned}"
    );
    let logged = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    for n in &needles {
        assert!(!logged.contains(n.as_str()), "{n} found in the logs");
    }
}
