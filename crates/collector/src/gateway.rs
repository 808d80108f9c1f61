//! The Oblivious HTTP gateway (RFC 9458): another front of the ingest
//! pipeline, for devices that send through a relay run by a third party.
//!
//! The relay sees a device's address but only encapsulated bytes; the
//! gateway sees the request but only the relay's address. This module owns
//! the gateway's key (X25519, HKDF-SHA256, ChaCha20-Poly1305 or
//! AES-128-GCM), separate from the regions' report keys, and the two
//! framings: [`Gateway::decapsulate`] turns an encapsulated request into an
//! [`InnerRequest`] (Binary HTTP, RFC 9292) and an [`InnerReply`] seals
//! the inner answer for the same client. What happens in between is the
//! collector's own router (`crate::http::ohttp`): the gateway is not a
//! second ingest path.
//!
//! The key lives in the data directory as `ohttp/gateway.private.json`
//! (mode 0600, never overwritten, created on first start) and its public
//! key configuration list as `ohttp/gateway.keys` (`application/ohttp-keys`).

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use ohttp::hpke::{Aead, Kdf, Kem};
use ohttp::{KeyConfig, Server, ServerResponse, SymmetricSuite};

use crate::keys::{KeyError, write_new};

/// The media type of an encapsulated request (RFC 9458 §9.2).
pub const REQUEST_MEDIA_TYPE: &str = "message/ohttp-req";
/// The media type of an encapsulated response (RFC 9458 §9.3).
pub const RESPONSE_MEDIA_TYPE: &str = "message/ohttp-res";
/// The media type of a key configuration list (RFC 9458 §9.1).
pub const KEYS_MEDIA_TYPE: &str = "application/ohttp-keys";

/// The folder of the gateway's key in the data directory.
pub const KEY_DIR: &str = "ohttp";
/// The private key's file name in [`KEY_DIR`].
pub const PRIVATE_FILE: &str = "gateway.private.json";
/// The public key configuration list's file name in [`KEY_DIR`].
pub const PUBLIC_FILE: &str = "gateway.keys";

/// The gateway's key id: one key per collector. A rotation would add
/// another id; the configuration list format already carries several.
const KEY_ID: u8 = 1;

/// The suites the key accepts: ChaCha20-Poly1305 first (the suite of the
/// report envelopes, fast without AES instructions), AES-128-GCM for
/// clients that prefer it.
fn suites() -> Vec<SymmetricSuite> {
    vec![
        SymmetricSuite::new(Kdf::HkdfSha256, Aead::ChaCha20Poly1305),
        SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm),
    ]
}

/// Why an encapsulated request was refused, with its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The request is not `message/ohttp-req`.
    #[error("an OHTTP request must be sent as message/ohttp-req")]
    UnsupportedMediaType,
    /// The encapsulated request is larger than the gateway accepts.
    #[error("the encapsulated request is larger than the gateway accepts")]
    TooLarge,
    /// The encapsulation's header or length is not RFC 9458's, or it names
    /// a KEM or suite this key does not offer.
    #[error("malformed encapsulated request")]
    Malformed,
    /// The key id is not this gateway's: fetch its key configuration again.
    #[error("unknown OHTTP key id; fetch the gateway's key configuration again")]
    KeyUnknown,
    /// HPKE could not open the request (tampered, or sealed to another key).
    #[error("the encapsulated request could not be decrypted")]
    DecryptFailed,
    /// The decrypted request is not a Binary HTTP request.
    #[error("the encapsulated request is not a binary HTTP request")]
    BadInnerRequest,
}

impl GatewayError {
    /// Every code with its HTTP status, in the order the checks run;
    /// docs/api.md lists the same (a test keeps them equal).
    pub const CODES: [(&'static str, u16); 6] = [
        ("unsupported_media_type", 415),
        ("too_large", 413),
        ("ohttp_malformed", 400),
        ("ohttp_key_unknown", 400),
        ("ohttp_decrypt_failed", 400),
        ("bhttp_malformed", 400),
    ];

    /// The stable code.
    pub fn code(self) -> &'static str {
        Self::CODES[self.index()].0
    }

    /// The HTTP status of the outer answer (for all but
    /// [`GatewayError::BadInnerRequest`], which is answered inside an
    /// encapsulated response, since the gateway can already seal one).
    pub fn http_status(self) -> u16 {
        Self::CODES[self.index()].1
    }

    fn index(self) -> usize {
        match self {
            GatewayError::UnsupportedMediaType => 0,
            GatewayError::TooLarge => 1,
            GatewayError::Malformed => 2,
            GatewayError::KeyUnknown => 3,
            GatewayError::DecryptFailed => 4,
            GatewayError::BadInnerRequest => 5,
        }
    }
}

/// One request a device sent through the relay, as the gateway decoded it:
/// only what the collector's routes need. Header fields other than the
/// content type are dropped on purpose, so nothing the client sets
/// (a user agent, a cookie) reaches a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerRequest {
    /// The method (`GET`, `POST`).
    pub method: String,
    /// The path with its query, as sent (`/v1/regions/eu/reports`).
    pub path: String,
    /// The content type, if the request has one.
    pub content_type: Option<String>,
    /// The content.
    pub body: Vec<u8>,
}

/// Seals the answer to one decapsulated request, for that client only.
#[derive(Debug)]
pub struct InnerReply(ServerResponse);

impl InnerReply {
    /// The encapsulated response (`message/ohttp-res`) of an inner answer:
    /// its status, the listed header fields and its content as a Binary
    /// HTTP response.
    pub fn seal(
        self,
        status: u16,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        let status = bhttp::StatusCode::try_from(status).map_err(|_| GatewayError::Malformed)?;
        let mut message = bhttp::Message::response(status);
        for (name, value) in headers {
            message.put_header(name.as_bytes(), *value);
        }
        message.write_content(body);
        let mut encoded = Vec::with_capacity(body.len() + 64);
        message
            .write_bhttp(bhttp::Mode::KnownLength, &mut encoded)
            .map_err(|_| GatewayError::Malformed)?;
        self.0
            .encapsulate(&encoded)
            .map_err(|_| GatewayError::Malformed)
    }
}

/// The gateway's key and its public configuration list.
#[derive(Debug, Clone)]
pub struct Gateway {
    server: Server,
    config_list: Vec<u8>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateFile {
    key_id: u8,
    /// Always `x25519-hkdf-sha256`: the file names its KEM so that another
    /// can be added without guessing.
    kem: String,
    /// The input keying material the key pair is derived from (RFC 9180
    /// DeriveKeyPair), hex.
    ikm: String,
}

const KEM_NAME: &str = "x25519-hkdf-sha256";

impl Gateway {
    /// The gateway of a collector whose data directory is `data_dir`: its
    /// key, generated on first start and never replaced. Several fronts
    /// sharing the directory may start at once: the first to write the
    /// file wins, the others read it.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let dir = data_dir.join(KEY_DIR);
        let private = dir.join(PRIVATE_FILE);
        if let Some(gateway) = Self::load(&private)? {
            return Ok(gateway);
        }
        fs::create_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
        let mut ikm = [0u8; 32];
        getrandom::fill(&mut ikm).map_err(|e| io_error(&private, std::io::Error::other(e)))?;
        let file = PrivateFile {
            key_id: KEY_ID,
            kem: KEM_NAME.to_owned(),
            ikm: hex::encode(ikm),
        };
        let json = serde_json::to_string_pretty(&file).unwrap_or_default();
        match write_new(&private, json.as_bytes(), 0o600) {
            Err(KeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            other => other?,
        }
        let gateway = Self::load(&private)?.ok_or_else(|| {
            io_error(&private, std::io::Error::from(std::io::ErrorKind::NotFound))
        })?;
        // The public list is derived from the private file, so writing it
        // after a crash between the two writes (or by a second front) is
        // safe; an existing one is left alone.
        let public = dir.join(PUBLIC_FILE);
        match write_new(&public, gateway.config_list(), 0o644) {
            Err(KeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            other => other?,
        }
        Ok(gateway)
    }

    /// The gateway of the private key file at `path`, if there is one.
    fn load(path: &Path) -> Result<Option<Self>, KeyError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(path, e)),
        };
        let invalid = |what: &str| KeyError::Invalid {
            path: path.to_owned(),
            source: candor_protocol::Error::InvalidKey(format!("OHTTP gateway key: {what}")),
        };
        let file: PrivateFile =
            serde_json::from_slice(&bytes).map_err(|e| invalid(&e.to_string()))?;
        if file.kem != KEM_NAME {
            return Err(invalid("unsupported kem"));
        }
        let ikm = hex::decode(&file.ikm).map_err(|_| invalid("ikm is not hex"))?;
        if ikm.len() < 32 {
            return Err(invalid("ikm shorter than 32 bytes"));
        }
        Self::from_ikm(file.key_id, &ikm)
            .map(Some)
            .map_err(|e| invalid(&e.to_string()))
    }

    /// The gateway of key `key_id` derived from `ikm` (RFC 9180
    /// DeriveKeyPair): tests use it for a fixed key.
    pub fn from_ikm(key_id: u8, ikm: &[u8]) -> Result<Self, ohttp::Error> {
        let config = KeyConfig::derive(key_id, Kem::X25519Sha256, suites(), ikm)?;
        let config_list = KeyConfig::encode_list(&[&config])?;
        Ok(Gateway {
            server: Server::new(config)?,
            config_list,
        })
    }

    /// The public key configuration list (`application/ohttp-keys`,
    /// RFC 9458 §3): what a device encapsulates to.
    pub fn config_list(&self) -> &[u8] {
        &self.config_list
    }

    /// Opens an encapsulated request and decodes its Binary HTTP request.
    /// A request that opens but does not decode is answered inside an
    /// encapsulated response: the [`InnerReply`] comes with its error.
    pub fn decapsulate(
        &self,
        encapsulated: &[u8],
    ) -> Result<(InnerRequest, InnerReply), (GatewayError, Option<InnerReply>)> {
        let (plain, reply) = self
            .server
            .decapsulate(encapsulated)
            .map_err(|e| (classify(&e), None))?;
        let reply = InnerReply(reply);
        match decode_request(&plain) {
            Some(request) => Ok((request, reply)),
            None => Err((GatewayError::BadInnerRequest, Some(reply))),
        }
    }
}

/// The code of an `ohttp` failure: the key id, the cryptography, or
/// anything else about the framing.
fn classify(error: &ohttp::Error) -> GatewayError {
    match error {
        ohttp::Error::KeyId => GatewayError::KeyUnknown,
        ohttp::Error::Aead(_) | ohttp::Error::Hpke(_) => GatewayError::DecryptFailed,
        _ => GatewayError::Malformed,
    }
}

/// The inner request, if `plain` is a Binary HTTP request with a method
/// and a path that starts with `/`.
fn decode_request(plain: &[u8]) -> Option<InnerRequest> {
    let message = bhttp::Message::read_bhttp(&mut Cursor::new(plain)).ok()?;
    let control = message.control();
    let method = std::str::from_utf8(control.method()?).ok()?.to_owned();
    let path = std::str::from_utf8(control.path()?).ok()?.to_owned();
    if !path.starts_with('/') {
        return None;
    }
    let content_type = message
        .header()
        .get(b"content-type")
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned);
    Some(InnerRequest {
        method,
        path,
        content_type,
        body: message.content().to_vec(),
    })
}

fn io_error(path: &Path, source: std::io::Error) -> KeyError {
    KeyError::Io {
        path: PathBuf::from(path),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a device does: a Binary HTTP request encapsulated to the
    /// gateway's configuration list.
    fn encapsulate(
        list: &[u8],
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (Vec<u8>, ohttp::ClientResponse) {
        let mut message = bhttp::Message::request(
            method.as_bytes().to_vec(),
            b"https".to_vec(),
            b"collector".to_vec(),
            path.as_bytes().to_vec(),
        );
        for (n, v) in headers {
            message.put_header(n.as_bytes(), v.as_bytes());
        }
        message.write_content(body);
        let mut bytes = Vec::new();
        message
            .write_bhttp(bhttp::Mode::KnownLength, &mut bytes)
            .unwrap();
        ohttp::ClientRequest::from_encoded_config_list(list)
            .unwrap()
            .encapsulate(&bytes)
            .unwrap()
    }

    #[test]
    fn the_key_is_created_once_private_to_its_owner_and_never_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = Gateway::load_or_create(dir.path()).unwrap();
        let again = Gateway::load_or_create(dir.path()).unwrap();
        assert_eq!(first.config_list(), again.config_list());
        let private = dir.path().join(KEY_DIR).join(PRIVATE_FILE);
        let mode = fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let public = fs::read(dir.path().join(KEY_DIR).join(PUBLIC_FILE)).unwrap();
        assert_eq!(public, first.config_list());
        assert_eq!(KeyConfig::decode_list(&public).unwrap().len(), 1);
        // A list entry is its 2-byte length, then the key id (RFC 9458 §3).
        assert_eq!(public[2], KEY_ID);
    }

    #[test]
    fn a_request_round_trips_and_only_the_content_type_survives() {
        let gateway = Gateway::from_ikm(1, &[7; 32]).unwrap();
        let (enc, client) = encapsulate(
            gateway.config_list(),
            "POST",
            "/v1/regions/eu/reports",
            &[
                ("content-type", "application/vnd.candor.report"),
                ("user-agent", "device-42"),
            ],
            b"sealed",
        );
        let (request, reply) = gateway.decapsulate(&enc).unwrap();
        assert_eq!(
            request,
            InnerRequest {
                method: "POST".into(),
                path: "/v1/regions/eu/reports".into(),
                content_type: Some("application/vnd.candor.report".into()),
                body: b"sealed".to_vec(),
            }
        );
        let sealed = reply
            .seal(202, &[("content-type", b"application/json")], b"{}")
            .unwrap();
        let plain = client.decapsulate(&sealed).unwrap();
        let answer = bhttp::Message::read_bhttp(&mut Cursor::new(&plain[..])).unwrap();
        assert_eq!(answer.control().status().map(u16::from), Some(202));
        assert_eq!(answer.content(), b"{}");
    }

    #[test]
    fn each_broken_encapsulation_has_its_code() {
        let gateway = Gateway::from_ikm(1, &[7; 32]).unwrap();
        let code = |bytes: &[u8]| gateway.decapsulate(bytes).err().map(|(e, _)| e.code());
        let (enc, _) = encapsulate(gateway.config_list(), "GET", "/v1/schema", &[], b"");
        assert_eq!(code(&enc[..5]), Some("ohttp_malformed"));
        let mut other_id = enc.clone();
        other_id[0] = 9;
        assert_eq!(code(&other_id), Some("ohttp_key_unknown"));
        let mut tampered = enc.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(code(&tampered), Some("ohttp_decrypt_failed"));
        let other = Gateway::from_ikm(1, &[8; 32]).unwrap();
        let (foreign, _) = encapsulate(other.config_list(), "GET", "/v1/schema", &[], b"");
        assert_eq!(code(&foreign), Some("ohttp_decrypt_failed"));
        let client = ohttp::ClientRequest::from_encoded_config_list(gateway.config_list()).unwrap();
        let (not_bhttp, _) = client.encapsulate(b"\x07junk").unwrap();
        assert_eq!(code(&not_bhttp), Some("bhttp_malformed"));
    }
}
