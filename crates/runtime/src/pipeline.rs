//! The embedding API in one type: load a manifest, plan it for a machine, run it.
//!
//! [`Pipeline`] ties the pieces together — [`manifest`](crate::manifest) validation, the
//! [`Graph`], [`placement`] and the [`executor`] — and picks the
//! engine of every node from its plan. The `remotemedia run` command is a thin user of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{Engine, NodeSpec};
use crate::engines::rustpython::{RustPythonConfig, RustPythonEngine};
use crate::executor::{self, Inputs, PlannedNode, Run, RunError, RunOptions};
use crate::graph::{Graph, GraphError};
use crate::hosts::HostConnector;
use crate::manifest::{Manifest, ManifestErrors};
use crate::placement::{self, EngineKind, MachineCapabilities, Plan, PlanError, PlanOptions};
use crate::value::{Value, ValueError};

/// Choices made outside the manifest. `Config::default()` plans for this machine, with the
/// environment's settings, and runs with small channels.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The machine to plan for; `None` detects this one.
    pub machine: Option<MachineCapabilities>,
    /// Placement choices; `None` reads them from the environment
    /// ([`PYTHON_RUNTIME`](crate::env_vars::PYTHON_RUNTIME)).
    pub plan: Option<PlanOptions>,
    /// Directories searched for the modules of user-defined Python nodes.
    pub python_path: Vec<PathBuf>,
    /// How runs are executed (channel capacity).
    pub run: RunOptions,
    /// Reaches the hosts that nodes are placed on: checked when the pipeline is planned, then
    /// running those nodes. `None`: a node placed on another host is an error.
    pub hosts: Option<Arc<dyn HostConnector>>,
}

/// A manifest that cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest is invalid; every problem is listed with where it is.
    #[error(transparent)]
    Manifest(#[from] ManifestErrors),
    /// The connections do not form a DAG.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A node's requirements cannot be met.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A node's params cannot become stream values.
    #[error("node `{node}`: param `{param}`: {source}")]
    Param {
        /// The node's id.
        node: String,
        /// The param's name.
        param: String,
        /// What is wrong with it.
        source: ValueError,
    },
    /// A node is planned on an engine this build cannot run.
    #[error(
        "node `{node}` is planned on the {engine} engine, which this build of remotemedia does not include yet"
    )]
    EngineUnavailable {
        /// The node's id.
        node: String,
        /// The engine placement chose.
        engine: EngineKind,
    },
}

/// A run that could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An engine could not be made ready (e.g. the embedded interpreter failed to start).
    #[error("the {engine} engine could not start")]
    Engine {
        /// The engine's name.
        engine: &'static str,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The executor could not start (the operating system refused a thread).
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A validated, planned pipeline, ready to run any number of times.
#[derive(Debug, Clone)]
pub struct Pipeline {
    manifest: Manifest,
    graph: Graph,
    plan: Plan,
    specs: Vec<NodeSpec>,
    config: Config,
}

impl Pipeline {
    /// Loads the manifest at `path` and plans it for this machine.
    pub fn load(path: impl AsRef<Path>) -> Result<Pipeline, LoadError> {
        Pipeline::load_with(path, Config::default())
    }

    /// Loads the manifest at `path` and plans it as `config` says.
    pub fn load_with(path: impl AsRef<Path>, config: Config) -> Result<Pipeline, LoadError> {
        Pipeline::new(Manifest::from_path(path)?, config)
    }

    /// Plans a manifest built in code (it is validated first, by the same rules as a file).
    pub fn new(manifest: Manifest, config: Config) -> Result<Pipeline, LoadError> {
        manifest.validate()?;
        let graph = Graph::new(&manifest)?;
        let plan = match &config.machine {
            Some(machine) => plan_for(&manifest, machine, &config)?,
            None => plan_for(&manifest, &placement::detect(), &config)?,
        };
        for node in &plan.nodes {
            if !engine_available(&node.engine, &config) {
                return Err(LoadError::EngineUnavailable {
                    node: node.id.clone(),
                    engine: node.engine.clone(),
                });
            }
        }
        let specs = manifest
            .nodes
            .iter()
            .map(|node| {
                let params = node
                    .params
                    .iter()
                    .map(|(name, json)| {
                        let value =
                            Value::from_json(json.clone()).map_err(|source| LoadError::Param {
                                node: node.id.clone(),
                                param: name.clone(),
                                source,
                            })?;
                        Ok((name.clone(), value))
                    })
                    .collect::<Result<_, LoadError>>()?;
                Ok(NodeSpec {
                    id: node.id.clone(),
                    node_type: node.node_type.clone(),
                    module: node.module.clone(),
                    params,
                })
            })
            .collect::<Result<_, LoadError>>()?;
        Ok(Pipeline {
            manifest,
            graph,
            plan,
            specs,
            config,
        })
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The pipeline's graph (roots, sinks, order).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Where every node runs, and why.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The ids of the sink nodes, whose outputs are the run's outputs.
    pub fn sinks(&self) -> Vec<&str> {
        self.graph.sinks().map(|sink| self.graph.id(sink)).collect()
    }

    /// Starts a run over `inputs` (a `Vec<Value>`, or [`Inputs`] for a lazy or fallible stream)
    /// and returns at once; iterate the [`Run`] for the outputs as they are produced.
    pub fn run(&self, inputs: impl Into<Inputs>) -> Result<Run, StartError> {
        // One engine of each kind per run, shared by its nodes (one interpreter for all of them).
        let mut engines: HashMap<&EngineKind, Arc<dyn Engine>> = HashMap::new();
        let mut nodes = Vec::with_capacity(self.specs.len());
        for (spec, placed) in self.specs.iter().zip(&self.plan.nodes) {
            let engine = match engines.get(&placed.engine) {
                Some(engine) => Arc::clone(engine),
                None => {
                    let engine = match &placed.engine {
                        EngineKind::Remote { host } => self.remote_engine(host)?,
                        local => start_engine(local, &self.config)?,
                    };
                    engines.insert(&placed.engine, Arc::clone(&engine));
                    engine
                }
            };
            nodes.push(PlannedNode {
                spec: spec.clone(),
                engine,
            });
        }
        Ok(executor::start(
            &self.graph,
            nodes,
            inputs,
            &self.config.run,
        )?)
    }
}

impl Pipeline {
    fn remote_engine(&self, host: &str) -> Result<Arc<dyn Engine>, StartError> {
        let hosts = self
            .config
            .hosts
            .as_ref()
            .expect("Pipeline::new checked remote engines");
        hosts
            .engine(host, &self.manifest)
            .map_err(|err| StartError::Engine {
                engine: "remote",
                source: Box::new(err),
            })
    }
}

fn plan_for(
    manifest: &Manifest,
    machine: &MachineCapabilities,
    config: &Config,
) -> Result<Plan, PlanError> {
    let options = match &config.plan {
        Some(options) => *options,
        None => PlanOptions::from_env()?,
    };
    let plan = placement::plan_with(manifest, machine, &options)?;
    match &config.hosts {
        Some(hosts) => placement::check_hosts(manifest, plan, machine, &options, hosts.as_ref()),
        None => Ok(plan),
    }
}

/// True when this build can start engines of `kind` with `config` (remote ones need
/// [`Config::hosts`]).
pub fn engine_available(kind: &EngineKind, config: &Config) -> bool {
    match kind {
        EngineKind::Rustpython => true,
        EngineKind::Remote { .. } => config.hosts.is_some(),
        EngineKind::Cpython => false,
    }
}

/// Starts a local engine of `kind`, as a run does for its nodes (a `remotemedia serve` host for the
/// nodes it runs). Check [`engine_available`] first; remote engines come from [`Config::hosts`].
pub fn start_engine(kind: &EngineKind, config: &Config) -> Result<Arc<dyn Engine>, StartError> {
    match kind {
        EngineKind::Rustpython => {
            let python = RustPythonConfig::with_env(config.python_path.clone());
            let engine = RustPythonEngine::new(&python).map_err(|err| StartError::Engine {
                engine: "rustpython",
                source: Box::new(err),
            })?;
            Ok(Arc::new(engine))
        }
        _ => unreachable!("the {kind} engine is not available; Pipeline::new rejects the plan"),
    }
}
