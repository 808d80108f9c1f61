//! `candor load`: a load generator for a collector.
//!
//! Thin glue over `candor_sim::load`: it fetches the region's newest key,
//! seals N distinct reports valid for the schema before the clock starts,
//! sends them over keep-alive connections at an optional target rate, and
//! prints accepted/s, latency percentiles and error counts by code. Exit 0
//! whenever the run happened, refusals and 503s included; 2 when it could
//! not start (no keys, bad schema, bad arguments).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use candor_protocol::Day;
use candor_sim::load::{self, LoadConfig};
use clap::Args;

/// Arguments of `candor load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Base URL of the collector.
    #[arg(long, env = "CANDOR_URL", default_value = "http://127.0.0.1:8750")]
    url: String,
    /// Region whose key seals the reports and whose endpoint receives them.
    #[arg(long, default_value = "eu")]
    region: String,
    /// The region's signing public key, which the served key list must be
    /// signed with (default: `candor-data/<region>/keys/signing.public.json`,
    /// `candor serve`'s layout).
    #[arg(long, value_name = "signing.public.json")]
    signing_key: Option<PathBuf>,
    /// The data dictionary the reports must satisfy (default: the built-in
    /// example, examples/browser.toml, the one `candor serve` serves by
    /// default; so no path is needed from any directory).
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// How many distinct reports to send.
    #[arg(long, default_value_t = 10_000)]
    reports: usize,
    /// Reports per request (1..=1000); 1 sends bare envelopes, more sends batches.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Target rate in reports per second (default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// The UTC day the reports carry, YYYY-MM-DD (default: today).
    #[arg(long, value_parser = super::parse_day)]
    day: Option<Day>,
    /// Seed of the report contents (report ids are always fresh).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop sending after this many seconds, whatever is left.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    duration: Option<Duration>,
    /// Timeout of one request, in seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_secs, default_value = "30")]
    timeout: Duration,
    /// Resend a request answered 429/503 up to N times, after its Retry-After
    /// (0: count it and move on).
    #[arg(long, value_name = "N", default_value_t = 0)]
    retry: u32,
    /// Print the statistics as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Draw no progress bars.
    #[arg(long)]
    no_progress: bool,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|v| Duration::try_from_secs_f64(v).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a positive number of seconds"))
}

pub(crate) fn run(args: LoadArgs) -> Result<ExitCode> {
    let schema = super::serve::schema_or_builtin(args.schema.as_deref())?;
    let day = args.day.unwrap_or_else(|| Day::from(super::today()));
    let key_path = args.signing_key.clone().unwrap_or_else(|| {
        PathBuf::from("candor-data")
            .join(&args.region)
            .join("keys")
            .join(candor_collector::keys::SIGNING_PUBLIC_FILE)
    });
    let signing_key = candor_protocol::VerifyingKey::from_json(
        &std::fs::read(&key_path).with_context(|| format!("reading {}", key_path.display()))?,
    )
    .with_context(|| format!("{} is not a signing public key", key_path.display()))?;
    if signing_key.region() != args.region {
        anyhow::bail!(
            "{} is the signing key of region {:?}, not {:?}",
            key_path.display(),
            signing_key.region(),
            args.region
        );
    }
    let mut config = LoadConfig::new(args.url, signing_key, schema, day);
    config.reports = args.reports;
    config.batch_size = args.batch;
    config.connections = args.connections;
    config.rate = args.rate;
    config.seed = args.seed;
    config.progress = !args.no_progress;
    config.duration_limit = args.duration;
    config.timeout = args.timeout;
    config.retries = args.retry;
    let stats = load::run(&config).context("setting up the load run")?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&stats).context("encoding the statistics")?
        );
    } else {
        print!("{stats}");
    }
    Ok(ExitCode::SUCCESS)
}
