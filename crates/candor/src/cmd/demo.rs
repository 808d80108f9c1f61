//! `candor demo`: the whole system in one command.
//!
//! In a fresh directory: start an embedded collector for every region of
//! the built-in example schema (keys are generated on first start), create
//! an analyst and an admin token, simulate a fleet of devices with the real
//! SDK uploading over HTTP (the collector's clock follows the simulated
//! days, which end at the last day that is closed today), print what
//! arrived and a few released statistics, then serve the dashboard until
//! Ctrl-C.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candor_api::{Answer, Group, Query, number};
use candor_collector::access::{self, Role, TokenSpec};
use candor_collector::analyst::Principal;
use candor_collector::clock::ManualClock;
use candor_collector::release::Scope;
use candor_collector::{Collector, Config};
use candor_sim::simulate::{self, ProgressBarHooks, SimConfig, SimHooks};
use candor_time::{Day, IsoWeek};
use clap::Args;

/// The file that marks a directory as the demo's own, so that running the
/// demo again may wipe it (and nothing else).
const MARKER: &str = ".candor-demo";

/// Arguments of `candor demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The demo's directory: created fresh; a previous demo's is replaced,
    /// any other non-empty directory is refused.
    #[arg(long, default_value = "candor-demo")]
    dir: PathBuf,
    /// Where the collector and its dashboard listen.
    #[arg(long, default_value = "127.0.0.1:8750")]
    listen: SocketAddr,
    /// Simulated devices.
    #[arg(long, default_value_t = 2_000)]
    devices: usize,
    /// Simulated days, ending at the last closed day (today minus the
    /// schema's widest report window, minus one), so all can be released.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Seed of the usage model.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Print the summary and stop instead of serving the dashboard.
    #[arg(long)]
    no_serve: bool,
}

/// Makes `dir` a fresh, empty demo directory.
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if !empty {
            if !dir.join(MARKER).exists() {
                bail!(
                    "{} exists and is not a Candor demo directory; choose another with --dir",
                    dir.display()
                );
            }
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("removing the previous demo in {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "Created by `candor demo`; running it again replaces this directory.\n",
    )?;
    Ok(())
}

/// The simulator's hooks: the collector's clock follows the simulated
/// days; progress goes to a bar on stderr.
struct Hooks {
    clock: ManualClock,
    bar: ProgressBarHooks,
}

impl SimHooks for Hooks {
    fn day_started(&self, unix_seconds: i64) {
        self.clock.set(unix_seconds);
        self.bar.day_started(unix_seconds);
    }
    fn progress(&self, done: u64, total: u64) {
        self.bar.progress(done, total);
    }
}

pub(crate) fn run(args: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    fresh_dir(&args.dir)?;
    let mut config = Config {
        listen: args.listen,
        data_dir: args.dir.join("data"),
        ..Config::default()
    };
    let schemas = super::serve::load_schemas(&config)?;
    let schema = schemas[0].clone();
    let shares = demo_shares(&schema);
    // The dashboard opens on the region the demo sends the most devices to
    // (the operator's choice, which the demo makes as an operator would).
    config.dashboard.default_region = shares
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(r, _)| r.clone());
    let (regions, purposes) = super::served(&config)?;
    let today = super::today();
    // Only closed days are released: the simulated days end at the last day
    // whose report window has passed by today.
    let window = schema
        .regions
        .values()
        .map(|r| r.report_window_days)
        .max()
        .unwrap_or(0);
    let last = today - time::Duration::days(i64::from(window) + 1);
    let first = last - time::Duration::days(i64::from(args.days.max(1)) - 1);
    let noon = |d: time::Date| Day::from(d).noon();
    let clock = ManualClock::new(noon(first));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let running = runtime
        .block_on(async {
            // Inside the runtime: the signal handlers are installed here.
            Collector::start(
                config.clone(),
                schemas,
                Arc::new(clock.clone()),
                super::serve::shutdown_signal(),
            )
            .await
        })
        .with_context(|| format!("starting the collector on {}", args.listen))?;
    let url = format!("http://{}", running.addr);
    eprintln!(
        "Collector on {url} for regions {}; data in {}.",
        regions.join(", "),
        config.data_dir.display()
    );

    let now = super::now();
    let mut tokens = Vec::new();
    for (name, role) in [
        ("demo-analyst", Role::Analyst),
        ("demo-admin", Role::Admin),
        ("demo-auditor", Role::Auditor),
    ] {
        let spec = TokenSpec {
            name: name.into(),
            role,
            regions: vec![],
            purposes: vec![],
        };
        tokens.push(access::create_token(
            &config, &spec, &regions, &purposes, now,
        )?);
    }

    let demo_regions: Vec<String> = shares.iter().map(|(r, _)| r.clone()).collect();
    let signing_keys = super::simulate::signing_keys(&args.dir.join("data"), &demo_regions)?;
    let sim = SimConfig {
        signing_keys,
        devices: args.devices,
        days: args.days,
        seed: args.seed,
        work_dir: args.dir.join("devices"),
        regions: shares,
        ..SimConfig::new(url.clone(), schema.clone(), first)
    };
    let hooks = Hooks {
        clock: clock.clone(),
        bar: ProgressBarHooks::new(true),
    };
    eprintln!(
        "Simulating {} devices for {} days ({first} to {last}) with the real SDK…",
        args.devices, args.days
    );
    let sim_started = Instant::now();
    let summary = simulate::run(&sim, &hooks).context("simulating the fleet")?;
    hooks.bar.finish();
    let truth = args.dir.join("truth.json");
    summary
        .truth
        .write_json(&truth)
        .with_context(|| format!("writing {}", truth.display()))?;
    // Back to today: every simulated day is now closed.
    clock.set(noon(today));
    let sim_seconds = sim_started.elapsed().as_secs_f64();

    let collector = running.collector.clone();
    let report = summary_text(&collector, &schema, &summary, first, last)?;
    println!("{report}");
    println!(
        "Simulated {} devices × {} days in {sim_seconds:.1} s (demo ready after {:.1} s).",
        args.devices,
        args.days,
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("Dashboard: {url}/dashboard");
    println!("Analyst token: {}", tokens[0]);
    // Before the admin token, which callers read as the last line.
    println!("Auditor token: {}", tokens[2]);
    println!("Admin token: {}", tokens[1]);
    println!("Public privacy page: {url}/privacy");
    println!(
        "Ground truth (what the devices really did): {}",
        truth.display()
    );

    if args.no_serve {
        runtime.block_on(running.shutdown());
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("Serving until Ctrl-C.");
    runtime.block_on(running.wait());
    Ok(ExitCode::SUCCESS)
}

/// The demo's fleet: every region of the schema, the example's four with
/// shares of a plausible user base, any other with 10 %.
fn demo_shares(schema: &candor_schema::Schema) -> Vec<(String, f64)> {
    schema
        .regions
        .keys()
        .map(|r| {
            let share = match r.as_str() {
                "eu" => 0.45,
                "us" => 0.3,
                "in" => 0.15,
                _ => 0.1,
            };
            (r.clone(), share)
        })
        .collect()
}

/// The demo's summary: devices and reports per region and purpose (every
/// region of the schema, one line each), released active devices per
/// region beside the simulator's truth, a few released statistics with
/// their intervals, suppression and budget.
fn summary_text(
    c: &Collector,
    schema: &candor_schema::Schema,
    summary: &simulate::SimSummary,
    first: time::Date,
    last: time::Date,
) -> Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nReports accepted, by region and purpose (exact operational counts, not differentially \
         private: for operators, never published):"
    );
    let scope = Scope {
        name: "demo".into(),
        admin: true,
        regions: vec![],
        purposes: vec![],
    };
    let operator = Principal {
        scope: scope.clone(),
        role: Role::Admin,
    };
    let exact = c.analyst().overview(&operator).exact.unwrap_or_default();
    let purposes: Vec<&str> = schema.purposes.keys().map(String::as_str).collect();
    let mut header = vec!["region", "devices"];
    header.extend(&purposes);
    header.push("reports");
    let rows: Vec<Vec<String>> = schema
        .regions
        .keys()
        .map(|region| {
            let devices = summary.regions.get(region).map_or(0, |r| r.devices);
            let per_purpose = exact.reports.get(region);
            let counts: Vec<i64> = purposes
                .iter()
                .map(|p| {
                    per_purpose
                        .and_then(|pp| pp.get(*p))
                        .map_or(0, |by_day| by_day.values().sum())
                })
                .collect();
            let mut row = vec![region.clone(), devices.to_string()];
            row.extend(counts.iter().map(i64::to_string));
            row.push(counts.iter().sum::<i64>().to_string());
            row
        })
        .collect();
    out.push_str(&super::table(&header, &rows));
    let _ = writeln!(
        out,
        "({} reports uploaded by the fleet; {} refused.)",
        summary.reports.accepted + summary.reports.rejected,
        summary.reports.rejected
    );
    active_devices(&mut out, c, &scope, schema, summary, last);

    let ask = |metric: &str, group_by: &[&str]| -> Result<Answer> {
        let q = Query {
            region: "eu".into(),
            metric: metric.into(),
            schema: None,
            from: Day::from(first).to_string(),
            to: Day::from(last).to_string(),
            group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
            filters: BTreeMap::new(),
            cells: vec![],
            epsilon: None,
        };
        c.analyst()
            .query(&scope, &q)
            .with_context(|| format!("releasing {metric}"))
    };
    let _ = writeln!(
        out,
        "\nA few released statistics (region eu, {first} to {last}):"
    );
    let mut spent = 0.0;
    let mut suppressed = 0;
    for (metric, group_by) in [
        ("app.opened", &[][..]),
        ("settings.dark_mode", &[][..]),
        ("browser.page_load_ms", &[][..]),
        ("browser.slow_domains", &[][..]),
    ] {
        let a = ask(metric, group_by)?;
        spent += a.epsilon_spent;
        suppressed += a.suppressed.unwrap_or(0);
        let mut top: Vec<&Group> = a.groups.iter().collect();
        top.sort_by(|x, y| y.value.total_cmp(&x.value));
        let rows: Vec<Vec<String>> = top
            .iter()
            .take(4)
            .map(|g| {
                vec![
                    g.bucket
                        .clone()
                        .or_else(|| g.cell.clone())
                        .unwrap_or_default(),
                    format!("{:.0}", g.value.max(0.0)),
                    format!("{:.0} – {:.0}", g.ci95[0].max(0.0), g.ci95[1].max(0.0)),
                ]
            })
            .collect();
        let protection = match (a.selection_noise_scale, a.threshold) {
            (Some(_), Some(t)) => format!(
                "noise scale {}, groups shown when their noisy device count reaches {t:.0}",
                number(a.noise_scale.unwrap_or(0.0))
            ),
            (None, Some(t)) => format!("domains shown when their noisy count reaches τ = {t:.0}"),
            _ => "devices randomized (local DP)".into(),
        };
        let _ = writeln!(
            out,
            "\n{metric} — {}, ε = {}, k = {}, {protection}; {} groups released, {}:",
            a.mechanism,
            a.epsilon,
            a.k_min,
            a.groups.len(),
            a.suppressed
                .map_or("suppressed groups not disclosed (open set)".into(), |n| {
                    format!("{n} suppressed")
                })
        );
        if a.groups.is_empty() {
            if let Some(t) = a.threshold {
                let _ = writeln!(
                    out,
                    "(No domain was named by enough reports to pass τ = {t:.0} at this fleet size: \
                     rare domains never appear.)"
                );
            }
        } else {
            out.push_str(&super::table(&["cell", "value", "95% interval"], &rows));
        }
    }
    let _ = writeln!(
        out,
        "\nThese releases spent ε {spent} in total over eu's metrics (each day of the range charged); \
         {suppressed} groups were suppressed because their noisy device count was below k."
    );
    Ok(out)
}

/// The summary's active devices: per region, the released daily active
/// devices of the last simulated day and weekly active devices of the last
/// whole ISO week of the run, each with its 95 % interval and the
/// simulator's true count. A refused release (budget) is shown as such.
fn active_devices(
    out: &mut String,
    c: &Collector,
    scope: &Scope,
    schema: &candor_schema::Schema,
    summary: &simulate::SimSummary,
    last: time::Date,
) {
    use std::fmt::Write as _;
    let Some(metric) = schema
        .metrics
        .values()
        .find(|m| m.kind.cohort_weeks().is_some())
    else {
        return;
    };
    let last = Day::from(last);
    let mut week = IsoWeek::of(last);
    if *week.days().end() != last.number() {
        week = IsoWeek::from_index(week.index() - 1).unwrap_or(week);
    }
    let (monday, sunday) = (
        candor_time::format_day(*week.days().start()),
        candor_time::format_day(*week.days().end()),
    );
    let release = |region: &str, from: &str, to: &str, cell: &str| -> String {
        let q = Query {
            region: region.into(),
            metric: metric.id.clone(),
            schema: None,
            from: from.into(),
            to: to.into(),
            group_by: vec![],
            filters: BTreeMap::new(),
            cells: vec![cell.into()],
            epsilon: None,
        };
        match c.analyst().query(scope, &q) {
            Ok(a) => match a.groups.first() {
                Some(g) => format!(
                    "{:.0} ({:.0} – {:.0})",
                    g.value.max(0.0),
                    g.ci95[0].max(0.0),
                    g.ci95[1].max(0.0)
                ),
                None => format!("below k = {}", a.k_min),
            },
            Err(e) => format!("refused: {e}"),
        }
    };
    let truth = summary.truth.activity.get(&metric.id);
    let rows: Vec<Vec<String>> = schema
        .regions
        .keys()
        .map(|region| {
            let t = truth.and_then(|t| t.get(region)).map(|t| &t.eligible);
            let true_count = |n: Option<&u64>| n.map_or("0".into(), u64::to_string);
            vec![
                region.clone(),
                release(region, &last.to_string(), &last.to_string(), "today"),
                true_count(t.and_then(|t| t.daily.get(&last.to_string()))),
                release(region, &monday, &sunday, "week"),
                true_count(t.and_then(|t| t.weekly.get(&week.to_string()))),
            ]
        })
        .collect();
    let _ = writeln!(
        out,
        "\nActive devices ({}: released with ε = {} per day and its 95% interval; \"true\" is the \
         simulator's count of devices that could report, for comparison):",
        metric.id,
        metric.release.epsilon()
    );
    let daily = format!("daily active {last}");
    let weekly = format!("weekly active {week}");
    out.push_str(&super::table(
        &["region", &daily, "true", &weekly, "true"],
        &rows,
    ));
}
