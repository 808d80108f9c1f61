//! The signed key list a device seals to (docs/wire.md §5.2).
//!
//! The SDK is configured with its region's signing public key, never with a
//! bare key config. It holds the last valid list it was given (bundled by
//! the host, [`crate::Candor::set_key_list`], or fetched through the
//! uploader), keeps it in `key-list.json` and checks it again whenever it
//! loads it. While it holds no valid list it seals nothing: finished days
//! stay aggregates until one arrives. A refused list is counted under `*keys`
//! with its code.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use candor_protocol::{KeyConfig, KeyList, MAX_CLOCK_SKEW_SECONDS, SignedKeyList};

use crate::errors::ErrorKind;
use crate::files::{read_optional, write_atomic};
use crate::upload::KeyListFetch;

use super::{Inner, lock};

/// The held list's file in the data directory.
pub(super) const KEY_LIST_FILE: &str = "key-list.json";

/// The error-counter entry of refused key lists (code → count).
pub(super) const REFUSALS: &str = "*keys";

/// A list the device verified, with the document it came as.
pub(super) struct Held {
    list: KeyList,
    document: Vec<u8>,
}

impl Held {
    /// Whether the list may still be sealed to at `now`.
    fn valid_at(&self, now: i64) -> bool {
        self.list.expires_at.saturating_add(MAX_CLOCK_SKEW_SECONDS) > now
    }

    /// Whether half of the list's validity has passed: time to fetch a new one.
    fn stale_at(&self, now: i64) -> bool {
        let l = &self.list;
        now >= l.issued_at + (l.expires_at - l.issued_at) / 2
    }
}

impl Inner {
    /// Checks a served key list document and, if it is valid and not older
    /// than the one held, holds it (and writes it to disk when `persist`).
    /// Returns whether the held list changed; a refused list is counted
    /// with its code.
    pub(crate) fn offer_key_list(
        &self,
        document: &[u8],
        persist: bool,
    ) -> Result<bool, candor_protocol::Error> {
        let now = self.clock.now();
        let list = match SignedKeyList::verify_json(document, &self.signing_key, now) {
            Ok(list) => list,
            Err(e) => {
                self.errors.add(ErrorKind::KeyListRefused, 1);
                *lock(&self.key_refusals)
                    .entry(e.code().to_owned())
                    .or_default() += 1;
                return Err(e);
            }
        };
        let mut held = lock(&self.key_list);
        if let Some(h) = held.as_ref()
            && h.valid_at(now)
            && h.list.serial > list.serial
        {
            // Never back to an older list while the newer one is valid.
            return Ok(false);
        }
        if held.as_ref().is_some_and(|h| h.document == document) {
            return Ok(false);
        }
        if persist && write_atomic(&self.dir.join(KEY_LIST_FILE), document).is_err() {
            self.errors.add(ErrorKind::Storage, 1);
        }
        *held = Some(Held {
            list,
            document: document.to_vec(),
        });
        Ok(true)
    }

    /// Loads the list kept on disk, checking it again (it may have expired,
    /// or the pinned key may have changed since).
    pub(super) fn load_key_list(&self) {
        if let Ok(Some(bytes)) = read_optional(&self.dir.join(KEY_LIST_FILE)) {
            let _ = self.offer_key_list(&bytes, false);
        }
    }

    /// The key to seal to now: the first of the held list, if it is still
    /// valid.
    pub(super) fn sealing_key(&self) -> Option<KeyConfig> {
        let now = self.clock.now();
        lock(&self.key_list)
            .as_ref()
            .filter(|h| h.valid_at(now))
            .map(|h| h.list.preferred().clone())
    }

    /// Fetches a new list through the uploader when the device has none
    /// that is valid, or half of the held one's validity has passed; after
    /// a failed or refused fetch, not again before the backoff's base delay.
    /// Returns whether the held list changed.
    pub(super) fn refresh_key_list(&self) -> bool {
        let Some(uploader) = self.uploader.clone() else {
            return false;
        };
        let now = self.clock.now();
        let fresh = lock(&self.key_list)
            .as_ref()
            .is_some_and(|h| h.valid_at(now) && !h.stale_at(now));
        if fresh || now < self.next_key_fetch.load(Ordering::Relaxed) {
            return false;
        }
        let changed = match uploader.fetch_key_list(&self.region) {
            KeyListFetch::Fetched(document) => self.offer_key_list(&document, true),
            KeyListFetch::NotSupported | KeyListFetch::RetryLater => Ok(false),
        };
        let stale = !lock(&self.key_list)
            .as_ref()
            .is_some_and(|h| h.valid_at(now) && !h.stale_at(now));
        if stale {
            self.next_key_fetch.store(
                now.saturating_add(self.backoff.base_seconds.max(1)),
                Ordering::Relaxed,
            );
        }
        changed.unwrap_or(false)
    }

    /// The refused-list counters, for [`Inner::error_counts`] and the state file.
    pub(super) fn key_refusal_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.key_refusals).clone()
    }
}
