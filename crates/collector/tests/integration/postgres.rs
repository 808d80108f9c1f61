//! The collector on PostgreSQL (`[store] backend = "postgres"`), started
//! inside a tokio runtime like `candor serve`: it opens its regions,
//! accepts reports, releases a closed day, keeps the audit chain, and
//! says it is not ready once the database stops answering.
//!
//! Needs a PostgreSQL server (`candor_testkit::POSTGRES`); without one each
//! test prints `SKIPPED` and returns. Each test works in a namespace of its
//! own, dropped afterwards.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use candor_collector::Config;
use candor_collector::access::{self, Role, TokenSpec};
use candor_store::RowFilter;
use serde_json::json;

use crate::common::{Namespace, Server, agent};
use crate::query::{query_api, upload};

fn readyz(server: &Server) -> u16 {
    agent()
        .get(&format!("{}/readyz", server.url()))
        .call()
        .expect("request completes")
        .status()
        .as_u16()
}

#[test]
fn a_collector_on_postgres_ingests_releases_and_audits() {
    let Some(url) = candor_testkit::POSTGRES.get("a_collector_on_postgres") else {
        return;
    };
    let ns = Namespace::new(&url);
    let server = Server::start_with(|c| ns.configure(c, &url));
    assert_eq!(readyz(&server), 200);
    let stores = ns.store();
    assert_eq!(stores.regions().expect("regions"), ["eu", "us"]);

    // 100 devices upload to eu; their reports are in PostgreSQL, not in
    // the data directory.
    upload(&server, 100);
    let rows = stores
        .open_region_read_only("eu")
        .expect("a reader")
        .rows(&RowFilter {
            metric: Some("browser.tabs_opened".into()),
            ..RowFilter::default()
        })
        .expect("rows");
    let (sum, reports): (i64, i64) = rows
        .iter()
        .filter(|r| r.key.cell != candor_store::REPORTS_CELL)
        .fold((0, 0), |(s, n), r| (s + r.sum, n + r.contributors));
    assert_eq!((sum, reports), (400, 100), "{rows:?}");
    assert!(
        !server
            .dir
            .path()
            .join("eu")
            .join("aggregates.sqlite")
            .exists(),
        "no SQLite store was made"
    );

    // An analyst token in the PostgreSQL token store, and a release.
    let mut config = Config {
        data_dir: server.dir.path().to_owned(),
        ..Config::default()
    };
    ns.configure(&mut config, &url);
    let spec = TokenSpec {
        name: "ana".into(),
        role: Role::Analyst,
        regions: vec!["eu".into()],
        purposes: vec!["usage".into()],
    };
    let known = ["eu", "us"].map(String::from);
    let purposes = ["usage", "diagnostics", "browsing"].map(String::from);
    let token =
        access::create_token(&config, &spec, &known, &purposes, 1_800_000_000).expect("token");
    let body = json!({
        "region": "eu", "metric": "browser.tabs_opened",
        "from": "2026-11-29", "to": "2026-11-29", "group_by": ["platform"], "epsilon": 0.5,
    });
    let answer = query_api(&server, &token, &body);
    assert_eq!(answer["epsilon_spent"], 0.5, "{answer}");
    assert_eq!(query_api(&server, &token, &body)["cached"], true);

    // The ledger and the audit chain, as stored.
    let eu = stores.open_region_read_only("eu").expect("a reader");
    let spent: u64 = eu
        .budget(&candor_store::BudgetFilter::default())
        .expect("budget")
        .iter()
        .map(|b| b.micros)
        .sum();
    assert_eq!(spent, 500_000);
    let (log, head) = eu.audit_log().expect("audit log");
    // The jobs ran once at start, from their async task: retention logged
    // through a blocking thread (the driver must not run on an async one).
    let (retention, actions): (Vec<&str>, Vec<&str>) = log
        .iter()
        .map(|e| e.record.action.as_str())
        .partition(|a| *a == "retention");
    assert_eq!(retention.len(), 1, "{log:?}");
    assert_eq!(
        actions,
        ["key.generate", "token.create", "query", "query"],
        "key generated at start, the token, the release and its cached repeat"
    );
    assert_eq!(
        candor_store::audit::verify(&log, head, None),
        Ok(log.len() as u64)
    );

    // Retention's audit entry is written from the jobs' async task.
    let reports = server
        .rt
        .block_on(candor_collector::jobs::run_once(&server.running.collector));
    assert!(reports.iter().all(|(_, r)| r.is_ok()), "{reports:?}");
    let (log, _) = eu.audit_log().expect("audit log");
    assert_eq!(log.last().expect("an entry").record.action, "retention");
    drop(eu);
    server.stop();
}

/// A TCP relay to the real server that can stop taking connections, so a
/// test can make the database unreachable without touching the shared
/// server.
struct Relay {
    port: u16,
    down: Arc<AtomicBool>,
}

impl Relay {
    fn to(url: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a relay");
        let port = listener.local_addr().expect("addr").port();
        let (host, server_port) = candor_testkit::host_port(url).expect("a postgres:// URL");
        let target = format!("{host}:{server_port}");
        let down = Arc::new(AtomicBool::new(false));
        let stop = down.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if stop.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Self { port, down }
    }
}

/// Copies `from` to `to` on a thread until either closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
}

#[test]
fn readyz_fails_while_postgres_is_unreachable() {
    let Some(url) = candor_testkit::POSTGRES.get("readyz_fails_while_postgres_is_unreachable")
    else {
        return;
    };
    let relay = Relay::to(&url);
    let (scheme_user, rest) = url.split_once('@').unwrap_or(("postgres://postgres", &url));
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    let relayed = format!("{scheme_user}@127.0.0.1:{}/{path}", relay.port);
    let ns = Namespace::new(&url);
    let server = Server::start_with(|c| ns.configure(c, &relayed));
    assert_eq!(readyz(&server), 200);
    relay.down.store(true, Ordering::SeqCst);
    assert_eq!(readyz(&server), 503, "new connections are refused");
    relay.down.store(false, Ordering::SeqCst);
    assert_eq!(readyz(&server), 200, "ready again once it answers");
    server.stop();
}
