//! The hidden worker subcommand: serves one isolated node to the `remotemedia` process that
//! started this one (crates/isolate). Not for people: it expects its channel on descriptor 3.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn execute(_args: Args) -> anyhow::Result<ExitCode> {
    remotemedia_runtime::isolation::run_worker()?;
    Ok(ExitCode::SUCCESS)
}
