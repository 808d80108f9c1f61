//! The audit log's hash chain: what a row is, how it is hashed, and how a
//! chain is checked.
//!
//! Every analyst query, token change, key change and retention run is
//! appended to its region's store as an [`AuditEntry`]. Entry `n` (from 1)
//! carries `prev`, the hash of entry `n − 1` (32 zero bytes for the first),
//! and `hash = SHA-256(encoding)`, where the encoding is
//!
//! ```text
//! "candor audit v1\n" ‖ prev (32 bytes) ‖ seq (u64, big-endian)
//!   ‖ at (i64, big-endian) ‖ for actor, action, detail: length (u32, BE) ‖ UTF-8 bytes
//! ```
//!
//! Length prefixes make the encoding injective, so no two different rows
//! hash alike by moving bytes between fields. A store keeps the last
//! `(seq, hash)` as the chain's *head* beside the rows, written in the same
//! transaction. [`verify`] then detects:
//!
//! - an edited row: its recomputed hash differs from the stored one (or,
//!   if the stored hash was recomputed too, the next row's `prev` differs);
//! - a deleted row: a gap in `seq`, or a `prev` that does not match; a
//!   deleted *last* row leaves the head pointing past the end;
//! - reordered rows: `seq` out of order, or the chain's links broken.
//!
//! Someone who can write the database can still rewrite the whole chain
//! consistently, head included. That is what the head is for outside the
//! database: `candor audit show` prints it, and `candor audit verify
//! --head <seq>:<hash>` checks the log still contains that entry unchanged,
//! so a head written down (or published) earlier pins everything before it.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The `prev` of the first entry.
pub const GENESIS: Hash = [0; 32];

/// What is appended: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix time in seconds. Analysts' actions are not personal data of the
    /// users measured, so the time is kept exact.
    pub at: i64,
    /// Who: a token's name, or `cli` / `collector` for local actions.
    pub actor: String,
    /// What, as a stable dotted code: `query`, `token.create`,
    /// `token.revoke`, `key.generate`, `key.retire`, `retention`.
    pub action: String,
    /// The details as compact JSON (the query, the ε spent, …). Never a
    /// token, a key or a report.
    pub detail: String,
}

/// A stored row of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// The record.
    pub record: AuditRecord,
    /// The previous entry's hash ([`GENESIS`] for seq 1).
    pub prev: Hash,
    /// This entry's hash (see the module docs).
    pub hash: Hash,
}

/// The chain's last entry as the store recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its seq.
    pub seq: u64,
    /// Its hash.
    pub hash: Hash,
}

/// The hash of the entry `seq` holding `record` after `prev`.
pub fn entry_hash(prev: &Hash, seq: u64, record: &AuditRecord) -> Hash {
    let mut h = Sha256::new();
    h.update(b"candor audit v1\n");
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(record.at.to_be_bytes());
    for field in [&record.actor, &record.action, &record.detail] {
        // Fields longer than 4 GiB cannot be stored; saturating keeps the
        // encoding total without a panic path.
        h.update(u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// The entry that follows `head` (or starts the chain) with `record`.
pub fn next_entry(head: Option<Head>, record: AuditRecord) -> AuditEntry {
    let (seq, prev) = match head {
        Some(h) => (h.seq + 1, h.hash),
        None => (1, GENESIS),
    };
    let hash = entry_hash(&prev, seq, &record);
    AuditEntry {
        seq,
        record,
        prev,
        hash,
    }
}

/// The first place a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {seq}: {reason}")]
pub struct ChainBreak {
    /// The first entry (seq) that does not check out; for a missing tail,
    /// the first seq that should exist.
    pub seq: u64,
    /// What is wrong, in words.
    pub reason: String,
}

/// Checks a whole chain, in stored order, against the stored head and, if
/// given, a head known from elsewhere (`pinned`). Returns the number of
/// entries checked.
///
/// # Errors
/// The first [`ChainBreak`].
pub fn verify(
    entries: &[AuditEntry],
    head: Option<Head>,
    pinned: Option<Head>,
) -> Result<u64, ChainBreak> {
    let mut prev = GENESIS;
    for (i, e) in entries.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        let broken = |reason: String| ChainBreak {
            seq: e.seq.min(expected_seq),
            reason,
        };
        if e.seq != expected_seq {
            return Err(broken(format!(
                "expected entry {expected_seq} here, found entry {} (an entry was deleted or the rows were reordered)",
                e.seq
            )));
        }
        if e.prev != prev {
            return Err(broken(
                "its link to the previous entry does not match (the previous entry was changed, removed or moved)".into(),
            ));
        }
        if entry_hash(&e.prev, e.seq, &e.record) != e.hash {
            return Err(broken(
                "its contents do not match its hash (it was edited)".into(),
            ));
        }
        prev = e.hash;
    }
    let last = entries.last().map(|e| Head {
        seq: e.seq,
        hash: e.hash,
    });
    if head != last {
        let seq = last.map_or(1, |l| l.seq + 1);
        return Err(match head {
            Some(h) if h.seq > last.map_or(0, |l| l.seq) => ChainBreak {
                seq,
                reason: format!(
                    "the log ends before its recorded head, entry {} (entries were deleted from the end)",
                    h.seq
                ),
            },
            _ => ChainBreak {
                seq: last.map_or(1, |l| l.seq),
                reason: "the last entry is not the recorded head (the end of the log was changed)"
                    .into(),
            },
        });
    }
    if let Some(p) = pinned {
        match entries.get(p.seq.wrapping_sub(1) as usize) {
            Some(e) if e.hash == p.hash => {}
            Some(_) => {
                return Err(ChainBreak {
                    seq: p.seq,
                    reason: "the entry does not match the given head (the log was rewritten)"
                        .into(),
                });
            }
            None => {
                return Err(ChainBreak {
                    seq: p.seq,
                    reason: "the log is shorter than the given head (it was truncated)".into(),
                });
            }
        }
    }
    Ok(entries.len() as u64)
}

/// Parses a head written as `<seq>:<64 hex digits>` (as `candor audit
/// show` prints it).
pub fn parse_head(s: &str) -> Option<Head> {
    let (seq, hex) = s.trim().split_once(':')?;
    let seq = seq.parse().ok()?;
    if hex.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Head { seq, hash })
}

/// Formats a head as [`parse_head`] reads it.
pub fn format_head(head: &Head) -> String {
    format!("{}:{}", head.seq, to_hex(&head.hash))
}

/// Lower-case hex of a hash.
pub fn to_hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let head = out.last().map(|e| Head {
                seq: e.seq,
                hash: e.hash,
            });
            out.push(next_entry(
                head,
                AuditRecord {
                    at: 1_700_000_000 + i as i64,
                    actor: "ana".into(),
                    action: "query".into(),
                    detail: format!("{{\"n\":{i}}}"),
                },
            ));
        }
        out
    }

    fn head(c: &[AuditEntry]) -> Option<Head> {
        c.last().map(|e| Head {
            seq: e.seq,
            hash: e.hash,
        })
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, head(&c), None), Ok(5));
        assert_eq!(verify(&[], None, None), Ok(0));
        assert_eq!(
            verify(
                &c,
                head(&c),
                Some(Head {
                    seq: 3,
                    hash: c[2].hash
                })
            ),
            Ok(5)
        );
    }

    #[test]
    fn an_edit_is_found_at_its_entry() {
        let mut c = chain(5);
        let h = head(&c);
        c[2].record.detail = "{\"n\":99}".into();
        assert_eq!(verify(&c, h, None).unwrap_err().seq, 3);
        // Rehashing the edited entry moves the break to the next link.
        c[2].hash = entry_hash(&c[2].prev, 3, &c[2].record);
        assert_eq!(verify(&c, h, None).unwrap_err().seq, 4);
    }

    #[test]
    fn field_boundaries_are_part_of_the_hash() {
        let a = AuditRecord {
            at: 1,
            actor: "ab".into(),
            action: "c".into(),
            detail: String::new(),
        };
        let b = AuditRecord {
            actor: "a".into(),
            action: "bc".into(),
            ..a.clone()
        };
        assert_ne!(entry_hash(&GENESIS, 1, &a), entry_hash(&GENESIS, 1, &b));
    }

    #[test]
    fn deletions_and_reorders_are_found() {
        let c = chain(5);
        let h = head(&c);
        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted, h, None).unwrap_err().seq, 2);
        let mut swapped = c.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped, h, None).unwrap_err().seq, 2);
        let mut tail = c.clone();
        tail.pop();
        let err = verify(&tail, h, None).unwrap_err();
        assert_eq!(err.seq, 5, "{err}");
        // A rewritten chain with a consistent head is caught by a pinned head.
        let mut rewritten = chain(5);
        rewritten[0].record.actor = "mallory".into();
        let mut prev = GENESIS;
        for e in &mut rewritten {
            e.prev = prev;
            e.hash = entry_hash(&e.prev, e.seq, &e.record);
            prev = e.hash;
        }
        let pinned = Some(Head {
            seq: 2,
            hash: c[1].hash,
        });
        assert_eq!(verify(&rewritten, head(&rewritten), None), Ok(5));
        assert_eq!(
            verify(&rewritten, head(&rewritten), pinned)
                .unwrap_err()
                .seq,
            2
        );
    }

    #[test]
    fn heads_round_trip_as_text() {
        let c = chain(2);
        let h = head(&c).unwrap();
        assert_eq!(parse_head(&format_head(&h)), Some(h));
        assert_eq!(parse_head("2:abc"), None);
        assert_eq!(parse_head(&format!("x:{}", "0".repeat(64))), None);
    }
}
