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
use candor_sdk::upload::HttpUploader;
use candor_sdk::{Candor, Clock, ConsentError, PurposeConsent};
use serde::Serialize;

use super::args::ClientCommand;
use super::file::{CLIENT_FILE, CLIENT_FORMAT, ClientFile, open_sdk, write_client_file};
use super::show::{print_json, print_reports, summary_json};
use super::{UPLOAD_FAILED, join, refuse};

/// The SDK's error counters: metric id (or `*`, `*url`) → error code → count.
pub(super) type ErrorCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// An open client directory.
pub(super) struct Session {
    dir: PathBuf,
    file: ClientFile,
    schema_id: String,
    schema_version: u32,
    clock: Arc<dyn Clock>,
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
            } => Some(Arc::new(uploader(
                url.as_deref(),
                relay.as_deref(),
                gateway_keys.as_deref(),
                ca_cert.as_deref(),
            )?)),
            _ => None,
        };
        let (schema_id, schema_version) = (schema.id.clone(), schema.version);
        let sdk = open_sdk(dir, &file, schema, clock.clone(), uploader)?;
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
            ClientCommand::Record(args) => self.record(args),
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
            ClientCommand::Upload { .. } => {
                let summary = sdk.upload_pending();
                print_json(&summary_json(&summary))?;
                if summary.requests > 0 && summary.accepted == 0 {
                    return Ok(ExitCode::from(UPLOAD_FAILED));
                }
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
                eprintln!("warning: {code} (+{n}; see `candor client errors`)");
            }
        }
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
    url: Option<&str>,
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
    match (url, relay) {
        (_, Some(relay)) => {
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
        (Some(url), None) => {
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
        (None, None) => bail!("give --url or --relay"),
    }
}
