//! Test certificates, made at test time so that no key or certificate is
//! ever committed: a throw-away CA and server certificates it signs.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A test certificate authority (ECDSA P-256), alive for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A server certificate signed by a [`TestCa`], with its private key, as
/// PEM text.
#[derive(Clone)]
pub struct ServerCert {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

/// Where [`TestCa::write_server_files`] put the PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA's certificate: what a client trusts.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA named `name` (its common name). Panics if the key cannot be
    /// generated: a test cannot go on without it.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("generating a test CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("empty SAN list");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("self-signing the test CA");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA's certificate, PEM: what a client that trusts it loads.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `names` (DNS names or IP addresses, e.g.
    /// `["localhost", "127.0.0.1"]`) signed by this CA, with a fresh key.
    pub fn server_cert(&self, names: &[&str]) -> ServerCert {
        let key = KeyPair::generate().expect("generating a test server key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("valid test server names");
        params
            .distinguished_name
            .push(DnType::CommonName, "Candor test server");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("signing the test server certificate");
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes this CA's certificate (`ca.pem`) and a server certificate
    /// for `localhost` and `127.0.0.1` (`cert.pem`, `key.pem`) into `dir`.
    pub fn write_server_files(&self, dir: &Path) -> TlsFiles {
        let server = self.server_cert(&["localhost", "127.0.0.1"]);
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        for (path, text) in [
            (&files.ca, self.cert_pem()),
            (&files.cert, server.cert_pem.as_str()),
            (&files.key, server.key_pem.as_str()),
        ] {
            std::fs::write(path, text)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        files
    }
}
