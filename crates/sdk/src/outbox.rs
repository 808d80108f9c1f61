//! The outbox of sealed reports waiting for upload, and the archive of sent
//! reports kept for the user to read.
//!
//! One file per report, named `{day}.{purpose}.json`: since a device sends at
//! most one report per (purpose, day), the name itself makes building a
//! report idempotent across crashes — if the file exists (here or in the sent
//! archive), that day's report was already built and is never built again
//! under another report id.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use candor_protocol::Day;
use serde::{Deserialize, Serialize};

use crate::files::{read_optional, remove_optional, sync_dir, write_atomic};

/// A sealed report waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Queued {
    pub(crate) purpose: String,
    pub(crate) day: Day,
    pub(crate) report_id: String,
    /// Unix time the report was sealed (stays on the device).
    pub(crate) created: i64,
    /// The exact plaintext JSON inside the envelope, for the user to read.
    pub(crate) plaintext: String,
    /// The envelope, hex.
    pub(crate) envelope: String,
}

/// A report the collector accepted, kept for the user to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sent {
    pub(crate) purpose: String,
    pub(crate) day: Day,
    pub(crate) report_id: String,
    /// Unix time the collector accepted it (stays on the device).
    pub(crate) sent_at: i64,
    pub(crate) plaintext: String,
}

/// The outbox and sent-archive directories.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: PathBuf,
    sent: PathBuf,
}

fn name(purpose: &str, day: Day) -> String {
    format!("{day}.{purpose}.json")
}

/// Parses `{day}.{purpose}.json`.
fn parse_name(file: &str) -> Option<(Day, &str)> {
    let rest = file.strip_suffix(".json")?;
    let (day, purpose) = rest.split_once('.')?;
    Some((Day::parse(day)?, purpose))
}

impl Outbox {
    pub(crate) fn open(data_dir: &Path) -> io::Result<Self> {
        let queue = data_dir.join("outbox");
        let sent = data_dir.join("sent");
        fs::create_dir_all(&queue)?;
        fs::create_dir_all(&sent)?;
        Ok(Outbox { queue, sent })
    }

    /// Whether the report for (purpose, day) was already built.
    pub(crate) fn already_built(&self, purpose: &str, day: Day) -> bool {
        let n = name(purpose, day);
        self.queue.join(&n).exists() || self.sent.join(&n).exists()
    }

    pub(crate) fn push(&self, q: &Queued) -> io::Result<u64> {
        let bytes = serde_json::to_vec(q).map_err(io::Error::other)?;
        write_atomic(&self.queue.join(name(&q.purpose, q.day)), &bytes)?;
        Ok(bytes.len() as u64)
    }

    /// Every queued report with its size on disk, oldest day first.
    /// Unreadable entries (only a hand-edited file can be) are skipped.
    pub(crate) fn list(&self) -> io::Result<Vec<(Queued, u64)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.queue)? {
            let entry = entry?;
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            if parse_name(file).is_none() {
                continue;
            }
            let Some(bytes) = read_optional(&entry.path())? else {
                continue;
            };
            if let Ok(q) = serde_json::from_slice::<Queued>(&bytes) {
                out.push((q, bytes.len() as u64));
            }
        }
        out.sort_by(|(a, _), (b, _)| (a.day, &a.purpose).cmp(&(b.day, &b.purpose)));
        Ok(out)
    }

    /// How many reports are queued (names only; nothing is parsed).
    pub(crate) fn count(&self) -> io::Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(&self.queue)? {
            if entry?.file_name().to_str().and_then(parse_name).is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    pub(crate) fn remove(&self, purpose: &str, day: Day) -> io::Result<()> {
        remove_optional(&self.queue.join(name(purpose, day)))?;
        sync_dir(&self.queue)
    }

    /// Records the acceptance first, then removes the queued copy: a crash in
    /// between leaves both, and the next pass sees the sent record and drops
    /// the queued copy instead of sending it again.
    pub(crate) fn mark_sent(&self, q: &Queued, now: i64) -> io::Result<()> {
        let sent = Sent {
            purpose: q.purpose.clone(),
            day: q.day,
            report_id: q.report_id.clone(),
            sent_at: now,
            plaintext: q.plaintext.clone(),
        };
        let bytes = serde_json::to_vec(&sent).map_err(io::Error::other)?;
        write_atomic(&self.sent.join(name(&q.purpose, q.day)), &bytes)?;
        self.remove(&q.purpose, q.day)
    }

    pub(crate) fn is_sent(&self, purpose: &str, day: Day) -> bool {
        self.sent.join(name(purpose, day)).exists()
    }

    /// Removes every queued report of `purpose`; returns how many.
    pub(crate) fn purge_purpose(&self, purpose: &str) -> io::Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(&self.queue)? {
            let entry = entry?;
            let file = entry.file_name();
            if let Some((_, p)) = file.to_str().and_then(parse_name)
                && p == purpose
            {
                remove_optional(&entry.path())?;
                n += 1;
            }
        }
        sync_dir(&self.queue)?;
        Ok(n)
    }

    /// Sent reports for days on or after `since`, oldest first.
    pub(crate) fn sent_since(&self, since: Day) -> io::Result<Vec<Sent>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.sent)? {
            let entry = entry?;
            let file = entry.file_name();
            let Some((day, _)) = file.to_str().and_then(parse_name) else {
                continue;
            };
            if day < since {
                continue;
            }
            if let Some(bytes) = read_optional(&entry.path())?
                && let Ok(s) = serde_json::from_slice::<Sent>(&bytes)
            {
                out.push(s);
            }
        }
        out.sort_by(|a, b| (a.day, &a.purpose).cmp(&(b.day, &b.purpose)));
        Ok(out)
    }

    /// Deletes sent records of days before `cutoff`.
    pub(crate) fn prune_sent(&self, cutoff: Day) -> io::Result<()> {
        for entry in fs::read_dir(&self.sent)? {
            let entry = entry?;
            let file = entry.file_name();
            if let Some((day, _)) = file.to_str().and_then(parse_name)
                && day < cutoff
            {
                remove_optional(&entry.path())?;
            }
        }
        sync_dir(&self.sent)
    }

    /// Deletes everything queued and sent.
    pub(crate) fn clear(&self) -> io::Result<()> {
        for dir in [&self.queue, &self.sent] {
            for entry in fs::read_dir(dir)? {
                remove_optional(&entry?.path())?;
            }
            sync_dir(dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let day = Day::from_ymd(2026, 11, 29).expect("valid");
        let n = name("usage_2", day);
        assert_eq!(n, "2026-11-29.usage_2.json");
        assert_eq!(parse_name(&n), Some((day, "usage_2")));
        assert_eq!(parse_name(".2026-11-29.usage.json.tmp"), None);
    }
}
