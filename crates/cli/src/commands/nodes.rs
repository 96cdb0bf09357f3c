//! `remotemedia nodes`: the node types a manifest can name by class name alone, each with the
//! Python module that defines it — read from the catalogue frozen into this binary, so the list is
//! exactly what `run` can load — and the engines that implement it: `native` when the node has a
//! Rust implementation, then the Python engines its class runs in (CPython only, when the class
//! declares it or imports a compiled extension).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use remotemedia_runtime::engines::media::engine::NODE_TYPES as NATIVE_NODE_TYPES;
use remotemedia_runtime::engines::rustpython::{RustPythonConfig, RustPythonEngine};
use remotemedia_runtime::manifest::{NodeManifest, RuntimeHint};
use remotemedia_runtime::placement::{ClassFinding, ClassProbe};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the list as JSON: `[{"node_type": ..., "module": ..., "engines": [...]}]`.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct NodeType {
    node_type: String,
    module: String,
    /// `native`, `rustpython`, `cpython`: placement's order of preference.
    engines: Vec<&'static str>,
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let engine = RustPythonEngine::new(&RustPythonConfig::default())
        .context("cannot read the node catalogue")?;
    let mut catalogue: Vec<NodeType> = engine
        .catalogue()
        .context("cannot read the node catalogue")?
        .into_iter()
        .map(|(node_type, module)| {
            let engines = engines_of(&engine, &node_type)?;
            Ok(NodeType {
                node_type,
                module,
                engines,
            })
        })
        .collect::<anyhow::Result<_>>()?;
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

/// The engines that implement a catalogue node, as placement would try them.
fn engines_of(engine: &RustPythonEngine, node_type: &str) -> anyhow::Result<Vec<&'static str>> {
    let mut engines = Vec::new();
    if NATIVE_NODE_TYPES.contains(&node_type) {
        engines.push("native");
    }
    let node: NodeManifest =
        serde_json::from_value(serde_json::json!({"id": "n", "node_type": node_type}))?;
    match engine.probe(&node) {
        ClassFinding::Declares(RuntimeHint::Cpython) | ClassFinding::ImportFails { .. } => {
            engines.push("cpython")
        }
        _ => engines.extend(["rustpython", "cpython"]),
    }
    Ok(engines)
}

fn table(catalogue: &[NodeType]) -> String {
    let header = "NODE TYPE";
    let width = catalogue
        .iter()
        .map(|node| node.node_type.len())
        .max()
        .unwrap_or(0)
        .max(header.len());
    let module_width = catalogue
        .iter()
        .map(|node| node.module.len())
        .max()
        .unwrap_or(0)
        .max("MODULE".len());
    let mut text = format!("{header:width$}  {:module_width$}  ENGINES\n", "MODULE");
    for node in catalogue {
        text += &format!(
            "{:width$}  {:module_width$}  {}\n",
            node.node_type,
            node.module,
            node.engines.join(", ")
        );
    }
    text += "\nUser-defined nodes: give `module` in the manifest (or node_type `module:Class`) and pass \
             its directory with --python-path.\nENGINES: placement prefers the first (native: Rust, no Python), \
             then RustPython, then CPython; `runtime_hint` in the manifest picks one.\n";
    text
}
