//! `candor serve`: run the regional collector.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
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
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
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
        eprintln!(
            "Candor collector listening on http://{} (regions: {}).",
            running.addr,
            running
                .collector
                .region_ids()
                .collect::<Vec<_>>()
                .join(", ")
        );
        running.wait().await;
        eprintln!("Stopped: every accepted report is committed.");
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
