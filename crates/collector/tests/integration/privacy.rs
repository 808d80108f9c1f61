//! Nothing that identifies a sender is stored or logged: the test sends
//! reports from 40 different loopback addresses (127.0.0.10–49), each with
//! its own X-Forwarded-For, Forwarded, User-Agent and Cookie values, then
//! scans every file under the data directory and everything logged. In
//! scale-out the same scan covers every message (headers and payload) of
//! the JetStream stream and every row of the PostgreSQL namespace.

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

/// Sends one report (one `browser.tabs_opened`) from each loopback address
/// `127.0.0.<i>`, each request with identifying headers of its own, and
/// returns every identifying string sent: none may be stored or logged.
fn send_probes(
    server: std::net::SocketAddr,
    key: &candor_protocol::KeyConfig,
    sources: std::ops::Range<usize>,
) -> Vec<String> {
    let mut needles = Vec::new();
    for i in sources {
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
        let answer = post_from(&source, server, i, &seal(&r, key).expect("seal"));
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
    needles
}

/// Fails naming the first needle found in `text` and `place`.
fn assert_none_in(needles: &[String], text: &str, place: &str) {
    for n in needles {
        assert!(!text.contains(n.as_str()), "{n} found in {place}");
    }
}

#[test]
fn no_address_user_agent_cookie_or_header_is_stored_or_logged() {
    let logs = captured_logs();
    let server = Server::start();
    let key = server.key("eu");
    let needles = send_probes(server.running.addr, &key, 10..50);
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
        assert_none_in(
            &needles,
            &String::from_utf8_lossy(&bytes),
            &path.display().to_string(),
        );
        scanned += 1;
    }
    assert!(
        scanned >= 3,
        "database, WAL or keys were scanned: {scanned}"
    );
    let logged = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    assert_none_in(&needles, &logged, "the logs");
}

/// Scale-out: a `front` queues the probes' envelopes in JetStream, a
/// `worker` on PostgreSQL counts them. Every message of the stream (its
/// headers and payload, read before the worker drains it), every row of
/// every table of the PostgreSQL namespace, the front's and worker's data
/// directory and the logs are scanned: no address, user agent, cookie or
/// other header value is anywhere.
#[cfg(all(feature = "queue", feature = "postgres"))]
#[test]
fn scale_out_queues_and_stores_nothing_that_identifies_a_sender() {
    use candor_collector::queue::Role;

    use crate::common::Namespace;
    use crate::queue::{Bench, eventually};

    let logs = captured_logs();
    let Some(pg) = candor_testkit::POSTGRES.get("privacy scan of PostgreSQL and JetStream") else {
        return;
    };
    let Some(bench) = Bench::new("privacy_scan") else {
        return;
    };
    let ns = Namespace::new(&pg);
    let front = bench.start(Role::Front);
    let needles = send_probes(front.addr, &bench.key, 60..80);
    assert_eq!(bench.messages(), 20, "every probe is queued");

    let js = bench.js();
    let queued: Vec<String> = bench.rt.block_on(async {
        let stream = js.get_stream(bench.stream_name()).await.expect("stream");
        let mut out = Vec::new();
        for seq in 1..=20 {
            let m = stream.get_raw_message(seq).await.expect("message");
            out.push(format!(
                "{} {:?} {}",
                m.subject,
                m.headers,
                String::from_utf8_lossy(&m.payload)
            ));
        }
        out
    });
    for (i, m) in queued.iter().enumerate() {
        assert_none_in(&needles, m, &format!("stream message {}", i + 1));
    }

    let worker = bench.start_with(Role::Worker, |c| ns.configure(c, &pg));
    eventually("the worker counted every probe", || {
        worker.collector.metrics().reports_with("accepted", "") == 20
    });
    bench.stop(worker);
    bench.stop(front);

    let mut db = postgres::Client::connect(&pg, postgres::NoTls).expect("connect");
    let tables = db
        .query(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_schema LIKE $1 || '%' AND table_type = 'BASE TABLE'",
            &[&ns.name],
        )
        .expect("tables");
    assert!(
        tables.len() >= 4,
        "the namespace's tables: {}",
        tables.len()
    );
    let mut rows = 0;
    for t in &tables {
        let (schema, table): (String, String) = (t.get(0), t.get(1));
        let place = format!("{schema}.{table}");
        let sql = format!("SELECT t::text FROM \"{schema}\".\"{table}\" AS t");
        for row in db.query(sql.as_str(), &[]).expect("rows") {
            let text: String = row.get(0);
            assert_none_in(&needles, &text, &place);
            rows += 1;
        }
    }
    assert!(rows > 0, "the scan read the stored rows");
    let logged = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    assert_none_in(&needles, &logged, "the logs");
}
