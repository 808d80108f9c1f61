//! `candor relay`: an Oblivious HTTP relay in front of one collector's
//! gateway, for a third party to run (the library is `candor-relay`).

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::{Context, Result};
use candor_relay::{Relay, RelayConfig};
use clap::Args;

/// Arguments of `candor relay`.
#[derive(Debug, Args)]
pub(crate) struct RelayArgs {
    /// Where to listen for devices.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The collector's OHTTP gateway (e.g.
    /// `http://eu.collector.example:8080/v1/ohttp`); its key configuration
    /// is fetched from this URL followed by `/keys`.
    #[arg(long)]
    gateway: String,
    /// The largest encapsulated request accepted, in bytes (413 beyond).
    #[arg(long, default_value_t = candor_relay::DEFAULT_MAX_BODY)]
    max_body: usize,
    /// The most requests forwarded at once (503 `relay_busy` beyond).
    #[arg(long, default_value_t = candor_relay::DEFAULT_MAX_CONCURRENCY)]
    max_concurrency: usize,
    /// The local address of connections to the gateway, on a host with
    /// several (by default the system chooses).
    #[arg(long)]
    outgoing_address: Option<IpAddr>,
}

pub(crate) fn run(args: RelayArgs) -> Result<ExitCode> {
    super::init_logging();
    let gateway = args
        .gateway
        .parse()
        .with_context(|| format!("--gateway {}", args.gateway))?;
    let mut config = RelayConfig::new(gateway);
    config.max_body = args.max_body;
    config.max_concurrency = args.max_concurrency;
    config.outgoing_address = args.outgoing_address;
    let relay = Relay::new(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr().context("the bound address")?;
        eprintln!(
            "Candor relay listening on http://{addr}, forwarding to {}.",
            args.gateway
        );
        axum::serve(listener, relay.router())
            .with_graceful_shutdown(super::serve::shutdown_signal())
            .await
            .context("serving")?;
        eprintln!("Stopped.");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
