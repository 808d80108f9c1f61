//! Consent: default-deny grants per purpose, versioned, with local receipts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A grant or a revocation, as the user made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentAction {
    /// The user agreed to the purpose.
    Grant,
    /// The user withdrew consent.
    Revoke,
}

/// The local record of one consent decision. Receipts stay on the device;
/// they let the user (and an auditor looking at the device) see what was
/// agreed to, when, and to which text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The purpose id.
    pub purpose: String,
    /// The purpose's consent version at the time.
    pub consent_version: u32,
    /// Grant or revoke.
    pub action: ConsentAction,
    /// When, in Unix seconds (kept on the device only, never sent).
    pub time: i64,
    /// SHA-256 of the consent text shown (see `Purpose::consent_text_sha256`), hex.
    pub text_sha256: String,
}

/// The consent state of one purpose, as [`crate::Candor::consent_status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurposeConsent {
    /// The consent version the user granted, if any grant stands.
    pub granted_version: Option<u32>,
    /// The schema's current consent version for the purpose.
    pub current_version: u32,
    /// Whether a grant of the current version stands (an older grant does not count).
    pub granted: bool,
    /// Whether data is being collected for the purpose right now: granted,
    /// and neither the global opt-out nor the child profile is on.
    /// (Private mode is per call and not reflected here.)
    pub collecting: bool,
}

/// What is persisted in `consent.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsentFile {
    /// Purpose id → consent version granted.
    #[serde(default)]
    pub(crate) grants: BTreeMap<String, u32>,
    #[serde(default)]
    pub(crate) receipts: Vec<Receipt>,
    #[serde(default)]
    pub(crate) global_opt_out: bool,
    #[serde(default)]
    pub(crate) child_profile: bool,
}

impl ConsentFile {
    /// Whether `purpose` may collect given its current consent version.
    pub(crate) fn collecting(&self, purpose: &str, current_version: u32) -> bool {
        !self.global_opt_out
            && !self.child_profile
            && self.grants.get(purpose) == Some(&current_version)
    }
}
