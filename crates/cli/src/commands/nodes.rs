//! `remotemedia nodes`: the node types a manifest can name by class name alone, each with the
//! Python module that defines it — read from the catalogue frozen into this binary, so the list is
//! exactly what `run` can load.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use remotemedia_runtime::engines::rustpython::{RustPythonConfig, RustPythonEngine};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the list as JSON: `[{"node_type": ..., "module": ...}]`.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct NodeType {
    node_type: String,
    module: String,
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let engine = RustPythonEngine::new(&RustPythonConfig::default())
        .context("cannot read the node catalogue")?;
    let mut catalogue: Vec<NodeType> = engine
        .catalogue()
        .context("cannot read the node catalogue")?
        .into_iter()
        .map(|(node_type, module)| NodeType { node_type, module })
        .collect();
    catalogue.sort_by(|a, b| a.node_type.cmp(&b.node_type));

    let text = if args.json {
        serde_json::to_string_pretty(&catalogue)? + "\n"
    } else {
        table(&catalogue)
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A reader that stopped early (`| head`) is not an error.
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn table(catalogue: &[NodeType]) -> String {
    let header = "NODE TYPE";
    let width = catalogue
        .iter()
        .map(|node| node.node_type.len())
        .max()
        .unwrap_or(0)
        .max(header.len());
    let mut text = format!("{header:width$}  MODULE\n");
    for node in catalogue {
        text += &format!("{:width$}  {}\n", node.node_type, node.module);
    }
    text += "\nUser-defined nodes: give `module` in the manifest (or node_type `module:Class`) and pass \
             its directory with --python-path.\n";
    text
}
