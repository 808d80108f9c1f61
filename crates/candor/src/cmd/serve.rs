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
    /// Override the listen address from the configuration.
    #[arg(long)]
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
}

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

/// Loads the configuration's schemas, or the built-in one.
pub(crate) fn load_schemas(config: &Config) -> Result<Vec<candor_schema::Schema>> {
    if config.schemas.is_empty() {
        let checked = candor_schema::parse(
            BUILTIN_SCHEMA,
            "examples/browser.toml (built in)",
            super::today(),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(vec![checked.schema]);
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
    super::init_logging();
    let mut config = args.config.load()?;
    apply_overrides(&mut config, &args)?;
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
