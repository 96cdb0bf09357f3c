//! Isolated and sandboxed nodes: which nodes a run isolates, the engine it gives them, and the
//! engine a worker process builds for its one node (`remotemedia-isolate` does the rest and knows
//! nothing of the engines; this module wires the default ones in).

use std::path::PathBuf;
use std::sync::Arc;

use remotemedia_core::engine::Engine;
use remotemedia_core::manifest::{Isolation, NodeManifest};
use remotemedia_core::placement::EngineKind;
use remotemedia_cpython as cpython;
use remotemedia_isolate::worker::{WorkerEngine, WorkerError};
use remotemedia_isolate::{IsolatedEngine, WorkerConfig};

pub use remotemedia_isolate::{Limits, WORKER_SUBCOMMAND, WorkerCommand, set_worker_command};
use remotemedia_rustpython::InterpreterSharing;

use crate::pipeline::{Config, DefaultEngines};

/// How `node` runs: its own `isolation`, made stricter by the run's [`Config::isolation`] when the
/// node runs user code (a `module`, or a `module:Class` type) rather than a catalogue class.
pub fn node_isolation(node: &NodeManifest, config: &Config) -> Isolation {
    let own = node.isolation.unwrap_or_default();
    if node.names_a_module() {
        own.max(config.isolation)
    } else {
        own
    }
}

/// The engine of a node placed on the local engine `kind` with `isolation` (not `none`): a worker
/// process per node.
pub fn isolated_engine(
    kind: &EngineKind,
    isolation: Isolation,
    config: &Config,
) -> Arc<dyn Engine> {
    let python_path = crate::pipeline::rustpython_config(config).python_path;
    Arc::new(IsolatedEngine::new(
        kind.name(),
        python_path,
        isolation,
        config.limits,
    ))
}

/// The body of the executable's hidden worker subcommand: serves one isolated node to the parent
/// that started this process, with the default engines.
pub fn run_worker() -> Result<(), WorkerError> {
    remotemedia_isolate::worker::run(worker_engine)
}

/// Builds the engine the worker's node is placed on, and says which directories it reads from.
fn worker_engine(worker: &WorkerConfig) -> Result<WorkerEngine, String> {
    let kind = match worker.engine.as_str() {
        "native" => EngineKind::Native,
        "rustpython" => EngineKind::Rustpython,
        "cpython" => EngineKind::Cpython,
        other => return Err(format!("a worker cannot run nodes of the {other} engine")),
    };
    let config = Config {
        python_path: worker.python_path.clone(),
        // One node per worker, with an interpreter of its own: the one a RustPython node can be
        // interrupted in (its main VM takes the parent's interruption, see `remotemedia-isolate`).
        interpreters: InterpreterSharing::PerNode,
        ..Config::default()
    };
    let engine = DefaultEngines::new(config)
        .start_local(&kind, std::slice::from_ref(&worker.node.id))
        .map_err(|err| format!("{err:#}"))?;
    let readable = match kind {
        EngineKind::Cpython => cpython_directories(),
        _ => Vec::new(),
    };
    Ok(WorkerEngine { engine, readable })
}

/// Where the loaded CPython's standard library and packages are.
fn cpython_directories() -> Vec<PathBuf> {
    let Some(installation) = cpython::loaded_installation() else {
        return Vec::new();
    };
    let mut dirs = vec![
        installation.home,
        installation.prefix,
        installation.exec_prefix,
    ];
    dirs.extend(installation.path);
    dirs
}
