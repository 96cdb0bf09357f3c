//! `remotemedia validate` (being written).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn execute(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`validate` is not available yet")
}
