//! Device → `candor relay` → `candor serve`'s OHTTP gateway, each on its
//! own loopback address (issue 14, acceptance 1).
//!
//! Linux routes all of 127.0.0.0/8 to `lo`, so the test gives each party
//! its own address: the device is 127.0.0.2, the relay listens on and
//! connects out from 127.0.0.3, the collector is 127.0.0.1. Two recording
//! byte taps stand on the wires:
//!
//! - the *device tap* is the device's network: `candor client` talks to
//!   it, and it opens its connections to the relay from 127.0.0.2, so the
//!   relay sees the device's address; it records every byte the relay
//!   receives from and sends to the device;
//! - the *gateway tap* stands in front of `candor serve`: it records the
//!   address of every connection the collector side accepts and every
//!   byte between the relay and the gateway.
//!
//! The collector's own code reads no client address (crates/collector's
//! `http` module); the tap shows what it *could* have seen.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve::{agent, free_port, start, stop};
use crate::{candor, s, text};

const DEVICE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const RELAY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const COLLECTOR: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A recording TCP forwarder: accepts on its own address, connects to
/// `upstream` (from `source` when given), and keeps the peer address of
/// every connection it accepted and every byte in either direction.
struct Tap {
    addr: SocketAddr,
    peers: Arc<Mutex<Vec<IpAddr>>>,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Tap {
    fn start(listen: IpAddr, upstream: SocketAddr, source: Option<IpAddr>) -> Tap {
        let listener = TcpListener::bind((listen, 0)).expect("tap binds");
        let addr = listener.local_addr().expect("tap address");
        let peers = Arc::new(Mutex::new(Vec::new()));
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (p, b) = (peers.clone(), bytes.clone());
        // The thread ends with the test process; the tap owns no child.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if let Ok(peer) = client.peer_addr() {
                    p.lock().unwrap().push(peer.ip());
                }
                let Some(server) = connect_from(source, upstream) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (b1, b2) = (b.clone(), b.clone());
                std::thread::spawn(move || pump(client, server, &b1));
                std::thread::spawn(move || pump(s2, c2, &b2));
            }
        });
        Tap { addr, peers, bytes }
    }

    fn peers(&self) -> Vec<IpAddr> {
        self.peers.lock().unwrap().clone()
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }
}

/// A blocking connection to `to` whose local address is `from` (the
/// standard library cannot bind before connecting; tokio's socket can).
fn connect_from(from: Option<IpAddr>, to: SocketAddr) -> Option<TcpStream> {
    let Some(from) = from else {
        return TcpStream::connect(to).ok();
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .ok()?;
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().ok()?;
        socket.bind(SocketAddr::new(from, 0)).ok()?;
        socket.connect(to).await.ok()
    })?;
    let std = stream.into_std().ok()?;
    std.set_nonblocking(false).ok()?;
    Some(std)
}

/// Copies `from` to `to`, recording every byte, until `from` closes.
fn pump(mut from: TcpStream, mut to: TcpStream, log: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                log.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Every field of `report` (a report's plaintext JSON as `candor client
/// pending` prints it) as byte strings to look for: metric names and
/// values, schema id, purpose, region, day, report id (as text and as
/// bytes). Quoted where a field is too short to be searched bare.
fn report_fields(report: &Value) -> Vec<Vec<u8>> {
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let mut text = |t: String| fields.push(t.into_bytes());
    let str_of = |k: &str| report[k].as_str().expect(k).to_owned();
    let id = str_of("report_id");
    text(id.clone());
    text(str_of("schema"));
    text(format!("\"{}\"", str_of("purpose")));
    text(str_of("purpose"));
    text(format!("\"{}\"", str_of("region")));
    text(str_of("day"));
    for (name, value) in report["metrics"].as_object().expect("metrics") {
        text(name.clone());
        let mut numbers = Vec::new();
        leaf_numbers(value, ":", &mut numbers);
        if !value.is_number() {
            text(value.to_string());
        }
        numbers.into_iter().for_each(&mut text);
    }
    for (name, value) in report["dimensions"].as_object().expect("dimensions") {
        text(format!("\"{name}\""));
        text(value.as_str().expect("dimension").to_owned());
    }
    fields
}

/// What else would give the report away on a wire besides its JSON: the
/// report id's raw bytes and the upload path naming the region.
fn wire_fields(report: &Value) -> Vec<Vec<u8>> {
    let id = report["report_id"].as_str().expect("report_id");
    let region = report["region"].as_str().expect("region");
    vec![hex_bytes(id), format!("regions/{region}").into_bytes()]
}

/// Every number inside `value`, as JSON text. A number shorter than six
/// digits is searched with the character before it in the report's JSON
/// (`before`: `:` in an object, `[` or `,` in an array): bare, "437" also
/// turns up in a header's length or a key list's timestamps.
fn leaf_numbers(value: &Value, before: &str, out: &mut Vec<String>) {
    match value {
        Value::Number(n) if n.to_string().len() < 6 => out.push(format!("{before}{n}")),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaf_numbers(v, if i == 0 { "[" } else { "," }, out)),
        Value::Object(o) => o.values().for_each(|v| leaf_numbers(v, ":", out)),
        _ => {}
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The fields of `fields` that occur in `haystack`.
fn found_in(haystack: &[u8], fields: &[Vec<u8>]) -> Vec<String> {
    fields
        .iter()
        .filter(|f| haystack.windows(f.len()).any(|w| w == f.as_slice()))
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// Starts `candor relay` and waits until it forwards a key fetch.
fn start_relay(listen: SocketAddr, gateway: &str, extra: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "relay",
            "--listen",
            &listen.to_string(),
            "--gateway",
            gateway,
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("candor relay starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = agent()
            .get(&format!("http://{listen}/v1/ohttp/keys"))
            .call()
            && r.status() == 200
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("candor relay did not become ready");
}

/// A `candor client` directory with one `browser.tabs_opened` report of
/// yesterday queued, sealed to the collector's key in `data`.
fn client_with_a_report(root: &Path, data: &Path) -> (PathBuf, Value) {
    let dir = root.join("client");
    let init = crate::device_init_args(&data.join("eu/keys"));
    let yesterday = crate::serve::days_ago(1).to_string();
    let today = crate::serve::today().to_string();
    let run = |now: &str, args: &[&str]| {
        let mut all = vec!["client", "--dir", s(&dir), "--now", now];
        all.extend_from_slice(args);
        let out = candor(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out).1);
        out
    };
    run(
        &yesterday,
        &init.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    run(&yesterday, &["grant", "usage"]);
    run(
        &yesterday,
        &["record", "counter", "browser.tabs_opened", "437"],
    );
    let pending = run(&today, &["pending"]);
    let reports: Vec<Value> = serde_json::from_slice(&pending.stdout).expect("pending JSON");
    assert_eq!(reports.len(), 1, "{reports:?}");
    (dir, reports[0].clone())
}

#[test]
fn a_report_through_the_relay_is_counted_and_neither_side_sees_what_the_other_does() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let server = start(&data, port);
    let collector = SocketAddr::new(IpAddr::V4(COLLECTOR), port);
    let gateway_tap = Tap::start(IpAddr::V4(COLLECTOR), collector, None);
    let relay_addr = SocketAddr::new(IpAddr::V4(RELAY), free_port());
    let gateway = format!("http://{}/v1/ohttp", gateway_tap.addr);
    let relay = start_relay(
        relay_addr,
        &gateway,
        &[
            "--outgoing-address",
            &RELAY.to_string(),
            "--max-body",
            "8192",
        ],
    );
    let device_tap = Tap::start(IpAddr::V4(COLLECTOR), relay_addr, Some(IpAddr::V4(DEVICE)));
    let via = format!("http://{}", device_tap.addr);

    let (client, report) = client_with_a_report(tmp.path(), &data);
    let mut fields = report_fields(&report);
    // The check finds every field in the plaintext: it is not vacuous.
    let plaintext = serde_json::to_vec(&report).expect("json");
    assert_eq!(found_in(&plaintext, &fields).len(), fields.len());
    fields.extend(wire_fields(&report));

    // The device uploads through the relay, the gateway's key config
    // fetched through the relay too.
    let today = crate::serve::today().to_string();
    let out = candor(&[
        "client",
        "--dir",
        s(&client),
        "--now",
        &today,
        "upload",
        "--relay",
        &via,
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("summary");
    assert_eq!(summary["accepted"], 1, "{summary}");
    assert_eq!(summary["remaining"], 0, "{summary}");

    // The relay saw the device's address; the collector side saw only the
    // relay's, on every connection.
    assert!(device_tap.peers().iter().all(|ip| ip.is_loopback()));
    let collector_saw = gateway_tap.peers();
    assert!(!collector_saw.is_empty());
    assert!(
        collector_saw.iter().all(|ip| *ip == IpAddr::V4(RELAY)),
        "{collector_saw:?}"
    );
    assert!(!collector_saw.contains(&IpAddr::V4(DEVICE)));

    // Neither wire carries any field of the report in the clear.
    let device_wire = device_tap.bytes();
    let relay_wire = gateway_tap.bytes();
    assert!(
        device_wire
            .windows(b"message/ohttp-req".len())
            .any(|w| w == b"message/ohttp-req"),
        "the tap recorded the relayed upload"
    );
    assert_eq!(found_in(&device_wire, &fields), Vec::<String>::new());
    assert_eq!(found_in(&relay_wire, &fields), Vec::<String>::new());

    // A header the device sets does not reach the gateway, and the relay
    // adds none that identifies the device.
    let before = gateway_tap.bytes().len();
    let answer = agent()
        .post(&format!("{via}/v1/ohttp"))
        .header("content-type", "message/ohttp-req")
        .header("user-agent", "device-agent-7f3a")
        .header("cookie", "session=device-cookie-91c2")
        .header("x-forwarded-for", "198.51.100.77")
        .send(&b"not an encapsulation, but forwarded all the same"[..])
        .expect("an answer");
    assert_eq!(answer.status(), 400);
    let body = answer.into_body().read_to_string().expect("body");
    // Its first byte is not the gateway's key id.
    assert!(body.contains("\"ohttp_key_unknown\""), "{body}");
    let forwarded = gateway_tap.bytes()[before..].to_ascii_lowercase();
    assert!(
        forwarded
            .windows(b"forwarded all the same".len())
            .any(|w| w == b"forwarded all the same"),
        "the request reached the gateway"
    );
    for needle in [
        &b"device-agent-7f3a"[..],
        b"device-cookie-91c2",
        b"198.51.100.77",
        b"forwarded:",
        b"x-forwarded-for",
        b"via:",
        b"user-agent",
        b"cookie",
        b"127.0.0.2",
    ] {
        assert!(
            !forwarded.windows(needle.len()).any(|w| w == needle),
            "{} reached the gateway",
            String::from_utf8_lossy(needle)
        );
    }

    // An oversized body is refused by the relay and never forwarded.
    let before = gateway_tap.bytes().len();
    let answer = agent()
        .post(&format!("{via}/v1/ohttp"))
        .header("content-type", "message/ohttp-req")
        .send(&vec![0u8; 9000][..])
        .expect("an answer");
    assert_eq!(answer.status(), 413);
    let body = answer.into_body().read_to_string().expect("body");
    assert!(body.contains("\"too_large\""), "{body}");
    assert_eq!(gateway_tap.bytes().len(), before, "nothing forwarded");

    // A tampered encapsulation is refused with its code and counts nothing.
    let keys = agent()
        .get(&format!("{via}/v1/ohttp/keys"))
        .call()
        .expect("keys")
        .into_body()
        .read_to_vec()
        .expect("key config");
    // Through the gateway, only the device-facing routes exist (asked of
    // the gateway directly: what the relay forwards is the same bytes).
    let gateway = format!("http://127.0.0.1:{port}");
    for path in ["/v1/tokens", "/metrics", "/v1/regions/eu/audit"] {
        let (status, body) = encapsulated_get(&gateway, &keys, path);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("\"not_found\""), "{path}: {body}");
    }
    let (status, body) = encapsulated_get(&gateway, &keys, "/v1/schema");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("org.example.browser"));
    let mut tampered = tampered_upload(&keys, &crate::serve::key(port));
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let answer = post_ohttp(&via, &tampered[..]);
    assert_eq!(answer.status(), 400);
    let body = answer.into_body().read_to_string().expect("body");
    assert!(body.contains("\"ohttp_decrypt_failed\""), "{body}");

    let mut relay = relay;
    let _ = relay.kill();
    let _ = relay.wait();
    stop(server);
    assert_eq!(
        crate::serve::tabs_sum(&data),
        437,
        "the one report, counted once"
    );
}

/// An encapsulated request as the SDK sends it through a relay: Binary
/// HTTP inside OHTTP, to the gateway's key list.
fn encapsulate(
    gateway_keys: &[u8],
    method: &str,
    path: &str,
    content: Option<(&str, &[u8])>,
) -> (Vec<u8>, ohttp::ClientResponse) {
    let mut message = bhttp::Message::request(
        method.as_bytes().to_vec(),
        b"https".to_vec(),
        Vec::new(),
        path.as_bytes().to_vec(),
    );
    if let Some((content_type, body)) = content {
        message.put_header("content-type", content_type);
        message.write_content(body);
    }
    let mut inner = Vec::new();
    message
        .write_bhttp(bhttp::Mode::KnownLength, &mut inner)
        .expect("bhttp");
    ohttp::ClientRequest::from_encoded_config_list(gateway_keys)
        .expect("config")
        .encapsulate(&inner)
        .expect("encapsulate")
}

/// POSTs `body` as an encapsulated request to the relay at `via`.
fn post_ohttp(via: &str, body: &[u8]) -> ureq::http::Response<ureq::Body> {
    agent()
        .post(&format!("{via}/v1/ohttp"))
        .header("content-type", "message/ohttp-req")
        .send(body)
        .expect("an answer")
}

/// An encapsulated GET of `path` posted to `via` (a relay or the gateway
/// itself); the inner answer's status and body.
fn encapsulated_get(via: &str, gateway_keys: &[u8], path: &str) -> (u16, String) {
    let (request, opener) = encapsulate(gateway_keys, "GET", path, None);
    let answer = post_ohttp(via, &request[..]);
    assert_eq!(answer.status(), 200);
    let sealed = answer.into_body().read_to_vec().expect("body");
    let plain = opener.decapsulate(&sealed).expect("opens");
    let message =
        bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&plain[..])).expect("bhttp answer");
    let status = message.control().status().expect("a status").code();
    (
        status,
        String::from_utf8_lossy(message.content()).into_owned(),
    )
}

/// An encapsulated upload of one valid report (sealed to `key`).
fn tampered_upload(gateway_keys: &[u8], key: &candor_protocol::KeyConfig) -> Vec<u8> {
    let body = crate::serve::usage_batch(
        key,
        crate::serve::days_ago(1),
        1,
        "browser.tabs_opened",
        &candor_protocol::MetricValue::Counter(1),
        &[("platform", "android")],
    );
    let content = ("application/vnd.candor.report", &body[..]);
    encapsulate(
        gateway_keys,
        "POST",
        "/v1/regions/eu/reports",
        Some(content),
    )
    .0
}
