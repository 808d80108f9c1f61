//! Loading certificate and key files: each failure names its file and
//! shows no key material.

use std::path::Path;

use candor_testkit::tls::TestCa;
use candor_tls::{ServerTls, TlsError};

fn load(cert: &Path, key: &Path) -> TlsError {
    ServerTls::from_pem_files(cert, key).expect_err("the pair must be refused")
}

/// The base64 body of a PEM block, to check a message does not carry it.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[test]
fn a_matching_pair_loads_and_debug_shows_no_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = TestCa::new("CA").write_server_files(dir.path());
    let tls = ServerTls::from_pem_files(&files.cert, &files.key).expect("loads");
    let shown = format!("{tls:?}");
    let key = std::fs::read_to_string(&files.key).expect("key");
    assert!(!shown.contains(&pem_body(&key)[..40]), "{shown}");
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = TestCa::new("CA").write_server_files(dir.path());
    let absent = dir.path().join("absent.pem");
    let e = load(&absent, &files.key);
    assert!(
        matches!(
            e,
            TlsError::Read {
                what: "certificate",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("absent.pem"), "{e}");
    let e = load(&files.cert, &absent);
    assert!(
        matches!(
            e,
            TlsError::Read {
                what: "private key",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("cannot read the TLS private key file"),
        "{e}"
    );
}

#[test]
fn swapped_or_empty_files_are_named_without_their_contents() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = TestCa::new("CA").write_server_files(dir.path());
    let key_text = std::fs::read_to_string(&files.key).expect("key");
    // The key given as the certificate: no certificate in it.
    let e = load(&files.key, &files.key);
    assert!(
        matches!(
            e,
            TlsError::Pem {
                what: "certificate",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("key.pem"), "{e}");
    assert!(!e.to_string().contains(&pem_body(&key_text)[..40]), "{e}");
    // The certificate given as the key: no key in it.
    let e = load(&files.cert, &files.cert);
    assert!(
        matches!(
            e,
            TlsError::Pem {
                what: "private key",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("cert.pem"), "{e}");
    // Not PEM at all.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").expect("write");
    let e = load(&junk, &files.key);
    assert!(matches!(e, TlsError::Pem { .. }), "{e:?}");
    assert!(e.to_string().contains("junk.pem"), "{e}");
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("CA");
    let files = ca.write_server_files(dir.path());
    let other = ca.server_cert(&["localhost"]);
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).expect("write");
    let e = load(&files.cert, &other_key);
    assert!(matches!(e, TlsError::Unusable { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("cert.pem") && text.contains("other-key.pem"),
        "{text}"
    );
    assert!(!text.contains(&pem_body(&other.key_pem)[..40]), "{text}");
}
