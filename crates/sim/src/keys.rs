//! Fetching a region's public key from a collector, shared by the load
//! generator and the fleet simulator: the signed key list (docs/wire.md
//! §5.2), checked with the region's signing public key.

use std::time::Duration;

use candor_protocol::{KeyConfig, SignedKeyList, VerifyingKey};

/// Largest key list read from the collector.
const MAX_KEYS_BYTES: u64 = 1 << 20;

/// Why a region's key could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The collector's key list could not be fetched or parsed.
    #[error("fetching the keys from {url}: {message}")]
    Fetch {
        /// The key list's URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The collector's key list was refused (docs/wire.md §5.2).
    #[error("the key list at {url} was refused ({code}): {message}")]
    Refused {
        /// The key list's URL.
        url: String,
        /// The refusal's stable code.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// The region's current key: the first of the signed key list at
/// `{base_url}/v1/regions/{region}/keys` (docs/wire.md §5.2), after checking
/// it with `signing`, the region's signing public key, at `now` (Unix
/// seconds). With `now` `None` the list is checked at its own issue time:
/// its signature, region and form, not its validity period (for a
/// simulator whose devices live at another time than the collector's).
pub fn fetch_key(
    base_url: &str,
    signing: &VerifyingKey,
    now: Option<i64>,
    timeout: Duration,
) -> Result<KeyConfig, KeyError> {
    let region = signing.region();
    let url = format!(
        "{}/v1/regions/{region}/keys",
        base_url.trim_end_matches('/')
    );
    let fail = |message: String| KeyError::Fetch {
        url: url.clone(),
        message,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent("candor-sim")
        .build()
        .into();
    let response = agent.get(&url).call().map_err(|e| fail(e.to_string()))?;
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .with_config()
        .limit(MAX_KEYS_BYTES)
        .read_to_string()
        .map_err(|e| fail(e.to_string()))?;
    if status != 200 {
        return Err(fail(format!("HTTP {status}: {}", text.trim())));
    }
    let refused = |e: candor_protocol::Error| KeyError::Refused {
        url: url.clone(),
        code: e.code(),
        message: e.to_string(),
    };
    let signed = SignedKeyList::from_json(text.as_bytes()).map_err(refused)?;
    let at = match now {
        Some(now) => now,
        None => serde_json::from_str::<serde_json::Value>(&signed.payload)
            .ok()
            .and_then(|p| p["issued_at"].as_i64())
            .unwrap_or(0),
    };
    let list = signed.verify(signing, at).map_err(refused)?;
    Ok(list.preferred().clone())
}
