//! `candor serve`: run the regional collector.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use candor_collector::queue::{Role, redact_url};
use candor_collector::{Collector, Config, SystemClock};
use clap::Args;

/// The example data dictionary, served when the configuration names none.
pub(crate) const BUILTIN_SCHEMA: &str = include_str!("../../../../examples/browser.toml");

/// Arguments of `candor serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    /// Override the listen address from the configuration: HOST:PORT
    /// (127.0.0.1:8750, localhost:8750, 0.0.0.0:8750) or a bare port
    /// (8750, on 127.0.0.1).
    #[arg(long, env = "CANDOR_LISTEN", value_parser = super::parse_listen)]
    listen: Option<std::net::SocketAddr>,
    /// What this process does: `all` (the embedded collector, the
    /// default), `front` (stateless HTTP front publishing sealed envelopes
    /// to NATS JetStream) or `worker` (pulls, opens, validates, commits).
    /// Also `CANDOR_ROLE`, or `role` in the configuration (this flag wins,
    /// then the variable).
    #[arg(long, value_parser = parse_role)]
    role: Option<Role>,
    /// The NATS JetStream server of the `front` and `worker` roles. Also
    /// `CANDOR_QUEUE_URL`, or `[queue] url` (this flag wins, then the
    /// variable).
    #[arg(long)]
    queue_url: Option<String>,
    /// Serve HTTPS only, with this PEM certificate chain (the server's
    /// certificate first); needs --tls-key. Overrides `[tls] cert`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert. Overrides `[tls] key`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Run in the background: start the collector, wait until it listens,
    /// print its address and how to stop it, and return. Its log goes to
    /// `serve.log` and its process id to `serve.pid` in the data directory.
    #[arg(long)]
    detach: bool,
}

/// The collector's log in the data directory, with `--detach`.
const DETACHED_LOG: &str = "serve.log";
/// The collector's process id in the data directory, with `--detach`.
const DETACHED_PID: &str = "serve.pid";
/// The line `candor serve` writes once it listens (the start of it).
const LISTENING: &str = "listening on ";
/// How long `--detach` waits for the collector to listen.
const DETACH_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The environment variable that sets the role when `--role` is absent.
pub(crate) const ROLE_ENV: &str = "CANDOR_ROLE";
/// The environment variable that sets the queue URL when `--queue-url` is absent.
pub(crate) const QUEUE_URL_ENV: &str = "CANDOR_QUEUE_URL";

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// The flags, then the environment, over the configuration file.
fn apply_overrides(config: &mut Config, args: &ServeArgs) -> Result<()> {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(role) = args.role {
        config.role = role;
    } else if let Some(role) = env(ROLE_ENV) {
        config.role = role
            .parse()
            .map_err(|e| anyhow::anyhow!("{ROLE_ENV}: {e}"))?;
    }
    if let Some(url) = args.queue_url.clone().or_else(|| env(QUEUE_URL_ENV)) {
        config.queue.url = url;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls.cert = Some(cert.clone());
        config.tls.key = Some(key.clone());
    }
    Ok(())
}

/// The built-in example schema, checked against today's date.
pub(crate) fn builtin_schema() -> Result<candor_schema::Schema> {
    candor_schema::parse(
        BUILTIN_SCHEMA,
        "examples/browser.toml (built in)",
        super::today(),
    )
    .map(|checked| checked.schema)
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The schema at `path`, or without one the built-in example: what
/// `--schema` means for the commands that talk to a default collector.
pub(crate) fn schema_or_builtin(path: Option<&std::path::Path>) -> Result<candor_schema::Schema> {
    match path {
        Some(path) => Ok(candor_schema::load(path)
            .with_context(|| format!("loading the schema {}", path.display()))?
            .schema),
        None => builtin_schema(),
    }
}

/// Loads the configuration's schemas, or the built-in one.
pub(crate) fn load_schemas(config: &Config) -> Result<Vec<candor_schema::Schema>> {
    if config.schemas.is_empty() {
        return Ok(vec![builtin_schema()?]);
    }
    config
        .schemas
        .iter()
        .map(|path| {
            candor_schema::load(path)
                .map(|c| c.schema)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
        .collect()
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode> {
    let mut config = args.config.load()?;
    apply_overrides(&mut config, &args)?;
    if args.detach {
        return detach(&config);
    }
    super::init_logging();
    let (role, queue_url) = (config.role, redact_url(&config.queue.url));
    let scheme = if config.tls.is_on() { "https" } else { "http" };
    let schemas = load_schemas(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let running = Collector::start(config, schemas, Arc::new(SystemClock), shutdown_signal())
            .await
            .context("starting the collector")?;
        for key in &running.generated_keys {
            eprintln!(
                "Generated key {} for region {}. Public key config:",
                key.key_id(),
                key.region()
            );
            println!("{}", key.to_json());
        }
        let regions = running
            .collector
            .region_ids()
            .collect::<Vec<_>>()
            .join(", ");
        match role {
            Role::All => eprintln!(
                "Candor collector listening on {scheme}://{} (regions: {regions}).",
                running.addr
            ),
            _ => eprintln!(
                "Candor {role} listening on {scheme}://{} (regions: {regions}; queue {queue_url}).",
                running.addr
            ),
        }
        running.wait().await;
        eprintln!(
            "Stopped: {}.",
            match role {
                Role::All => "every accepted report is committed",
                Role::Front => "every queued report is in the stream",
                Role::Worker => "every batch pulled is committed and acknowledged",
            }
        );
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `--detach`: runs this command again without `--detach` as a process of
/// its own (its own process group, so a Ctrl-C meant for the shell does not
/// reach it), its output appended to the data directory's `serve.log`, and
/// returns once that log says it listens, or fails with the log's last
/// lines if it stopped first.
fn detach(config: &Config) -> Result<ExitCode> {
    use std::io::{Read, Seek};
    use std::os::unix::process::CommandExt;

    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let log_path = dir.join(DETACHED_LOG);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let start = log.seek(std::io::SeekFrom::End(0))?;
    let args = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect::<Vec<_>>();
    let exe = std::env::current_exe().context("finding the candor executable")?;
    let mut child = std::process::Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .process_group(0)
        .spawn()
        .context("starting the collector in the background")?;
    let pid = child.id();
    let waited = std::time::Instant::now();
    let mut written = String::new();
    loop {
        log.seek(std::io::SeekFrom::Start(start))?;
        written.clear();
        log.read_to_string(&mut written)?;
        if let Some(line) = written.lines().find(|l| l.contains(LISTENING)) {
            let pid_path = dir.join(DETACHED_PID);
            std::fs::write(&pid_path, format!("{pid}\n"))
                .with_context(|| format!("writing {}", pid_path.display()))?;
            println!("{line}");
            println!(
                "Running in the background as process {pid}; log: {}.",
                log_path.display()
            );
            println!(
                "Stop it with: kill {pid}   (or: kill $(cat {}))",
                pid_path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(status) = child.try_wait()? {
            let tail: Vec<&str> = written.lines().rev().take(20).collect();
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
            anyhow::bail!("the collector stopped before it listened ({status})");
        }
        if waited.elapsed() > DETACH_WAIT {
            anyhow::bail!(
                "the collector (process {pid}) did not listen within {} s; see {}",
                DETACH_WAIT.as_secs(),
                log_path.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives as
/// soon as the collector answers `/readyz` still stops it gracefully
/// instead of killing it. Call it inside the runtime.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(interrupt) => {}
            _ = wait(terminate) => {}
        }
    }
}
