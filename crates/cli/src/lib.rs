//! The `remotemedia` command line (internal crate): the [`Cli`] definition, one module per
//! subcommand in `commands/`, and what they share in `common`. The executable's `main` is one
//! line; the Python package's native module runs the very same program for its `remotemedia`
//! console command.

mod commands;
mod common;
mod exit;

pub use common::ray_cluster;

use std::process::ExitCode;

use clap::Parser;

/// Validate, plan and run remotemedia pipeline manifests.
#[derive(Debug, Parser)]
#[command(
    name = "remotemedia",
    version,
    about = "Validate, plan and run remotemedia pipeline manifests"
)]
pub struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

/// The whole command line program on `args` (the program name first): parses them, runs the
/// subcommand, prints an error to stderr and returns the exit code.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let cli = Cli::parse_from(args);
    init_logging();
    match cli.command.execute() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::exit_code(&err)
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings), coloured only on a terminal.
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A second run in one process (the Python console command) keeps the first subscriber.
        .try_init()
        .ok();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
