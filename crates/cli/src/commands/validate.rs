//! `remotemedia validate FILE...`: check manifests and report every problem with its JSON pointer.
//!
//! Output mirrors `python -m remotemedia validate`: `FILE: valid` on stdout, each problem as
//! `FILE: /json/pointer: message` on stderr (`(root)` for the whole document), or with `--json`
//! one array of `{"file", "valid", "errors": [{"pointer", "message"}]}` on stdout.
//!
//! `--resolve` also checks, as `plan --offline` and `run` do, that every node type resolves on the
//! engine it would run on here (a node placed on another host is that host's to resolve): an
//! unknown type, a module missing from the `--python-path`, a class missing from its module are
//! errors at `/nodes/N/node_type`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use remotemedia_runtime::manifest::{Manifest, ManifestError, ValidManifest};
use remotemedia_runtime::pipeline::{self, Config};
use remotemedia_runtime::placement::PlanError;
use serde::Serialize;

use crate::common::PythonPathArgs;
use crate::exit::{EXIT_INVALID, InvalidInput};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files to check; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print the results as JSON: [{"file", "valid", "errors": [{"pointer", "message"}]}].
    #[arg(long)]
    json: bool,
    /// Also check that every node type resolves on the engine it would run on here (a catalogue
    /// name, or a module and class found on the Python path), as `plan` and `run` do.
    #[arg(long)]
    resolve: bool,
    #[command(flatten)]
    python_path: PythonPathArgs,
}

#[derive(Debug, Serialize)]
struct Report {
    file: String,
    valid: bool,
    errors: Vec<ManifestError>,
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let python_path = args.python_path.directories()?;
    if !python_path.is_empty() && !args.resolve {
        return Err(InvalidInput(anyhow::anyhow!(
            "--python-path is where --resolve looks for node modules; give --resolve too"
        ))
        .into());
    }
    let resolve = args.resolve.then(|| Config {
        python_path,
        ..Config::default()
    });
    let reports: Vec<Report> = args
        .files
        .iter()
        .map(|file| check(file, resolve.as_ref()))
        .collect();
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

fn check(file: &Path, resolve: Option<&Config>) -> Report {
    let name = file.to_string_lossy().into_owned();
    let outcome = if name == "-" {
        Manifest::from_reader(std::io::stdin().lock())
    } else {
        Manifest::from_path(file)
    };
    let errors = match (outcome, resolve) {
        (Err(errors), _) => errors.into_vec(),
        (Ok(manifest), Some(config)) => unresolved(&manifest, config),
        (Ok(_), None) => Vec::new(),
    };
    Report {
        file: name,
        valid: errors.is_empty(),
        errors,
    }
}

/// The nodes whose type does not resolve here, each at its `node_type`; a manifest that cannot be
/// planned on this machine at all says so at the root.
fn unresolved(manifest: &ValidManifest, config: &Config) -> Vec<ManifestError> {
    let machine = pipeline::detect_machine();
    match pipeline::plan_manifest(manifest, &machine, config) {
        Ok(_) => Vec::new(),
        Err(PlanError::Unresolved(nodes)) => nodes
            .iter()
            .map(|node| {
                let index = manifest
                    .nodes
                    .iter()
                    .position(|n| n.id == node.node_id)
                    .expect("unresolved nodes are the manifest's");
                ManifestError::new(
                    format!("/nodes/{index}/node_type"),
                    format!(
                        "node type `{}` does not resolve: {}",
                        node.node_type,
                        node.why()
                    ),
                )
            })
            .collect(),
        Err(other) => vec![ManifestError::at_root(format!(
            "cannot check node types: the manifest cannot be planned on this machine: {other}"
        ))],
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
