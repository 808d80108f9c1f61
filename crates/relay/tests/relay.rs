//! The relay against a stand-in gateway: what it forwards, what it keeps
//! back, and its bounds. (The whole path, device → relay → the real
//! gateway, is crates/candor/tests/cli/relay.rs.)

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use candor_relay::{CODES, Relay, RelayConfig};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A gateway that records the headers of every request and, while `hold`
/// is set, answers only once notified.
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    release: Arc<Notify>,
}

async fn stand_in(hold: bool) -> StandIn {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let release = Arc::new(Notify::new());
    let (s, r) = (seen.clone(), release.clone());
    let app = Router::new()
        .route(
            "/v1/ohttp",
            post(
                move |headers: HeaderMap, body: axum::body::Bytes| async move {
                    s.lock().unwrap().push(headers);
                    if hold {
                        r.notified().await;
                    }
                    ([("content-type", "message/ohttp-res")], body)
                },
            ),
        )
        .route(
            "/v1/ohttp/keys",
            get(|| async {
                (
                    [("content-type", "application/ohttp-keys")],
                    vec![0u8, 1, 2],
                )
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    StandIn {
        url: format!("http://{addr}/v1/ohttp"),
        seen,
        release,
    }
}

async fn serve_relay(config: RelayConfig) -> String {
    let relay = Relay::new(config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, relay.router()).await.unwrap() });
    format!("http://{addr}")
}

/// A raw HTTP/1.1 exchange, so the test controls every header sent.
async fn raw(base: &str, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn post_request(body: &str, extra: &str) -> String {
    format!(
        "POST /v1/ohttp HTTP/1.1\r\nhost: relay\r\ncontent-type: message/ohttp-req\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn only_the_content_type_reaches_the_gateway_and_the_answer_comes_back() {
    let gateway = stand_in(false).await;
    let relay = serve_relay(RelayConfig::new(gateway.url.parse().unwrap())).await;
    let answer = raw(
        &relay,
        post_request(
            "sealed",
            "user-agent: phone/1\r\ncookie: id=7\r\nx-forwarded-for: 192.0.2.1\r\nforwarded: for=192.0.2.1\r\nvia: 1.1 proxy\r\n",
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("sealed"), "{answer}");
    assert!(
        answer.contains("content-type: message/ohttp-res"),
        "{answer}"
    );
    let seen = gateway.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let names: Vec<&str> = seen[0].keys().map(|k| k.as_str()).collect();
    for name in &names {
        assert!(
            ["content-type", "content-length", "host"].contains(name),
            "{name} reached the gateway: {names:?}"
        );
    }
    assert_eq!(seen[0]["content-type"], "message/ohttp-req");

    let keys = raw(
        &relay,
        "GET /v1/ohttp/keys HTTP/1.1\r\nhost: relay\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(keys.starts_with("HTTP/1.1 200"), "{keys}");
    assert!(
        keys.contains("content-type: application/ohttp-keys"),
        "{keys}"
    );
}

#[tokio::test]
async fn bounds_and_refusals_are_problems_with_their_codes() {
    let gateway = stand_in(true).await;
    let mut config = RelayConfig::new(gateway.url.parse().unwrap());
    config.max_body = 16;
    config.max_concurrency = 1;
    let relay = serve_relay(config).await;

    let big = raw(&relay, post_request(&"x".repeat(17), "")).await;
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
    assert!(big.contains("\"too_large\""), "{big}");

    let wrong_type = raw(
        &relay,
        "POST /v1/ohttp HTTP/1.1\r\nhost: r\r\ncontent-type: text/plain\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx".into(),
    )
    .await;
    assert!(
        wrong_type.contains("\"unsupported_media_type\""),
        "{wrong_type}"
    );
    let elsewhere = raw(
        &relay,
        "GET /v1/query HTTP/1.1\r\nhost: r\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(
        elsewhere.starts_with("HTTP/1.1 404") && elsewhere.contains("\"not_found\""),
        "{elsewhere}"
    );
    let method = raw(
        &relay,
        "GET /v1/ohttp HTTP/1.1\r\nhost: r\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(
        method.starts_with("HTTP/1.1 405") && method.contains("\"method_not_allowed\""),
        "{method}"
    );

    // One request held at the gateway takes the only permit: the next is
    // refused at once, not queued.
    let held = tokio::spawn({
        let relay = relay.clone();
        async move { raw(&relay, post_request("first", "")).await }
    });
    while gateway.seen.lock().unwrap().is_empty() {
        tokio::task::yield_now().await;
    }
    let busy = raw(&relay, post_request("second", "")).await;
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    assert!(
        busy.contains("\"relay_busy\"") && busy.contains("retry-after: 1"),
        "{busy}"
    );
    gateway.release.notify_one();
    assert!(held.await.unwrap().starts_with("HTTP/1.1 200"));
    assert_eq!(
        gateway.seen.lock().unwrap().len(),
        1,
        "the refused request was not forwarded"
    );
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_502() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = serve_relay(RelayConfig::new(
        format!("http://127.0.0.1:{port}/v1/ohttp").parse().unwrap(),
    ))
    .await;
    let answer = raw(&relay, post_request("x", "")).await;
    assert!(
        answer.starts_with("HTTP/1.1 502") && answer.contains("\"gateway_unreachable\""),
        "{answer}"
    );
}

#[test]
fn the_codes_are_documented_in_order() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
    )
    .unwrap();
    let start = text.find("<!-- relay-codes:begin -->").unwrap();
    let stop = text.find("<!-- relay-codes:end -->").unwrap();
    let documented: Vec<(String, u16)> = text[start..stop]
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((code.to_owned(), cells.get(2)?.parse().ok()?))
        })
        .collect();
    let code: Vec<(String, u16)> = CODES.iter().map(|(c, s)| ((*c).to_owned(), *s)).collect();
    assert_eq!(documented, code);
}

#[test]
fn a_gateway_url_must_be_plain_http_with_a_host() {
    for bad in ["https://collector/v1/ohttp", "/v1/ohttp"] {
        assert!(
            Relay::new(RelayConfig::new(bad.parse().unwrap())).is_err(),
            "{bad}"
        );
    }
}
