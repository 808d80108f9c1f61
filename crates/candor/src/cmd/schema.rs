//! `candor schema`: check a data dictionary or render its privacy page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use candor_schema::docs::{self, Format};
use candor_schema::{Checked, Diagnostic, LoadError};
use clap::{Subcommand, ValueEnum};

/// The `schema` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SchemaCommand {
    /// Validate a schema file: print a summary and exit 0 when it is valid,
    /// or list every error and exit 1.
    Check {
        /// The schema TOML file.
        file: PathBuf,
    },
    /// Render the public privacy page of a schema file to stdout.
    Docs {
        /// The schema TOML file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DocsFormat::Md)]
        format: DocsFormat,
    },
}

/// Output format of `candor schema docs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DocsFormat {
    /// Markdown.
    #[value(alias = "markdown")]
    Md,
    /// Self-contained HTML.
    Html,
}

/// Runs a `schema` subcommand. Exit codes: 0 valid, 1 invalid schema; an
/// unreadable file is an `Err`, which `main` turns into 2.
pub(crate) fn run(command: SchemaCommand) -> anyhow::Result<ExitCode> {
    match command {
        SchemaCommand::Check { file } => {
            let Some(checked) = load(&file)? else {
                return Ok(ExitCode::from(1));
            };
            let s = &checked.schema;
            println!(
                "{}: OK: schema {} version {}: {}, {}, {}, {}, {}",
                file.display(),
                s.id,
                s.version,
                count(s.purposes.len(), "purpose"),
                count(s.dimensions.len(), "dimension"),
                count(s.metrics.len(), "metric"),
                count(s.regions.len(), "region"),
                count(checked.warnings.len(), "warning"),
            );
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Docs { file, format } => {
            let Some(checked) = load(&file)? else {
                return Ok(ExitCode::from(1));
            };
            let format = match format {
                DocsFormat::Md => Format::Markdown,
                DocsFormat::Html => Format::Html,
            };
            print!("{}", docs::render(&checked.schema, format));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads and validates `file`, printing warnings (and, when invalid, every
/// error) to stderr. `Ok(None)` means the schema is invalid.
fn load(file: &Path) -> anyhow::Result<Option<Checked>> {
    match candor_schema::load(file) {
        Ok(checked) => {
            print_all(&checked.warnings);
            Ok(Some(checked))
        }
        Err(LoadError::Invalid(errors)) => {
            print_all(&errors.errors);
            print_all(&errors.warnings);
            eprintln!(
                "{}: invalid schema: {}",
                file.display(),
                count(errors.len(), "error")
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn print_all(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{d}");
    }
}

/// `1 metric`, `14 metrics`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
