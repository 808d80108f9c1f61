//! A tiny collector for the sender: hand-written HTTP/1.1 with keep-alive on
//! 127.0.0.1, one thread per connection, speaking the collector's contract
//! (key list, 202 with per-report results, 503 with Retry-After, problem+json).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use candor_protocol::{KeyConfig, KeyList, Opener, Report, ReportId, SigningKey, batch};

/// The signing key of `region` at the fake collector.
pub(crate) fn signer(region: &str) -> SigningKey {
    SigningKey::from_seed(region, [5; 32]).expect("valid region")
}

/// How the fake collector answers.
#[derive(Clone, Default)]
pub(crate) struct Behaviour {
    /// Served at `GET /v1/regions/{region}/keys`, those of the region as a
    /// signed list, in this order.
    pub(crate) keys: Vec<KeyConfig>,
    /// When set, every envelope is opened; otherwise every report is accepted
    /// unopened.
    pub(crate) opener: Option<Opener>,
    /// Answer every second upload request (the 2nd, 4th, ...) with 503.
    pub(crate) overload_every_other: bool,
    /// Sleep this long before answering an upload.
    pub(crate) delay: Duration,
    /// Reject every n-th report (counted over the whole run) with code
    /// `test_reject`.
    pub(crate) reject_every: Option<usize>,
    /// Answer like a scale-out front: `queued` instead of `accepted`.
    pub(crate) front: bool,
}

#[derive(Default)]
struct State {
    uploads: AtomicUsize,
    reports: AtomicUsize,
    connections: AtomicUsize,
    opened: Mutex<Vec<Report>>,
    seen: Mutex<BTreeSet<ReportId>>,
}

/// A running fake collector; stops when dropped.
pub(crate) struct FakeCollector {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl FakeCollector {
    pub(crate) fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds a loopback port");
        let addr = listener.local_addr().expect("has an address");
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(State::default());
        let behaviour = Arc::new(behaviour);
        let accept = {
            let stop = Arc::clone(&stop);
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    state.connections.fetch_add(1, Ordering::SeqCst);
                    let state = Arc::clone(&state);
                    let behaviour = Arc::clone(&behaviour);
                    std::thread::spawn(move || serve(stream, &behaviour, &state));
                }
            })
        };
        FakeCollector {
            addr,
            stop,
            state,
            accept: Some(accept),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Upload requests answered.
    pub(crate) fn uploads(&self) -> usize {
        self.state.uploads.load(Ordering::SeqCst)
    }

    /// TCP connections accepted.
    pub(crate) fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Reports opened (only with an opener).
    pub(crate) fn opened(&self) -> Vec<Report> {
        self.state.opened.lock().expect("not poisoned").clone()
    }
}

impl Drop for FakeCollector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Serves one connection until the client closes it (bounded by a read
/// timeout, so a forgotten connection cannot keep the thread forever).
fn serve(stream: TcpStream, behaviour: &Behaviour, state: &State) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut content_length = 0usize;
        let mut close = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => content_length = value.parse().unwrap_or(0),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("");
        let (status, headers, answer) = handle(method, path, &body, behaviour, state);
        let mut response = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{headers}\r\n",
            answer.len()
        );
        response.push_str(&answer);
        if writer.write_all(response.as_bytes()).is_err() || close {
            return;
        }
    }
}

fn problem(status: u16, code: &str) -> String {
    format!(
        r#"{{"type":"https://candor.example/problems/{code}","title":"{code}","status":{status},"code":"{code}"}}"#
    )
}

/// (status line tail, extra headers, body) for one request.
fn handle(
    method: &str,
    path: &str,
    body: &[u8],
    behaviour: &Behaviour,
    state: &State,
) -> (&'static str, String, String) {
    let json = "content-type: application/json\r\n".to_owned();
    let problem_json = "content-type: application/problem+json\r\n".to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["v1", "regions", region, "keys"]) => {
            // The region's keys, as a list signed with `signer(region)`,
            // issued now for a week (docs/wire.md §5.2).
            let keys: Vec<KeyConfig> = behaviour
                .keys
                .iter()
                .filter(|k| k.region() == *region)
                .cloned()
                .collect();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs();
            let list = KeyList {
                region: (*region).to_owned(),
                serial: now,
                issued_at: now as i64,
                expires_at: now as i64 + 7 * 86_400,
                keys,
            };
            match list.sign(&signer(region)) {
                Ok(signed) => ("200 OK", json, signed.to_json()),
                Err(_) => (
                    "503 Service Unavailable",
                    problem_json,
                    r#"{"code":"key_list_unavailable"}"#.to_owned(),
                ),
            }
        }
        ("POST", ["v1", "regions", _, "reports"]) => {
            let n = state.uploads.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(behaviour.delay);
            if behaviour.overload_every_other && n % 2 == 1 {
                return (
                    "503 Service Unavailable",
                    format!("{problem_json}retry-after: 0\r\n"),
                    problem(503, "overloaded"),
                );
            }
            let envelopes = match batch::split_upload(body) {
                Ok(e) => e,
                Err(e) => return ("400 Bad Request", problem_json, problem(400, e.code())),
            };
            let single = !body.starts_with(&batch::BATCH_MAGIC);
            let mut results = Vec::new();
            for envelope in envelopes {
                let index = state.reports.fetch_add(1, Ordering::SeqCst) + 1;
                let verdict = match &behaviour.opener {
                    None => Ok(false),
                    Some(opener) => opener.open(envelope).map(|report| {
                        let fresh = state
                            .seen
                            .lock()
                            .expect("not poisoned")
                            .insert(report.report_id);
                        state.opened.lock().expect("not poisoned").push(report);
                        !fresh
                    }),
                };
                let verdict = match verdict {
                    _ if behaviour
                        .reject_every
                        .is_some_and(|k| index.is_multiple_of(k)) =>
                    {
                        Err("test_reject".to_owned())
                    }
                    Ok(duplicate) => Ok(duplicate),
                    Err(e) => Err(e.code().to_owned()),
                };
                results.push(match verdict {
                    Ok(false) if behaviour.front => serde_json::json!({"status": "queued"}),
                    Ok(false) => serde_json::json!({"status": "accepted"}),
                    Ok(true) => serde_json::json!({"status": "duplicate"}),
                    Err(code) => {
                        if single {
                            return (
                                "422 Unprocessable Entity",
                                problem_json,
                                problem(422, &code),
                            );
                        }
                        serde_json::json!({"status": "rejected", "code": code})
                    }
                });
            }
            (
                "202 Accepted",
                json,
                serde_json::json!({ "results": results }).to_string(),
            )
        }
        _ => ("404 Not Found", problem_json, problem(404, "not_found")),
    }
}
