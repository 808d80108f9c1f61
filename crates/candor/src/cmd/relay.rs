//! `candor relay`: an Oblivious HTTP relay in front of one collector's
//! gateway, for a third party to run (the library is `candor-relay`). With
//! `--tls-cert` and `--tls-key` it terminates TLS itself (`candor-tls`, as
//! `candor serve` does), so devices reach it over HTTPS only.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use candor_relay::{Relay, RelayConfig};
use clap::Args;

/// Arguments of `candor relay`.
#[derive(Debug, Args)]
pub(crate) struct RelayArgs {
    /// Where to listen for devices: HOST:PORT (127.0.0.1:8081,
    /// localhost:8081, 0.0.0.0:8081) or a bare port (8081, on 127.0.0.1).
    #[arg(long, default_value = "127.0.0.1:8081", value_parser = super::parse_listen)]
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
    /// Serve HTTPS only, with this PEM certificate chain (and `--tls-key`).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
    // Read before binding, so that a bad pair starts nothing.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(candor_tls::ServerTls::from_pem_files(cert, key)?),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr().context("the bound address")?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        eprintln!(
            "Candor relay listening on {scheme}://{addr}, forwarding to {}.",
            args.gateway
        );
        candor_tls::serve(
            listener,
            relay.router(),
            tls.as_ref(),
            super::serve::shutdown_signal(),
        )
        .await
        .context("serving")?;
        eprintln!("Stopped.");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
