//! Consent: the gate of each purpose (one atomic flag read on every
//! recording), grants and revocations with their receipts, the global
//! opt-out and child profile, private mode, and purging what a closed gate
//! leaves behind.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::consent::{ConsentAction, ConsentFile, PurposeConsent, Receipt};
use crate::errors::ErrorKind;
use crate::files::write_atomic;

use super::{Inner, lock};

/// The consent gate of one purpose: one atomic flag read on every recording.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) id: String,
    pub(crate) consent_version: u32,
    pub(crate) private_ok: bool,
    pub(crate) open: AtomicBool,
}

/// Why a consent call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The purpose is not in the schema.
    #[error("unknown purpose {0:?}")]
    UnknownPurpose(String),
    /// The decision could not be stored. A failed grant leaves collection
    /// off; a failed revocation still stops collection and purges memory.
    #[error("could not store the consent decision: {0}")]
    Storage(#[from] std::io::Error),
}

impl Inner {
    /// The index of `purpose`'s gate.
    pub(super) fn gate_index(&self, purpose: &str) -> Result<usize, ConsentError> {
        self.gates
            .iter()
            .position(|g| g.id == purpose)
            .ok_or_else(|| ConsentError::UnknownPurpose(purpose.to_owned()))
    }

    /// Opens or closes every gate as `consent` says.
    fn refresh_gates(&self, consent: &ConsentFile) {
        for gate in &self.gates {
            gate.open.store(
                consent.collecting(&gate.id, gate.consent_version),
                Ordering::Release,
            );
        }
    }

    /// Writes `consent.json`.
    fn save_consent(&self, consent: &ConsentFile) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(consent).map_err(std::io::Error::other)?;
        write_atomic(&self.dir.join("consent.json"), &bytes)
    }

    /// Grants or revokes consent to `purpose`: a grant opens the gate only
    /// once stored; a revocation closes it and purges at once.
    pub(crate) fn set_consent(&self, purpose: &str, grant: bool) -> Result<(), ConsentError> {
        let i = self.gate_index(purpose)?;
        let p = self
            .schema
            .purpose(purpose)
            .ok_or_else(|| ConsentError::UnknownPurpose(purpose.to_owned()))?;
        let mut consent = lock(&self.consent);
        let mut next = consent.clone();
        if grant {
            next.grants.insert(purpose.to_owned(), p.consent_version);
        } else {
            next.grants.remove(purpose);
        }
        next.receipts.push(Receipt {
            purpose: purpose.to_owned(),
            consent_version: p.consent_version,
            action: if grant {
                ConsentAction::Grant
            } else {
                ConsentAction::Revoke
            },
            time: self.clock.now(),
            text_sha256: hex::encode(p.consent_text_sha256()),
        });
        let saved = self.save_consent(&next);
        if grant {
            // Fail closed: collection starts only once the grant is stored.
            saved?;
            *consent = next;
            self.refresh_gates(&consent);
            return Ok(());
        }
        // Revocation takes effect whatever the disk says.
        *consent = next;
        self.refresh_gates(&consent);
        self.purge(&[i]);
        saved.map_err(ConsentError::from)
    }

    /// Switches the child profile (`child`) or the global opt-out; `on`
    /// closes every gate and purges everything.
    pub(crate) fn set_flag(&self, child: bool, on: bool) -> std::io::Result<()> {
        let mut consent = lock(&self.consent);
        let mut next = consent.clone();
        if child {
            next.child_profile = on;
        } else {
            next.global_opt_out = on;
        }
        let saved = self.save_consent(&next);
        if saved.is_err() && !on {
            // Turning collection back on must be durable first.
            return saved;
        }
        *consent = next;
        self.refresh_gates(&consent);
        if on {
            let all: Vec<usize> = (0..self.gates.len()).collect();
            self.purge(&all);
        }
        saved
    }

    /// Switches app-wide private mode (not persisted).
    pub(crate) fn set_private_mode(&self, on: bool) {
        self.private_mode.store(on, Ordering::Relaxed);
    }

    /// Deletes everything held for the given purposes: cells, day
    /// aggregates, queued reports. Their gates must already be closed.
    fn purge(&self, purposes: &[usize]) {
        for slot in self.slots.values() {
            if purposes.contains(&slot.purpose) {
                let _ = slot.take();
            }
        }
        let mut state = lock(&self.state);
        state
            .days
            .retain(|e| !purposes.iter().any(|&i| self.gates[i].id == e.purpose));
        // The remembered local-DP values and answers are the purpose's data too.
        let schema = &self.schema;
        let kept = |id: &String| {
            schema
                .metric(id)
                .is_none_or(|m| !purposes.iter().any(|&i| self.gates[i].id == m.purpose))
        };
        state.ldp.retain(|id, _| kept(id));
        // So is the activity memory: a device that grants again starts as
        // a new install.
        state.activity.retain(|id, _| kept(id));
        for &i in purposes {
            if self.outbox.purge_purpose(&self.gates[i].id).is_err() {
                self.errors.add(ErrorKind::Storage, 1);
            }
        }
        self.persist(&mut state);
    }

    /// The consent status of every purpose.
    pub(crate) fn consent_status(&self) -> BTreeMap<String, PurposeConsent> {
        let consent = lock(&self.consent);
        self.gates
            .iter()
            .map(|g| {
                let granted_version = consent.grants.get(&g.id).copied();
                (
                    g.id.clone(),
                    PurposeConsent {
                        granted_version,
                        current_version: g.consent_version,
                        granted: granted_version == Some(g.consent_version),
                        collecting: g.open.load(Ordering::Acquire),
                    },
                )
            })
            .collect()
    }

    /// Every grant and revocation made here.
    pub(crate) fn receipts(&self) -> Vec<Receipt> {
        lock(&self.consent).receipts.clone()
    }
}
