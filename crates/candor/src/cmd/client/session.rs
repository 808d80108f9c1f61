//! One SDK session per command: open `client.json` and the SDK, bring it up
//! to date with the clock, run the command (consent, switches, status, day
//! end, upload, listings, deletion), flush, and warn about SDK errors the
//! session counted.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use candor_protocol::Day;
use candor_schema::Schema;
use candor_sdk::upload::HttpUploader;
use candor_sdk::{Candor, Clock, ConsentError, PurposeConsent};
use serde::Serialize;

use super::args::ClientCommand;
use super::file::{CLIENT_FILE, CLIENT_FORMAT, ClientFile, open_sdk, write_client_file};
use super::show::{print_json, print_reports, summary_json};
use super::{UPLOAD_FAILED, join, refuse, words};

/// The SDK's error counters: metric id (or `*`, `*url`) → error code → count.
pub(super) type ErrorCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// An open client directory.
pub(super) struct Session {
    pub(super) dir: PathBuf,
    pub(super) file: ClientFile,
    schema_id: String,
    schema_version: u32,
    clock: Arc<dyn Clock>,
    /// The schema `client.json` holds, for messages in words.
    pub(super) schema: Schema,
    pub(super) sdk: Candor,
    /// The SDK's error counters when the session began.
    errors_before: ErrorCounts,
}

impl Session {
    /// Opens the client directory `dir` and brings its SDK up to date; an
    /// `upload` command gets an HTTP uploader.
    pub(super) fn open(dir: &Path, clock: Arc<dyn Clock>, command: &ClientCommand) -> Result<Self> {
        let path = dir.join(CLIENT_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(
                "{} is not a client directory (no {CLIENT_FILE}); run `candor client init` first",
                dir.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let file: ClientFile = serde_json::from_slice(&bytes)
            .with_context(|| format!("parsing {}", path.display()))?;
        if file.format != CLIENT_FORMAT {
            bail!(
                "{} has format {}; this candor understands {CLIENT_FORMAT}",
                path.display(),
                file.format
            );
        }
        let origin = format!("{} (schema from {})", path.display(), file.schema_origin);
        let schema = candor_schema::parse(&file.schema, &origin, clock.today().date())
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("{} holds an invalid schema", path.display()))?
            .schema;
        let uploader: Option<Arc<dyn candor_sdk::Uploader>> = match command {
            ClientCommand::Upload {
                url,
                relay,
                gateway_keys,
                ca_cert,
                ..
            } => Some(Arc::new(uploader(
                url,
                relay.as_deref(),
                gateway_keys.as_deref(),
                ca_cert.as_deref(),
            )?)),
            _ => None,
        };
        let (schema_id, schema_version) = (schema.id.clone(), schema.version);
        let sdk = open_sdk(dir, &file, schema.clone(), clock.clone(), uploader)?;
        let errors_before = sdk.error_counts();
        // Bring the SDK up to date with the clock: days that ended since the
        // last command become queued reports before anything is shown or sent.
        sdk.flush();
        Ok(Session {
            dir: dir.to_owned(),
            file,
            schema_id,
            schema_version,
            clock,
            schema,
            sdk,
            errors_before,
        })
    }

    /// Runs `command`, then flushes and warns about SDK errors.
    pub(super) fn run(mut self, command: ClientCommand) -> Result<ExitCode> {
        let code = self.dispatch(command)?;
        self.sdk.flush();
        self.warn_sdk_errors();
        Ok(code)
    }

    fn dispatch(&mut self, command: ClientCommand) -> Result<ExitCode> {
        let sdk = &self.sdk;
        match command {
            ClientCommand::Init { .. } => unreachable!("init runs without a session"),
            ClientCommand::Grant { purpose } => return self.consent(&purpose, true),
            ClientCommand::Revoke { purpose } => return self.consent(&purpose, false),
            ClientCommand::OptOut { state } => {
                sdk.set_global_opt_out(state.on())
                    .context("storing the global opt-out")?;
                eprintln!(
                    "Global opt-out {}.",
                    if state.on() {
                        "on: nothing is recorded or sent, and everything queued was deleted"
                    } else {
                        "off"
                    }
                );
            }
            ClientCommand::Child { state } => {
                sdk.set_child_profile(state.on())
                    .context("storing the child profile")?;
                eprintln!(
                    "Child profile {}.",
                    if state.on() {
                        "on: nothing is recorded or sent, and everything queued was deleted"
                    } else {
                        "off"
                    }
                );
            }
            ClientCommand::Private { state } => {
                self.file.private_mode = state.on();
                write_client_file(&self.dir, &self.file, true)?;
                sdk.set_private_mode(state.on());
                eprintln!(
                    "Private mode {} (stored in {CLIENT_FILE}: the SDK does not persist it).",
                    if state.on() { "on" } else { "off" }
                );
            }
            ClientCommand::Status => {
                #[derive(Serialize)]
                struct Status<'a> {
                    schema: &'a str,
                    schema_version: u32,
                    region: &'a str,
                    signing_key: &'a str,
                    private_mode: bool,
                    purposes: BTreeMap<String, PurposeConsent>,
                }
                print_json(&Status {
                    schema: &self.schema_id,
                    schema_version: self.schema_version,
                    region: &self.file.region,
                    signing_key: &self.file.signing_key,
                    private_mode: self.file.private_mode,
                    purposes: sdk.consent_status(),
                })?;
            }
            ClientCommand::Record(args) => return Ok(self.record(args)),
            ClientCommand::EndDay => {
                sdk.end_day();
                let day = Day::from_unix_seconds(self.clock.now())
                    .map_or_else(|| "today".to_owned(), |d| d.to_string());
                eprintln!(
                    "Ended {day}: {} report(s) pending.",
                    sdk.pending_reports().len()
                );
            }
            ClientCommand::Flush => sdk.flush(),
            ClientCommand::Upload {
                url, relay, force, ..
            } => {
                let (flag, target) = match relay {
                    Some(relay) => ("--relay", relay),
                    None => ("--url", url),
                };
                return self.upload(flag, &target, force);
            }
            ClientCommand::Pending => print_reports(sdk.pending_reports())?,
            ClientCommand::Sent { days } => print_reports(sdk.sent_reports(days))?,
            ClientCommand::Receipts => print_json(&sdk.receipts())?,
            ClientCommand::Errors => print_json(&sdk.error_counts())?,
            ClientCommand::DeleteAll => {
                sdk.delete_all_data();
                // Counters were reset: nothing to compare against.
                self.errors_before = sdk.error_counts();
                eprintln!("Deleted all collected data; consent receipts are kept.");
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// One upload pass to `target` (the collector's or the relay's URL).
    /// The SDK backs off after a failure; the pass tries at once anyway
    /// with `force`, or when the failure was with another target (the
    /// user corrected the address). Every outcome but success is explained
    /// on stderr, a backoff with its local time and how to override it.
    fn upload(&self, flag: &str, target: &str, force: bool) -> Result<ExitCode> {
        let failed_file = self.dir.join(FAILED_TARGET_FILE);
        let failed_target = fs::read_to_string(&failed_file).ok();
        let other_target = failed_target.as_deref().is_some_and(|t| t.trim() != target);
        if force || other_target {
            self.sdk.retry_now();
        }
        let summary = self.sdk.upload_pending();
        print_json(&summary_json(&summary))?;
        let now = self.clock.now();
        if summary.requests > 0 && summary.accepted == 0 {
            fs::write(&failed_file, target)
                .with_context(|| format!("writing {}", failed_file.display()))?;
            if summary.rejected > 0 && summary.retry_at.is_none() {
                eprintln!(
                    "error: the upload failed: the collector at {target} refused {} report(s) for good; they were deleted.",
                    summary.rejected
                );
            } else {
                let (why, hint) = upload_failure(target);
                eprintln!(
                    "error: the upload failed: {why}; {} report(s) stay queued.",
                    summary.remaining
                );
                if let Some(hint) = hint {
                    eprintln!("hint: {hint}");
                }
            }
            if let Some(at) = summary.retry_at {
                eprintln!("{}", self.backoff_note(flag, target, at, now));
            }
            return Ok(ExitCode::from(UPLOAD_FAILED));
        }
        if summary.accepted > 0 && failed_target.is_some() {
            let _ = fs::remove_file(&failed_file);
        }
        if summary.requests == 0
            && let Some(at) = summary.retry_at
        {
            eprintln!(
                "note: no request made: an earlier upload to {target} failed.\n{}",
                self.backoff_note(flag, target, at, now)
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The backoff in words: until when (local time, and how long from
    /// now), and how to try anyway.
    fn backoff_note(&self, flag: &str, target: &str, at: i64, now: i64) -> String {
        format!(
            "The SDK backs off after a failed upload (longer after each failure, with jitter, so \
             that a fleet does not retry all at once): the next upload tries again after {}, {}.\n\
             hint: to try now (once the collector runs): `candor client --dir {} upload {flag} {target} --force`; \
             an upload to another address tries at once.",
            crate::cmd::local_time(at),
            crate::cmd::in_words(at - now),
            self.dir.display(),
        )
    }

    fn consent(&self, purpose: &str, grant: bool) -> Result<ExitCode> {
        let result = if grant {
            self.sdk.grant(purpose)
        } else {
            self.sdk.revoke(purpose)
        };
        match result {
            Ok(()) => {
                let status = self.sdk.consent_status();
                let version = status.get(purpose).map_or(0, |s| s.current_version);
                eprintln!(
                    "{} {purpose} (consent version {version}).",
                    if grant { "Granted" } else { "Revoked" }
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(ConsentError::UnknownPurpose(p)) => refuse(format!(
                "unknown purpose {p:?} (schema purposes: {})",
                join(self.sdk.consent_status().keys())
            )),
            Err(e) => Err(e).context("storing the consent decision"),
        }
    }

    /// Warns about SDK-wide errors counted during this session (storage
    /// failures, late data for a day already reported, reports dropped or
    /// refused, ...). Per-metric ones were reported by `record`.
    fn warn_sdk_errors(&self) {
        let after = self.sdk.error_counts();
        for (code, n) in grown(&self.errors_before, &after, "*") {
            // Counted per metric id too, and reported by `record`.
            if code != "unknown_metric" {
                eprintln!("warning: {}", words::counted(&code, n));
            }
        }
    }
}

/// The file in the client directory naming where the last failed upload
/// went, so that an upload elsewhere is not held back by its backoff.
const FAILED_TARGET_FILE: &str = "upload-failed-target.txt";

/// Why an upload pass to `target` delivered nothing, as far as a second
/// look can tell (nothing answers there, or it answered and did not take
/// the reports), and what to do about it.
fn upload_failure(target: &str) -> (String, Option<&'static str>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let probe = format!("{}/readyz", target.trim_end_matches('/'));
    match agent.get(&probe).call() {
        Err(e) if crate::cmd::errors::unreachable(&e) => (
            format!("nothing answers at {target}"),
            Some(crate::cmd::errors::UNREACHABLE),
        ),
        Err(e) => (format!("{target} could not be reached ({e})"), None),
        Ok(_) => (
            format!(
                "{target} answered, but did not take the reports (it asked to retry later, or is not a Candor collector)"
            ),
            None,
        ),
    }
}

/// The error codes under `key` whose counts grew, with the increase.
pub(super) fn grown(before: &ErrorCounts, after: &ErrorCounts, key: &str) -> Vec<(String, u64)> {
    let Some(now) = after.get(key) else {
        return Vec::new();
    };
    let then = before.get(key);
    now.iter()
        .filter_map(|(code, &n)| {
            let was = then.and_then(|m| m.get(code)).copied().unwrap_or(0);
            (n > was).then(|| (code.clone(), n - was))
        })
        .collect()
}

/// The uploader of `candor client upload`: to the collector at `url`, or
/// through the OHTTP relay at `relay`, encapsulated to the key list in
/// `gateway_keys` (or to the one the relay hands out).
fn uploader(
    url: &str,
    relay: Option<&str>,
    gateway_keys: Option<&Path>,
    ca_cert: Option<&Path>,
) -> Result<HttpUploader> {
    let http = |flag: &str, url: &str| {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "{flag} must be an http:// or https:// URL, not {url:?}"
            ))
        }
    };
    match relay {
        Some(relay) => {
            http("--relay", relay)?;
            let keys = match gateway_keys {
                Some(path) => {
                    fs::read(path).with_context(|| format!("reading {}", path.display()))?
                }
                None => HttpUploader::fetch_gateway_keys(relay)
                    .with_context(|| format!("fetching the gateway's key config from {relay}"))?,
            };
            HttpUploader::through_relay(relay, &keys).context("the gateway's key config")
        }
        None => {
            http("--url", url)?;
            match ca_cert {
                None => Ok(HttpUploader::new(url)),
                Some(path) => {
                    let pem = fs::read(path).with_context(|| {
                        format!("reading the CA certificate {}", path.display())
                    })?;
                    HttpUploader::with_ca_pem(url, &pem)
                        .with_context(|| format!("using the CA certificate {}", path.display()))
                }
            }
        }
    }
}
