//! `candor client`: drive an SDK instance from the shell.
//!
//! So the SDK can be tried and scripted without writing Rust. A client
//! directory holds `client.json` (written by `init`: the schema's TOML text,
//! the region's public key config, the raw dimension values and the private
//! mode switch) next to the SDK's own files (consent receipts, day
//! aggregates, outbox, sent reports).
//!
//! Every command but `init` is one short SDK session: load `client.json`,
//! open the SDK without a background thread, bring it up to date with the
//! clock (days that have ended become reports), do one thing, and `flush()`
//! before exiting so nothing recorded is lost. `--now` replaces the system
//! clock with a fixed one so scripts and tests can walk through days.
//!
//! Recording keeps the SDK's semantics: it never fails. When the SDK counted
//! an error for the call (unknown metric or label, wrong type, negative
//! value, dropped URL, ...), a one-line warning naming the error code goes
//! to stderr and the exit code is still 0.
//!
//! Nothing here prints or stores a private key or token: `client.json` holds
//! only the public key config.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use candor_protocol::{Day, KeyConfig, Report};
use candor_schema::{Checked, Schema};
use candor_sdk::upload::HttpUploader;
use candor_sdk::{
    Candor, Clock, Config, ConsentError, ManualClock, PurposeConsent, SystemClock, UploadSummary,
};
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

/// The name of the client's own file inside `--dir`.
const CLIENT_FILE: &str = "client.json";

/// The format version written into `client.json`.
const CLIENT_FORMAT: u32 = 1;

/// Exit status of `upload` when it made requests and none delivered a report.
const UPLOAD_FAILED: u8 = 3;

/// Shown after `candor client --help`.
pub(crate) const AFTER_HELP: &str = "\
Every command needs --dir. Commands that show something print JSON on stdout;
notes and warnings go to stderr.

Exit status: 0 success (recording always succeeds; a warning on stderr names
the SDK error code when nothing was recorded); 1 the input was checked and
refused (invalid schema, key config or dimension, unknown purpose); 2 usage
errors and anything that stopped the command (missing or unreadable files,
re-init without --force); 3 `upload` made requests and none delivered a
report (collector unreachable, asked to retry later, or refused the reports).";

/// Arguments of `candor client`.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The client's data directory (required): holds client.json and the
    /// SDK's state, outbox and sent reports.
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// A fixed current time instead of the system clock: RFC 3339
    /// (2026-11-29T12:00:00Z), or YYYY-MM-DD meaning noon UTC that day.
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_now)]
    now: Option<i64>,
    #[command(subcommand)]
    command: ClientCommand,
}

/// The `client` subcommands.
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Create a client directory from a schema and a region's public key
    /// config. Validates both (exit 1 listing the problems).
    Init {
        /// The data dictionary (TOML); its text is copied into client.json.
        #[arg(long, value_name = "FILE")]
        schema: PathBuf,
        /// The region's public key config (`key-NNN.config.json` from
        /// `candor keygen`); its region must be in the schema.
        #[arg(long, value_name = "CONFIG.json")]
        key: PathBuf,
        /// A raw context value, e.g. `app_version=121.0.6167.101`; coarsened
        /// by the schema's rule. Repeatable.
        #[arg(long = "dimension", value_name = "ID=VALUE", value_parser = parse_dimension)]
        dimensions: Vec<(String, String)>,
        /// Replace an existing client.json (the SDK's data in DIR is kept).
        #[arg(long)]
        force: bool,
    },
    /// Grant consent to a purpose (stores a receipt).
    Grant {
        /// The purpose id, e.g. `usage`.
        purpose: String,
    },
    /// Revoke consent to a purpose: its queued data is deleted at once.
    Revoke {
        /// The purpose id.
        purpose: String,
    },
    /// Switch the global opt-out (e.g. Global Privacy Control); `on` deletes
    /// everything queued.
    OptOut {
        /// `on` or `off`.
        state: Switch,
    },
    /// Switch the child profile (no collection at all); `on` deletes
    /// everything queued.
    Child {
        /// `on` or `off`.
        state: Switch,
    },
    /// Switch app-wide private mode: nothing is recorded for purposes not
    /// allowed in private mode. The SDK does not persist private mode; the
    /// client stores it in client.json and applies it every time it opens
    /// the SDK.
    Private {
        /// `on` or `off`.
        state: Switch,
    },
    /// Show the consent status of every purpose, and the private mode (JSON).
    Status,
    /// Record one value through a typed metric handle.
    Record(RecordArgs),
    /// End the current day now: build, seal and queue today's reports.
    /// Anything recorded later today is dropped.
    EndDay,
    /// Persist the aggregates and queue the reports of days that have ended
    /// (every command does this before it exits).
    Flush,
    /// Send the queued reports to a collector and print the upload summary
    /// (JSON: requests, accepted, rejected, remaining, retry_at).
    ///
    /// Exit 0 when nothing needed sending, when at least one report was
    /// delivered, or when the SDK is still backing off from an earlier
    /// failure and so made no request (retry_at says until when). Exit 3
    /// when this pass made requests and none delivered a report: the
    /// collector was unreachable, asked to retry later (retry_at is then
    /// set and the reports stay queued) or refused the reports.
    Upload {
        /// The collector's base URL (reports go to
        /// {URL}/v1/regions/{region}/reports).
        #[arg(long, value_name = "BASE")]
        url: String,
    },
    /// Print every report waiting to be sent (JSON array of the reports'
    /// plaintext, pretty-printed).
    Pending,
    /// Print the reports sent in the last N days (JSON array).
    Sent {
        /// How many days back.
        #[arg(long, default_value_t = 30, value_name = "N")]
        days: u32,
    },
    /// Print every consent grant and revocation made here (JSON array).
    Receipts,
    /// Print the SDK's error counters: metric id (`*` for the SDK, `*url`
    /// for dropped URLs by reason) → error code → count (JSON).
    Errors,
    /// Delete all collected data; consent receipts are kept.
    DeleteAll,
}

/// Arguments of `candor client record`.
#[derive(Debug, Args)]
struct RecordArgs {
    /// Record as from a private tab: nothing is recorded unless the metric's
    /// purpose is allowed in private mode.
    #[arg(long, global = true)]
    private: bool,
    #[command(subcommand)]
    metric: RecordCommand,
}

/// One recording call per metric type.
#[derive(Debug, Subcommand)]
enum RecordCommand {
    /// Add N to a `counter`.
    Counter {
        /// The metric id.
        id: String,
        /// The amount.
        #[arg(allow_negative_numbers = true)]
        n: i64,
    },
    /// Add N to one label of a `labeled_counter`.
    Labeled {
        /// The metric id.
        id: String,
        /// The label (from the schema's closed set).
        label: String,
        /// The amount.
        #[arg(allow_negative_numbers = true)]
        n: i64,
    },
    /// Set a `boolean`.
    Boolean {
        /// The metric id.
        id: String,
        /// `true` or `false`.
        value: BoolValue,
    },
    /// Set a `category`.
    Category {
        /// The metric id.
        id: String,
        /// The category (from the schema's closed set).
        value: String,
    },
    /// Count one sample into a `distribution`'s buckets.
    Distribution {
        /// The metric id.
        id: String,
        /// The sample.
        #[arg(allow_negative_numbers = true)]
        sample: i64,
    },
    /// Record the registrable domain of a URL into a `domain_set`.
    Url {
        /// The metric id.
        id: String,
        /// The URL; only its registrable domain is kept.
        url: String,
    },
}

impl RecordCommand {
    fn metric_id(&self) -> &str {
        match self {
            RecordCommand::Counter { id, .. }
            | RecordCommand::Labeled { id, .. }
            | RecordCommand::Boolean { id, .. }
            | RecordCommand::Category { id, .. }
            | RecordCommand::Distribution { id, .. }
            | RecordCommand::Url { id, .. } => id,
        }
    }
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

impl Switch {
    fn on(self) -> bool {
        self == Switch::On
    }
}

/// `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BoolValue {
    True,
    False,
}

/// What `client.json` holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    /// Format version of this file ([`CLIENT_FORMAT`]).
    format: u32,
    /// Where the schema was copied from (for messages only).
    schema_origin: String,
    /// The data dictionary's TOML text, copied at init so that later edits
    /// of the original do not change what this client records.
    schema: String,
    /// The region's public key config; reports are sealed to it. Never a
    /// private key.
    key_config: KeyConfig,
    /// Raw dimension values, coarsened by the SDK when it opens.
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    /// App-wide private mode. The SDK does not persist it, so the client
    /// keeps it here and applies it on every open.
    #[serde(default)]
    private_mode: bool,
}

/// Runs a `client` subcommand. Exit codes: see [`AFTER_HELP`].
pub(crate) fn run(args: ClientArgs) -> Result<ExitCode> {
    // clap cannot make a global option required, so it is checked here.
    let Some(dir) = args.dir else {
        bail!("the --dir DIR option is required for every `candor client` command");
    };
    let clock: Arc<dyn Clock> = match args.now {
        Some(now) => Arc::new(ManualClock::new(now)),
        None => Arc::new(SystemClock),
    };
    match args.command {
        ClientCommand::Init {
            schema,
            key,
            dimensions,
            force,
        } => init(&dir, clock, &schema, &key, dimensions, force),
        command => Session::open(&dir, clock, &command)?.run(command),
    }
}

/// `--now`: RFC 3339, or `YYYY-MM-DD` for noon UTC that day, as Unix seconds.
fn parse_now(text: &str) -> Result<i64, String> {
    if let Some(day) = Day::parse(text) {
        return Ok(day.noon());
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("expected RFC 3339 (2026-11-29T12:00:00Z) or YYYY-MM-DD: {e}"))
}

/// `--dimension ID=VALUE`.
fn parse_dimension(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((id, value)) if !id.is_empty() => Ok((id.to_owned(), value.to_owned())),
        _ => Err("expected ID=VALUE, e.g. platform=android".to_owned()),
    }
}

/// Prints `error: {message}` and returns exit status 1: the input was
/// checked and refused.
fn refuse(message: impl std::fmt::Display) -> Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(1))
}

// ---- init --------------------------------------------------------------------

fn init(
    dir: &Path,
    clock: Arc<dyn Clock>,
    schema_path: &Path,
    key_path: &Path,
    dimensions: Vec<(String, String)>,
    force: bool,
) -> Result<ExitCode> {
    let client_path = dir.join(CLIENT_FILE);
    if client_path.exists() && !force {
        bail!(
            "{} already exists; use --force to replace it",
            client_path.display()
        );
    }
    // Read the text once and validate exactly what is copied, with the
    // (possibly injected) clock's day for the expiry checks.
    let origin = schema_path.display().to_string();
    let src = fs::read_to_string(schema_path).with_context(|| format!("reading {origin}"))?;
    let schema = match candor_schema::parse(&src, &origin, clock.today().date()) {
        Ok(Checked { schema, warnings }) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            schema
        }
        Err(errors) => {
            for d in errors.errors.iter().chain(&errors.warnings) {
                eprintln!("{d}");
            }
            let n = errors.errors.len();
            return refuse(format!(
                "{origin}: invalid schema: {n} error{}",
                if n == 1 { "" } else { "s" }
            ));
        }
    };
    let key_bytes =
        fs::read(key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let key_config = match KeyConfig::from_json(&key_bytes) {
        Ok(k) => k,
        Err(e) => return refuse(format!("{}: {e}", key_path.display())),
    };
    if schema.region(key_config.region()).is_none() {
        return refuse(format!(
            "the key config is for region {:?}, which schema {} does not declare (regions: {})",
            key_config.region(),
            schema.id,
            join(schema.regions.keys())
        ));
    }
    let mut dims = BTreeMap::new();
    for (id, raw) in dimensions {
        let Some(dimension) = schema.dimension(&id) else {
            return refuse(format!(
                "unknown dimension {id:?} (schema dimensions: {})",
                join(schema.dimensions.keys())
            ));
        };
        if dimension.coarsen(&raw).is_none() {
            return refuse(format!("dimension {id}: the schema does not allow {raw:?}"));
        }
        dims.insert(id, raw);
    }
    let file = ClientFile {
        format: CLIENT_FORMAT,
        schema_origin: origin,
        schema: src,
        key_config,
        dimensions: dims,
        private_mode: false,
    };
    // Opening the SDK once checks the directory is usable before
    // client.json claims it.
    let sdk = open_sdk(dir, &file, schema.clone(), clock, None)?;
    sdk.flush();
    drop(sdk);
    write_client_file(dir, &file, force)?;
    eprintln!(
        "Initialised {}: schema {} version {}, region {}, key {}.",
        dir.display(),
        schema.id,
        schema.version,
        file.key_config.region(),
        file.key_config.key_id()
    );
    Ok(ExitCode::SUCCESS)
}

fn join<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// Writes `client.json` atomically: a synced temporary file, then a rename
/// (`replace`) or a hard link that fails if the name is taken, then a synced
/// directory. A crash leaves the old file or the new one, never a mixture.
fn write_client_file(dir: &Path, file: &ClientFile, replace: bool) -> Result<()> {
    let path = dir.join(CLIENT_FILE);
    let tmp = dir.join(format!(".{CLIENT_FILE}.tmp"));
    let mut bytes = serde_json::to_vec_pretty(file).context("encoding client.json")?;
    bytes.push(b'\n');
    let written = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()
    })();
    written.with_context(|| format!("writing {}", tmp.display()))?;
    let placed = if replace {
        fs::rename(&tmp, &path)
    } else {
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        linked
    };
    placed.with_context(|| format!("writing {}", path.display()))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

fn open_sdk(
    dir: &Path,
    file: &ClientFile,
    schema: Schema,
    clock: Arc<dyn Clock>,
    uploader: Option<Arc<dyn candor_sdk::Uploader>>,
) -> Result<Candor> {
    let mut config = Config::new(dir, schema, file.key_config.clone());
    config.dimensions = file.dimensions.clone();
    config.clock = clock;
    config.uploader = uploader;
    // One command per process: no background thread; `flush()` persists.
    config.persist_interval = None;
    let sdk = Candor::open(config).with_context(|| format!("opening {}", dir.display()))?;
    sdk.set_private_mode(file.private_mode);
    Ok(sdk)
}

// ---- one SDK session per command ---------------------------------------------

type ErrorCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// An open client directory.
struct Session {
    dir: PathBuf,
    file: ClientFile,
    schema_id: String,
    schema_version: u32,
    clock: Arc<dyn Clock>,
    sdk: Candor,
    /// The SDK's error counters when the session began.
    errors_before: ErrorCounts,
}

impl Session {
    fn open(dir: &Path, clock: Arc<dyn Clock>, command: &ClientCommand) -> Result<Self> {
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
            ClientCommand::Upload { url } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("--url must be an http:// or https:// URL, not {url:?}");
                }
                Some(Arc::new(HttpUploader::new(url.as_str())))
            }
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

    fn run(mut self, command: ClientCommand) -> Result<ExitCode> {
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
                    key_id: u8,
                    private_mode: bool,
                    purposes: BTreeMap<String, PurposeConsent>,
                }
                print_json(&Status {
                    schema: &self.schema_id,
                    schema_version: self.schema_version,
                    region: self.file.key_config.region(),
                    key_id: self.file.key_config.key_id(),
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

    /// Records one value; never fails. Warns when the SDK counted an error
    /// for the metric.
    fn record(&self, args: RecordArgs) {
        let sdk = &self.sdk;
        let before = sdk.error_counts();
        let private = args.private;
        match &args.metric {
            RecordCommand::Counter { id, n } => sdk.counter(id).private(private).add(*n),
            RecordCommand::Labeled { id, label, n } => {
                sdk.labeled_counter(id).private(private).add(label, *n);
            }
            RecordCommand::Boolean { id, value } => sdk
                .boolean(id)
                .private(private)
                .set(*value == BoolValue::True),
            RecordCommand::Category { id, value } => sdk.category(id).private(private).set(value),
            RecordCommand::Distribution { id, sample } => {
                sdk.distribution(id).private(private).accumulate(*sample);
            }
            RecordCommand::Url { id, url } => sdk.domain_set(id).private(private).record_url(url),
        }
        let after = sdk.error_counts();
        let id = args.metric.metric_id();
        let reasons: Vec<String> = grown(&before, &after, "*url")
            .into_iter()
            .map(|(code, _)| code)
            .collect();
        for (code, _) in grown(&before, &after, id) {
            if code == "url_dropped" && !reasons.is_empty() {
                eprintln!("warning: nothing recorded: {code} ({})", reasons.join(", "));
            } else {
                eprintln!("warning: nothing recorded: {code}");
            }
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
fn grown(before: &ErrorCounts, after: &ErrorCounts, key: &str) -> Vec<(String, u64)> {
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

fn summary_json(s: &UploadSummary) -> serde_json::Value {
    serde_json::json!({
        "requests": s.requests,
        "accepted": s.accepted,
        "rejected": s.rejected,
        "remaining": s.remaining,
        "retry_at": s.retry_at,
    })
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("encoding JSON")?;
    println!("{text}");
    Ok(())
}

/// One report as shown to the user.
#[derive(Serialize)]
#[serde(untagged)]
enum Shown {
    /// Decoded and re-encoded: the same fields and values, in the same
    /// order, as the plaintext that is (or was) sealed.
    Report(Box<Report>),
    /// Not a report this version can decode; shown as stored.
    Other(serde_json::Value),
    /// Not even JSON; shown as a string.
    Text(String),
}

impl Shown {
    fn new(plaintext: String) -> Self {
        if let Ok(report) = Report::from_json(plaintext.as_bytes()) {
            return Shown::Report(Box::new(report));
        }
        match serde_json::from_str(&plaintext) {
            Ok(value) => Shown::Other(value),
            Err(_) => Shown::Text(plaintext),
        }
    }
}

/// Prints report plaintexts as a pretty JSON array of objects.
fn print_reports(plaintexts: Vec<String>) -> Result<()> {
    let shown: Vec<Shown> = plaintexts.into_iter().map(Shown::new).collect();
    print_json(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_accepts_rfc3339_and_plain_days_at_noon() {
        assert_eq!(parse_now("1970-01-02"), Ok(86_400 + 43_200));
        assert_eq!(parse_now("1970-01-01T00:01:00Z"), Ok(60));
        assert_eq!(parse_now("1970-01-01T01:00:00+01:00"), Ok(0));
        assert!(parse_now("2026-11-31").is_err());
        assert!(parse_now("yesterday").is_err());
    }

    #[test]
    fn dimensions_need_an_id_and_an_equals_sign() {
        assert_eq!(
            parse_dimension("app_version=121.0=x"),
            Ok(("app_version".into(), "121.0=x".into()))
        );
        assert!(parse_dimension("platform").is_err());
        assert!(parse_dimension("=android").is_err());
    }

    #[test]
    fn shown_reports_keep_the_plaintext_exactly() {
        let mut report = Report::new(
            candor_protocol::ReportId([7; 16]),
            "org.example.browser",
            3,
            "usage",
            1,
            "eu",
            Day::from_ymd(2026, 11, 29).expect("day"),
        );
        report
            .dimensions
            .insert("platform".into(), "android".into());
        report.metrics.insert(
            "browser.tabs_opened".into(),
            candor_protocol::MetricValue::Counter(3),
        );
        let plaintext = String::from_utf8(report.to_json().expect("encodes")).expect("utf-8");
        let shown = serde_json::to_string(&Shown::new(plaintext.clone())).expect("encodes");
        assert_eq!(shown, plaintext);
        let odd = serde_json::to_string(&Shown::new("{\"v\":99}".into())).expect("encodes");
        assert_eq!(odd, "{\"v\":99}");
        let text = serde_json::to_string(&Shown::new("not json".into())).expect("encodes");
        assert_eq!(text, "\"not json\"");
    }

    #[test]
    fn grown_lists_only_increases() {
        let before: ErrorCounts = [("m".into(), [("unknown_label".into(), 1)].into())].into();
        let after: ErrorCounts = [(
            "m".into(),
            [("unknown_label".into(), 1), ("negative_value".into(), 2)].into(),
        )]
        .into();
        assert_eq!(
            grown(&before, &after, "m"),
            vec![("negative_value".to_owned(), 2)]
        );
        assert!(grown(&before, &after, "other").is_empty());
    }
}
