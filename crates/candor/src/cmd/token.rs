//! `candor token`: create, list and revoke the analyst API's bearer tokens.
//!
//! Thin glue over `candor_collector::access`, run on the collector's
//! machine against the same data directory as `candor serve` (the running
//! collector reads the token database on every request, so changes apply
//! at once). A token is printed exactly once, by `create`, on stdout and
//! alone; the database keeps only its SHA-256, and `list` never shows even
//! that. Every change is written to the audit log of each region the
//! token covers.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use candor_collector::access::{self, Role, TokenSpec};
use clap::{Args, Subcommand};

use super::ConfigArgs;

/// `candor token …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it once on stdout (the only time it is
    /// shown; only its hash is stored).
    Create(CreateArgs),
    /// List the tokens: name, role, scope, creation and revocation (never a
    /// token or its hash).
    List(ListArgs),
    /// Revoke a token: the collector refuses it from its next request on.
    /// Names are never reused.
    Revoke(RevokeArgs),
}

/// Arguments of `candor token create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Unique name (letters, digits, '.', '_', '-'); the audit log's actor
    /// for this token's queries.
    #[arg(long)]
    name: String,
    /// `analyst` queries within its scope; `admin` may also list tokens and
    /// read the audit log through the API; `auditor` reads the audit log,
    /// the budget ledger and the schema of its regions and never queries
    /// data (for `candor verify`).
    #[arg(long, value_parser = ["analyst", "admin", "auditor"])]
    role: String,
    /// Regions in scope, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    regions: Vec<String>,
    /// Purposes in scope, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    purposes: Vec<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `candor token list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `candor token revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The token's name.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    config: ConfigArgs,
}

pub(crate) fn run(command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Create(a) => create(a),
        TokenCommand::List(a) => list(a),
        TokenCommand::Revoke(a) => revoke(a),
    }
}

/// "all" for an empty scope list, else the list comma-separated.
fn scope_text(list: &[String]) -> String {
    if list.is_empty() {
        "all".into()
    } else {
        list.join(",")
    }
}

fn create(args: CreateArgs) -> Result<ExitCode> {
    let config = args.config.load()?;
    let (regions, purposes) = super::served(&config)?;
    let role = Role::parse(&args.role).context("--role is analyst, admin or auditor")?;
    let spec = TokenSpec {
        name: args.name,
        role,
        regions: args.regions,
        purposes: args.purposes,
    };
    let token = access::create_token(&config, &spec, &regions, &purposes, super::now())
        .with_context(|| format!("cannot create token {:?}", spec.name))?;
    println!("{token}");
    eprintln!(
        "Created {} token {:?} (regions: {}; purposes: {}). Store it now: it is not shown again.",
        role.as_str(),
        spec.name,
        scope_text(&spec.regions),
        scope_text(&spec.purposes)
    );
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> Result<ExitCode> {
    let config = args.config.load()?;
    let tokens = access::list_tokens(&config).context("cannot read the token database")?;
    if args.json {
        // The same fields as the API's `GET /v1/tokens`: never a hash.
        let body = candor_api::tokens_json(&tokens);
        println!("{body:#}");
        return Ok(ExitCode::SUCCESS);
    }
    if tokens.is_empty() {
        eprintln!(
            "No tokens in {}. Create one with `candor token create`.",
            config.data_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.role.clone(),
                scope_text(&t.regions),
                scope_text(&t.purposes),
                format!("{} UTC", super::utc(t.created_at)),
                t.revoked_at.map_or_else(
                    || "active".to_owned(),
                    |at| format!("revoked {} UTC", super::utc(at)),
                ),
            ]
        })
        .collect();
    print!(
        "{}",
        super::table(
            &["name", "role", "regions", "purposes", "created", "status"],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

fn revoke(args: RevokeArgs) -> Result<ExitCode> {
    let config = args.config.load()?;
    let (regions, _) = super::served(&config)?;
    if !config.store().has_tokens()? {
        bail!(
            "cannot revoke token {:?}: there are no tokens in {}",
            args.name,
            config.data_dir.display()
        );
    }
    access::revoke_token(&config, &args.name, &regions, super::now())
        .with_context(|| format!("cannot revoke token {:?}", args.name))?;
    eprintln!(
        "Revoked token {:?}: the collector refuses it from its next request on.",
        args.name
    );
    Ok(ExitCode::SUCCESS)
}
