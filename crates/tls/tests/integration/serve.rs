//! Serving a router over TLS and stopping it.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use candor_testkit::tls::TestCa;
use candor_tls::ServerTls;
use tokio_rustls::rustls::CertificateError;

/// A server answering `GET /hello` over TLS with a certificate of `ca`.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(ca: &TestCa) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = ca.write_server_files(dir.path());
        let tls = ServerTls::from_pem_files(&files.cert, &files.key).expect("test pair loads");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let router = axum::Router::new().route("/hello", get(|| async { "hello over TLS" }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            candor_tls::serve(listener, router, Some(&tls), async move {
                let _ = rx.await;
            })
            .await
        });
        Server {
            addr,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .expect("server task")
            .expect("server stops cleanly");
    }
}

/// A ureq agent trusting only `ca_pem` (or the public roots with None).
fn agent(ca_pem: Option<&str>) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let roots = match ca_pem {
        Some(pem) => RootCerts::new_with_certs(&[
            Certificate::from_pem(pem.as_bytes()).expect("CA PEM parses")
        ]),
        None => RootCerts::WebPki,
    };
    ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// The rustls certificate error under a failed request, if that is why.
fn certificate_error<T>(answer: &Result<T, ureq::Error>) -> Option<&CertificateError> {
    let Err(ureq::Error::Io(io)) = answer else {
        return None;
    };
    match io
        .get_ref()?
        .downcast_ref::<tokio_rustls::rustls::Error>()?
    {
        tokio_rustls::rustls::Error::InvalidCertificate(e) => Some(e),
        _ => None,
    }
}

/// Blocking clients run off the runtime's threads.
async fn get_text(agent: ureq::Agent, url: String) -> Result<String, ureq::Error> {
    tokio::task::spawn_blocking(move || agent.get(&url).call()?.body_mut().read_to_string())
        .await
        .expect("client thread")
}

#[tokio::test]
async fn a_client_trusting_the_ca_is_served_over_https() {
    let ca = TestCa::new("Candor TLS test CA");
    let server = Server::start(&ca).await;
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/hello", server.addr.port());
        let text = get_text(agent(Some(ca.cert_pem())), url).await;
        assert_eq!(text.expect("HTTPS GET"), "hello over TLS", "host {host}");
    }
    server.stop().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_fails() {
    let ca = TestCa::new("Candor TLS test CA");
    let server = Server::start(&ca).await;
    let url = format!("http://127.0.0.1:{}/hello", server.addr.port());
    let answer = get_text(agent(None), url).await;
    assert!(answer.is_err(), "plain HTTP was answered: {answer:?}");
    // The server goes on serving HTTPS after the failed handshake.
    let url = format!("https://localhost:{}/hello", server.addr.port());
    let text = get_text(agent(Some(ca.cert_pem())), url).await;
    assert_eq!(text.expect("HTTPS GET"), "hello over TLS");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let ca = TestCa::new("Candor TLS test CA");
    let other = TestCa::new("Another CA");
    let server = Server::start(&ca).await;
    let url = format!("https://localhost:{}/hello", server.addr.port());
    for roots in [None, Some(other.cert_pem())] {
        let answer = get_text(agent(roots), url.clone()).await;
        assert_eq!(
            certificate_error(&answer),
            Some(&CertificateError::UnknownIssuer),
            "roots {roots:?}: {answer:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_silent_connection_does_not_hold_up_others_or_the_shutdown() {
    let ca = TestCa::new("Candor TLS test CA");
    let server = Server::start(&ca).await;
    // Connected, never says a word: its handshake waits in its own task.
    let _silent = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let url = format!("https://localhost:{}/hello", server.addr.port());
    let text = get_text(agent(Some(ca.cert_pem())), url).await;
    assert_eq!(text.expect("HTTPS GET"), "hello over TLS");
    server.stop().await;
}

#[tokio::test]
async fn plain_serving_is_the_same_call_without_tls() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = axum::Router::new().route("/hello", get(|| async { "hello" }));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(candor_tls::serve(listener, router, None, async move {
        let _ = rx.await;
    }));
    let text = get_text(agent(None), format!("http://{addr}/hello")).await;
    assert_eq!(text.expect("HTTP GET"), "hello");
    let _ = tx.send(());
    task.await.expect("task").expect("stops cleanly");
}
