//! Fetching a region's public key from a collector, shared by the load
//! generator and the fleet simulator.

use std::time::Duration;

use candor_protocol::KeyConfig;

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
    /// The collector lists no key for the region.
    #[error("{url} lists no key for region {region:?}")]
    NoKey {
        /// The key list's URL.
        url: String,
        /// The region asked for.
        region: String,
    },
}

/// The region's current key: of the configs listed at
/// `{base_url}/v1/regions/{region}/keys` (docs/wire.md §5), the one of
/// `region` with the highest key id.
pub fn fetch_key(base_url: &str, region: &str, timeout: Duration) -> Result<KeyConfig, KeyError> {
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
    // The collector serves a signed list (docs/wire.md §5.2). The simulator
    // is the operator's own load tool and is not given the signing key, so
    // it reads the payload's keys without checking the signature (devices
    // with the SDK do check it).
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("not a signed key list: {e}")))?;
    let list: candor_protocol::KeyList = document["payload"]
        .as_str()
        .ok_or_else(|| fail("not a signed key list: no payload".into()))
        .and_then(|p| {
            serde_json::from_str(p).map_err(|e| fail(format!("not a key config list: {e}")))
        })?;
    let keys: Vec<KeyConfig> = list.keys;
    keys.into_iter()
        .filter(|k| k.region() == region)
        .max_by_key(KeyConfig::key_id)
        .ok_or_else(|| KeyError::NoKey {
            url: url.clone(),
            region: region.to_owned(),
        })
}
