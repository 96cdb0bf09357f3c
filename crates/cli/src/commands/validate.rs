//! `remotemedia validate FILE...`: check manifests and report every problem with its JSON pointer.
//!
//! Output mirrors `python -m remotemedia validate`: `FILE: valid` on stdout, each problem as
//! `FILE: /json/pointer: message` on stderr (`(root)` for the whole document), or with `--json`
//! one array of `{"file", "valid", "errors": [{"pointer", "message"}]}` on stdout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use remotemedia_runtime::manifest::{Manifest, ManifestError};
use serde::Serialize;

use crate::exit::EXIT_INVALID;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files to check; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print the results as JSON: [{"file", "valid", "errors": [{"pointer", "message"}]}].
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    file: String,
    valid: bool,
    errors: Vec<ManifestError>,
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let reports: Vec<Report> = args.files.iter().map(|file| check(file)).collect();
    if args.json {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &reports).context("writing the JSON report")?;
        writeln!(stdout).context("writing the JSON report")?;
    } else {
        print_text(&reports).context("writing the report")?;
    }
    Ok(if reports.iter().all(|report| report.valid) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

fn check(file: &Path) -> Report {
    let name = file.to_string_lossy().into_owned();
    let outcome = if name == "-" {
        Manifest::from_reader(std::io::stdin().lock())
    } else {
        Manifest::from_path(file)
    };
    let errors = outcome.err().map(|e| e.into_vec()).unwrap_or_default();
    Report {
        file: name,
        valid: errors.is_empty(),
        errors,
    }
}

fn print_text(reports: &[Report]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    for report in reports {
        if report.valid {
            writeln!(stdout, "{}: valid", report.file)?;
        }
        for error in &report.errors {
            writeln!(stderr, "{}: {error}", report.file)?;
        }
    }
    Ok(())
}
