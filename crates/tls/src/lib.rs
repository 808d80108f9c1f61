//! TLS termination for Candor's HTTP servers, in one place.
//!
//! `candor serve` (the collector) and `candor relay` both serve an axum
//! [`Router`] and may terminate TLS themselves, so that a small deployment
//! needs no proxy in front. This crate is that one concept, shared:
//!
//! - [`ServerTls`]: a rustls server configuration loaded from a PEM
//!   certificate chain and a PEM private key ([`ServerTls::from_pem_files`]),
//!   with errors that name the file at fault and never print key material;
//! - [`TlsListener`]: an axum [`Listener`](axum::serve::Listener) that
//!   accepts TCP connections and completes their TLS handshakes off the
//!   accept loop (a client that never finishes its handshake holds up no
//!   one else);
//! - [`serve`]: `axum::serve` with graceful shutdown, over TLS or plain
//!   HTTP, so both servers stop the same way whichever they speak.
//!
//! TLS 1.2 and 1.3 only, with rustls's default cipher suites and key
//! exchange groups on the *ring* provider (which the SDK's HTTP client
//! builds anyway). Over TLS the server speaks HTTP/1.1 only, like the
//! plain server, and a plain-HTTP request to a TLS port fails its
//! handshake.
//!
//! It depends on none of Candor's crates, so the collector and the relay
//! may both use it without depending on each other.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! let tls = candor_tls::ServerTls::from_pem_files(Path::new("cert.pem"), Path::new("key.pem"))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! let router = axum::Router::new();
//! candor_tls::serve(listener, router, Some(&tls), std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod listener;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use listener::TlsListener;

/// Why a certificate and key could not be loaded. Messages name the file
/// (and whether it was meant as the certificate or the key), never its
/// contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be read (missing, unreadable).
    #[error("cannot read the TLS {what} file {}: {source}", path.display())]
    Read {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not valid PEM, or holds no item of the kind needed.
    #[error("the TLS {what} file {} {problem}", path.display())]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// rustls refused the pair: the key does not match the certificate,
    /// or the key's algorithm is not supported.
    #[error(
        "the TLS certificate {} and private key {} cannot be used together: {source}",
        cert.display(),
        key.display()
    )]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
}

/// A server's TLS configuration: its certificate chain and private key,
/// TLS 1.2+ on the *ring* provider, HTTP/1.1 by ALPN. Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    // The configuration holds the private key: print nothing of it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

const CERT: &str = "certificate";
const KEY: &str = "private key";

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

impl ServerTls {
    /// Loads the certificate chain (PEM `CERTIFICATE` blocks, the server's
    /// own first, then its intermediates) from `cert` and the private key
    /// (the first PEM PKCS#8, PKCS#1 or SEC1 key) from `key`, and checks
    /// that they belong together.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let pem_error = |what, path: &Path, problem: String| TlsError::Pem {
            what,
            path: path.to_owned(),
            problem,
        };
        let chain = CertificateDer::pem_slice_iter(&read(CERT, cert)?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(CERT, cert, format!("is not valid PEM: {e}")))?;
        if chain.is_empty() {
            return Err(pem_error(
                CERT,
                cert,
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        let key_der = match PrivateKeyDer::from_pem_slice(&read(KEY, key)?) {
            Ok(k) => k,
            Err(rustls::pki_types::pem::Error::NoItemsFound) => {
                return Err(pem_error(
                    KEY,
                    key,
                    "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
                ));
            }
            Err(e) => return Err(pem_error(KEY, key, format!("is not valid PEM: {e}"))),
        };
        let unusable = |source| TlsError::Unusable {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        };
        // An explicit provider: with both rustls providers compiled into one
        // binary (aws-lc for the collector's HPKE), the implicit default
        // would be ambiguous.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(unusable)?
            .with_no_client_auth()
            // Checks that the key matches the certificate's public key.
            .with_single_cert(chain, key_der)
            .map_err(unusable)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// Serves `router` on `listener` until `shutdown` completes: over TLS with
/// `tls`, plain HTTP without. Either way it is `axum::serve` with its
/// graceful shutdown: once `shutdown` completes no connection is accepted,
/// the requests in flight are answered, and it returns when every
/// connection has closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<&ServerTls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match tls {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => {
            axum::serve(TlsListener::new(listener, tls), router)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}
