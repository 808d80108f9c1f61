//! `candor simulate`: a fleet of simulated devices against a collector.
//!
//! Thin glue over `candor_sim::simulate`: every device is a real SDK
//! instance on simulated time, uploading over HTTP; the summary says what
//! the collector accepted and refused, and `--truth` writes what the
//! devices really did, to measure released statistics against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use candor_protocol::Day;
use candor_sim::simulate::{self, ProgressBarHooks, SimConfig};
use clap::Args;

/// Exit status when some reports were refused or could not be delivered.
const UNDELIVERED: u8 = 3;

/// Shown after `candor simulate --help`.
pub(crate) const AFTER_HELP: &str = "\
Day window: a collector accepts reports of a day until the region's
report_window_days (3 in the example schema) after it, by its own clock,
and one day ahead; older days are refused with day_out_of_window. The
defaults (--days = the widest window + 1, ending today) fit a default
`candor serve`. A day is released only once its window has passed, so a
collector on real time releases these days a few days later; to simulate
and release at once, run the collector on simulated time as `candor demo`
does (or widen its [ingest] day_window_past to simulate further back).

Every device is a real SDK instance: consent per purpose, private mode,
child profiles, local DP, clamping and HPKE sealing are the SDK's own. The
device data directories go to /dev/shm when it is writable (the SDK fsyncs
every state file), else to --work-dir, and are removed at the end.

--truth FILE writes the ground truth as JSON: per region, day, metric,
dimensions and cell, the [sum, devices] of everything the devices did
(\"all\") and of what they could report (\"eligible\": consent given, not a
child profile, not in private mode unless the purpose allows it). Values are
raw, before the SDK's per-report clamping and local DP. For an activity
metric it also holds, per region and in both versions, the true daily,
new, weekly and monthly active devices and the retention table (install
week × weeks since install), counted from each device's own days of use.

Exit status: 0 every report built was accepted; 3 some were refused or are
still queued (see the summary); 2 the run could not start (bad arguments,
no key from the collector).";

/// Arguments of `candor simulate`.
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Base URL of the collector.
    #[arg(long, env = "CANDOR_URL", default_value = "http://127.0.0.1:8750")]
    url: String,
    /// The collector's data directory: each simulated region's signing key
    /// is read from `<data-dir>/<region>/keys/`. The devices pin its public
    /// half, and the simulator signs them a key list dated in the simulated
    /// days (the collector's own list is dated by its clock).
    #[arg(long, default_value = "candor-data")]
    data_dir: PathBuf,
    /// How many devices (2 000 × 7 days take about 7 s on 2 cores, the
    /// collector's work included).
    #[arg(long, default_value_t = 2_000)]
    devices: usize,
    /// How many days to simulate (default: the schema's widest
    /// report_window_days + 1, all of which a collector on real time still
    /// accepts).
    #[arg(long)]
    days: Option<u32>,
    /// The first simulated day, YYYY-MM-DD (default: today - days + 1, so
    /// the last simulated day is today).
    #[arg(long, value_parser = super::parse_day)]
    start: Option<Day>,
    /// Regions and their share of devices, e.g. `eu=0.6,us=0.4` (default:
    /// that, or every region of the schema equally).
    #[arg(long, value_name = "R=SHARE,...", value_parser = parse_shares)]
    regions: Option<Shares>,
    /// Share of users granting each purpose, e.g.
    /// `usage=0.7,diagnostics=0.6,browsing=0.3` (default: that, and 0.5 for
    /// other purposes). Purposes not listed are never granted.
    #[arg(long, value_name = "P=RATE,...", value_parser = parse_shares)]
    consent: Option<Shares>,
    /// Average share of browsing sessions in private mode.
    #[arg(long, default_value_t = 0.15)]
    private_share: f64,
    /// Share of devices with a child profile (nothing collected).
    #[arg(long, default_value_t = 0.05)]
    child_share: f64,
    /// Seed of the usage model and so of the ground truth (report ids, HPKE
    /// keys and the local-DP coins of the SDK are always fresh).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the ground truth (JSON) here.
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// The data dictionary (default: the built-in example,
    /// examples/browser.toml, the one `candor serve` serves by default).
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// Worker threads driving the devices (default: 8 per core, at most 64;
    /// they mostly wait for the collector's answers).
    #[arg(long)]
    threads: Option<usize>,
    /// Where device data goes when /dev/shm is not available.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Keep device data off tmpfs even when /dev/shm is available.
    #[arg(long)]
    no_tmpfs: bool,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Draw no progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// A list of `ID=NUMBER` pairs (a newtype: clap reads a bare `Vec` as a
/// repeated option).
#[derive(Debug, Clone, PartialEq)]
struct Shares(Vec<(String, f64)>);

/// `a=0.6,b=0.4` → [("a", 0.6), ("b", 0.4)].
fn parse_shares(s: &str) -> Result<Shares, String> {
    s.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (id, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not of the form ID=NUMBER"))?;
            let value: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not a number"))?;
            Ok((id.trim().to_owned(), value))
        })
        .collect::<Result<_, _>>()
        .map(Shares)
}

pub(crate) fn run(args: SimulateArgs) -> Result<ExitCode> {
    let schema = super::serve::schema_or_builtin(args.schema.as_deref())?;
    let days = args.days.unwrap_or_else(|| {
        schema
            .regions
            .values()
            .map(|r| r.report_window_days)
            .max()
            .unwrap_or(0)
            + 1
    });
    if days == 0 {
        bail!("--days must be at least 1");
    }
    let start = match args.start {
        Some(day) => day,
        None => {
            let today = Day::from(super::today());
            today
                .add_days(1 - i64::from(days))
                .context("--days reaches before 1970")?
        }
    };
    let mut config = SimConfig::new(args.url, schema, start);
    config.signing_keys = signing_keys(&args.data_dir, &schema_regions(&config))?;
    config.devices = args.devices;
    config.days = days;
    if let Some(Shares(regions)) = args.regions {
        config.regions = regions;
    }
    if let Some(Shares(consent)) = args.consent {
        config.consent = consent.into_iter().collect::<BTreeMap<_, _>>();
    }
    config.private_share = args.private_share;
    config.child_share = args.child_share;
    config.seed = args.seed;
    if let Some(threads) = args.threads {
        config.threads = threads;
    }
    if let Some(dir) = args.work_dir {
        config.work_dir = dir;
    }
    config.prefer_tmpfs = !args.no_tmpfs;
    let hooks = ProgressBarHooks::new(!args.no_progress);
    let outcome = simulate::run(&config, &hooks);
    hooks.finish();
    let summary = outcome.context("setting up the simulation")?;
    if let Some(path) = &args.truth {
        summary
            .truth
            .write_json(path)
            .with_context(|| format!("writing the ground truth to {}", path.display()))?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).context("encoding the summary")?
        );
    } else {
        print!("{summary}");
        if let Some(path) = &args.truth {
            println!("  ground truth written to {}", path.display());
        }
    }
    if summary.undelivered() > 0 {
        eprintln!(
            "warning: {} reports were refused or are still queued (see the summary)",
            summary.undelivered()
        );
        return Ok(ExitCode::from(UNDELIVERED));
    }
    Ok(ExitCode::SUCCESS)
}

/// The regions a simulation may use: those of its schema.
fn schema_regions(config: &SimConfig) -> Vec<String> {
    config.schema.regions.keys().cloned().collect()
}

/// The signing keys of `regions` in the collector data directory
/// `data_dir` (`<data-dir>/<region>/keys/signing.private.json`); regions
/// without one are left out (a simulation of them says so).
pub(crate) fn signing_keys(
    data_dir: &Path,
    regions: &[String],
) -> Result<Vec<candor_protocol::SigningKey>> {
    let mut out = Vec::new();
    for region in regions {
        let dir = data_dir.join(region).join("keys");
        if let Some(key) = candor_collector::keys::load_signing_key(&dir)
            .with_context(|| format!("reading the signing key in {}", dir.display()))?
        {
            out.push(key);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse() {
        assert_eq!(
            parse_shares("eu=0.6, us=0.4").expect("parses"),
            Shares(vec![("eu".to_owned(), 0.6), ("us".to_owned(), 0.4)])
        );
        assert!(parse_shares("eu").is_err());
        assert!(parse_shares("eu=x").is_err());
        assert_eq!(parse_shares("").expect("empty"), Shares(vec![]));
    }

    #[test]
    fn arguments_are_consistent() {
        use clap::{Args, Command};
        let cmd = SimulateArgs::augment_args(Command::new("simulate"));
        cmd.clone().debug_assert();
        let m = cmd
            .try_get_matches_from(["simulate", "--regions", "eu=1", "--consent", "usage=0.5"])
            .expect("parses");
        let args = <SimulateArgs as clap::FromArgMatches>::from_arg_matches(&m).expect("args");
        assert_eq!(args.regions, Some(Shares(vec![("eu".to_owned(), 1.0)])));
    }
}
