//! Whether each node's type resolves on the engine its plan gives it, asked of that engine before
//! any node is created ([`placement::check_resolved`] with this runtime's engines).
//!
//! The engines load the class as creating the node would, through their
//! [`ClassProbe`](crate::engine::ClassProbe)s — the same question placement asks about `auto`
//! nodes: RustPython for the nodes placed there, CPython (started now, and kept for the run) for
//! the nodes placed there, so a class only CPython's site-packages hold is found there. A node
//! placed on another host is that host's to resolve. An engine that cannot start here checks
//! nothing: starting it for the run reports why.
//!
//! An isolated node's user code is not imported here, outside its worker (and its sandbox): only a
//! bare node type is checked, against the catalogue, which imports nothing of the user's.

use std::cell::OnceCell;
use std::sync::Arc;

use remotemedia_core::engine::{ClassFinding, ClassProbe, Engine};
use remotemedia_core::manifest::{Isolation, Manifest, NodeManifest};
use remotemedia_core::placement::{self, EngineKind, NodeResolver, Plan, PlanError};
use remotemedia_rustpython::RustPythonEngine;

use crate::isolation::node_isolation;
use crate::pipeline::{Config, DefaultEngines, rustpython_config};

/// The engines started to answer, handed to the first run so it does not start them again.
#[derive(Default)]
pub(crate) struct ResolvingEngines {
    pub rustpython: Option<Arc<RustPythonEngine>>,
    pub cpython: Option<Arc<dyn Engine>>,
}

/// Checks that every node of `plan` resolves where it is placed. `rustpython` is the interpreter
/// placement already started, if it did.
pub(crate) fn check(
    manifest: &Manifest,
    plan: &Plan,
    config: &Config,
    rustpython: Option<Arc<RustPythonEngine>>,
) -> Result<ResolvingEngines, PlanError> {
    let resolver = EngineResolver {
        config,
        plan,
        rustpython: rustpython.map_or_else(OnceCell::new, |engine| OnceCell::from(Some(engine))),
        cpython: OnceCell::new(),
        catalogue: OnceCell::new(),
    };
    placement::check_resolved(manifest, plan, &resolver)?;
    Ok(ResolvingEngines {
        rustpython: resolver.rustpython.into_inner().flatten(),
        cpython: resolver.cpython.into_inner().flatten(),
    })
}

/// Each engine is started on first need, once.
struct EngineResolver<'a> {
    config: &'a Config,
    plan: &'a Plan,
    rustpython: OnceCell<Option<Arc<RustPythonEngine>>>,
    cpython: OnceCell<Option<Arc<dyn Engine>>>,
    catalogue: OnceCell<Vec<String>>,
}

impl EngineResolver<'_> {
    fn rustpython(&self) -> Option<&RustPythonEngine> {
        self.rustpython
            .get_or_init(
                || match RustPythonEngine::new(&rustpython_config(self.config)) {
                    Ok(engine) => Some(Arc::new(engine)),
                    Err(err) => {
                        tracing::debug!("node types not checked in RustPython: {err}");
                        None
                    }
                },
            )
            .as_deref()
    }

    fn cpython(&self) -> Option<&dyn Engine> {
        self.cpython
            .get_or_init(|| {
                let nodes: Vec<String> = self
                    .plan
                    .nodes
                    .iter()
                    .filter(|node| node.engine == EngineKind::Cpython)
                    .map(|node| node.id.clone())
                    .collect();
                match DefaultEngines::new(self.config.clone())
                    .start_local(&EngineKind::Cpython, &nodes)
                {
                    Ok(engine) => Some(engine),
                    Err(err) => {
                        tracing::warn!("node types not checked in CPython: {err}");
                        None
                    }
                }
            })
            .as_deref()
    }

    /// Where a node whose module is missing was looked for.
    fn searched(&self) -> String {
        let path = rustpython_config(self.config).python_path;
        if path.is_empty() {
            "no --python-path given".to_owned()
        } else {
            let dirs: Vec<String> = path
                .iter()
                .map(|dir| format!("`{}`", dir.display()))
                .collect();
            format!("Python path: {}", dirs.join(", "))
        }
    }

    fn problem(&self, node: &NodeManifest, finding: ClassFinding, engine: &str) -> Option<String> {
        match finding {
            // Where the module was looked for helps only when it was not found (the SDK's
            // `class_engine` reports it as Python does).
            ClassFinding::NotFound { error }
                if node.names_a_module() && error.starts_with("ModuleNotFoundError") =>
            {
                Some(format!("{error} ({})", self.searched()))
            }
            ClassFinding::NotFound { error } => Some(error),
            ClassFinding::ImportFails { error } => {
                Some(format!("its module does not import in {engine}: {error}"))
            }
            ClassFinding::Unknown | ClassFinding::Pure | ClassFinding::Declares(_) => None,
        }
    }
}

impl NodeResolver for EngineResolver<'_> {
    fn unresolved(&self, node: &NodeManifest, engine: &EngineKind) -> Option<String> {
        if engine.is_local() && node_isolation(node, self.config) != Isolation::None {
            let names = self.catalogue_names();
            let unknown =
                !node.names_a_module() && !names.is_empty() && !names.contains(&node.node_type);
            return unknown.then(|| "not in the node catalogue".to_owned());
        }
        match engine {
            EngineKind::Rustpython => {
                let finding = self.rustpython()?.probe(node);
                self.problem(node, finding, "RustPython")
            }
            EngineKind::Cpython => {
                let finding = self.cpython()?.class_probe()?.probe(node);
                self.problem(node, finding, "CPython")
            }
            // Placed native only for the node types (and params) the native engine implements.
            EngineKind::Native => None,
            // Resolved where they run: the host's or the cluster worker's `open` names a node
            // type it does not know.
            EngineKind::Remote { .. } | EngineKind::Cluster => None,
        }
    }

    fn catalogue(&self) -> Vec<String> {
        self.catalogue_names().to_vec()
    }
}

impl EngineResolver<'_> {
    /// The catalogue's node types, as the RustPython engine lists them (asked once).
    fn catalogue_names(&self) -> &[String] {
        self.catalogue.get_or_init(|| {
            let Some(engine) = self.rustpython() else {
                return Vec::new();
            };
            match engine.catalogue() {
                Ok(entries) => entries
                    .into_iter()
                    .map(|(node_type, _)| node_type)
                    .collect(),
                Err(err) => {
                    tracing::debug!("no catalogue to check node types against: {err}");
                    Vec::new()
                }
            }
        })
    }
}
