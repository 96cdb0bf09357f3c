//! The embedding API in one type: load a manifest, plan it for a machine, run it.
//!
//! [`Pipeline`] ties the pieces together — [`manifest`](crate::manifest) validation, the
//! [`Graph`], [`placement`] and the [`executor`] — and picks the
//! engine of every node from its plan. The `remotemedia run` command is a thin user of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use remotemedia_core::cluster::ClusterConnector;
use remotemedia_core::engine::{Engine, NodeSpec, ParamError};
use remotemedia_core::engines::{EngineStartError, LocalEngines};
use remotemedia_core::executor::{self, Inputs, PlannedNode, Run, RunError, RunOptions};
use remotemedia_core::graph::Graph;
use remotemedia_core::hosts::HostConnector;
use remotemedia_core::manifest::{
    Isolation, Manifest, ManifestErrors, NodeManifest, ValidManifest,
};
use remotemedia_core::placement::{
    self, ClassFinding, ClassProbe, EngineKind, Engines, MachineCapabilities, NativeFinding, Plan,
    PlanError, PlanOptions,
};
use remotemedia_cpython::{self as cpython, CPythonError, CPythonSettings};
use remotemedia_isolate::Limits;
use remotemedia_media::NativeEngine;
use remotemedia_media::engine::{self as native, Support};
use remotemedia_rustpython::{InterpreterSharing, RustPythonConfig, RustPythonEngine};

use crate::isolation;
use crate::resolve::{self, ResolvingEngines};

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
    /// Which RustPython nodes get an interpreter of their own (by default those that declare
    /// `capabilities.cpu.cores`).
    pub interpreters: InterpreterSharing,
    /// How runs are executed (channel capacity).
    pub run: RunOptions,
    /// The engine for nodes placed on CPython; `None` starts one per run (see
    /// [`engines::cpython`](crate::engines::cpython)). A Python process embedding the runtime
    /// passes its own, so those nodes run in the calling interpreter.
    pub cpython_engine: Option<ProvidedEngine>,
    /// Reaches the hosts that nodes are placed on: checked when the pipeline is planned, then
    /// running those nodes. `None`: a node placed on another host is an error.
    pub hosts: Option<Arc<dyn HostConnector>>,
    /// The cluster (Ray) that nodes this machine cannot run go to, when no `host` takes them, and
    /// nodes whose `placement` is `cluster`: checked when the pipeline is planned; each run places
    /// those nodes there before data flows. `None`: such nodes are unplaceable.
    pub cluster: Option<Arc<dyn ClusterConnector>>,
    /// The isolation of every node that runs user code (`process` or `sandbox`; a node's own
    /// stricter `isolation` is kept). Catalogue nodes follow their manifest only.
    pub isolation: Isolation,
    /// Memory and CPU limits of isolated nodes' worker processes (sandboxed ones get defaults).
    pub limits: Limits,
}

/// An engine supplied by the embedding application.
#[derive(Clone)]
pub struct ProvidedEngine(pub Arc<dyn Engine>);

impl std::fmt::Debug for ProvidedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProvidedEngine({})", self.0.name())
    }
}

/// A manifest that cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest is invalid; every problem is listed with where it is.
    #[error(transparent)]
    Manifest(#[from] ManifestErrors),
    /// A node's requirements cannot be met.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A node's params cannot become stream values.
    #[error(transparent)]
    Param(#[from] ParamError),
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
    /// Nodes are placed on CPython, and no CPython engine could be started (no interpreter found,
    /// no shared libpython, the bridge library missing …). Nothing has run.
    #[error("{} CPython, which could not start: {reason}", describe_nodes(nodes))]
    Cpython {
        /// The ids of the nodes placed on CPython.
        nodes: Vec<String>,
        /// Why, and how to fix it: in the message itself, not also as its source, which error
        /// reports would print a second time.
        reason: CPythonError,
    },
    /// The executor could not start (the operating system refused a thread).
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A validated, planned pipeline, ready to run any number of times.
#[derive(Debug, Clone)]
pub struct Pipeline {
    manifest: ValidManifest,
    graph: Graph,
    plan: Plan,
    /// The engines planning started to inspect node classes (RustPython) and to check that every
    /// node type resolves (RustPython, CPython), handed to the first run instead of starting others.
    planning_interpreter: Arc<Mutex<Option<Arc<RustPythonEngine>>>>,
    planning_cpython: Arc<Mutex<Option<ProvidedEngine>>>,
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

    /// Plans a validated manifest (`Manifest::from_*`, or `manifest.validate()` for one built
    /// in code).
    pub fn new(manifest: ValidManifest, config: Config) -> Result<Pipeline, LoadError> {
        let graph = manifest.graph();
        let (plan, planning) = match &config.machine {
            Some(machine) => plan_for(&manifest, machine, &config)?,
            None => {
                let mut machine = detect_machine();
                // The engine is at hand: CPython is available whatever the PATH says.
                machine.engines.cpython |= config.cpython_engine.is_some();
                plan_for(&manifest, &machine, &config)?
            }
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
            .map(NodeSpec::from_manifest)
            .collect::<Result<_, _>>()?;
        Ok(Pipeline {
            manifest,
            graph,
            plan,
            planning_interpreter: Arc::new(Mutex::new(planning.rustpython)),
            planning_cpython: Arc::new(Mutex::new(planning.cpython.map(ProvidedEngine))),
            specs,
            config,
        })
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &ValidManifest {
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
        for ((spec, placed), node) in self
            .specs
            .iter()
            .zip(&self.plan.nodes)
            .zip(&self.manifest.nodes)
        {
            let isolation = isolation::node_isolation(node, &self.config);
            if isolation != Isolation::None && placed.engine.is_local() {
                nodes.push(PlannedNode {
                    spec: spec.clone(),
                    engine: isolation::isolated_engine(&placed.engine, isolation, &self.config),
                });
                continue;
            }
            let engine = match engines.get(&placed.engine) {
                Some(engine) => Arc::clone(engine),
                None => {
                    let engine = match &placed.engine {
                        EngineKind::Rustpython => self
                            .planning_interpreter
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .take()
                            .map(|engine| engine as Arc<dyn Engine>),
                        EngineKind::Cpython => self
                            .planning_cpython
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .take()
                            .map(|ProvidedEngine(engine)| engine),
                        EngineKind::Native | EngineKind::Remote { .. } | EngineKind::Cluster => {
                            None
                        }
                    };
                    let engine = match (engine, &placed.engine) {
                        (Some(engine), _) => engine,
                        (None, EngineKind::Remote { host }) => self.remote_engine(host)?,
                        (None, EngineKind::Cluster) => self.cluster_engine()?,
                        (None, local) => DefaultEngines::new(self.config.clone())
                            .start_local(local, &self.nodes_on(local))?,
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
        let mut options = self.config.run.clone();
        // A node's own `timeout_s` replaces the run's `--node-timeout` for it.
        options
            .node_timeouts
            .extend(self.manifest.nodes.iter().filter_map(|node| {
                let seconds = node.timeout_s?;
                Some((node.id.clone(), Duration::try_from_secs_f64(seconds).ok()?))
            }));
        Ok(executor::start(&self.graph, nodes, inputs, &options)?)
    }
}

impl Pipeline {
    /// The ids of the nodes placed on `kind`.
    fn nodes_on(&self, kind: &EngineKind) -> Vec<String> {
        self.plan
            .nodes
            .iter()
            .filter(|node| node.engine == *kind)
            .map(|node| node.id.clone())
            .collect()
    }

    fn cluster_engine(&self) -> Result<Arc<dyn Engine>, StartError> {
        let cluster = self
            .config
            .cluster
            .as_ref()
            .expect("Pipeline::new checked cluster engines");
        cluster
            .engine(&self.manifest)
            .map_err(|err| StartError::Engine {
                engine: "cluster",
                source: Box::new(err),
            })
    }

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

/// Plans `manifest` on `machine` as [`Pipeline::new`] does: with the configured (or the
/// environment's) options, asking the embedded RustPython interpreter what the classes of nodes
/// left to `runtime_hint: auto` need (a declared `runtime_hint`, or a module that only imports in
/// CPython), then asking the engines the nodes are placed on whether each node's type resolves
/// there ([`PlanError::Unresolved`]).
pub fn plan_manifest(
    manifest: &Manifest,
    machine: &MachineCapabilities,
    config: &Config,
) -> Result<Plan, PlanError> {
    plan_for(manifest, machine, config).map(|(plan, _)| plan)
}

/// Places `manifest` as [`plan_manifest`] does, without checking that node types resolve: to draw
/// a manifest whose classes need not be at hand (`remotemedia graph`). Never a plan to run.
pub fn place_manifest(
    manifest: &Manifest,
    machine: &MachineCapabilities,
    config: &Config,
) -> Result<Plan, PlanError> {
    place(manifest, machine, config).map(|(plan, _)| plan)
}

/// The plan, and the engines started to inspect classes and check that node types resolve.
fn plan_for(
    manifest: &Manifest,
    machine: &MachineCapabilities,
    config: &Config,
) -> Result<(Plan, ResolvingEngines), PlanError> {
    let (plan, interpreter) = place(manifest, machine, config)?;
    let engines = resolve::check(manifest, &plan, config, interpreter)?;
    Ok((plan, engines))
}

/// Where each node runs, and the interpreter started to inspect classes (if one was). With
/// [`Config::hosts`], the hosts that nodes are placed on are asked what they offer.
fn place(
    manifest: &Manifest,
    machine: &MachineCapabilities,
    config: &Config,
) -> Result<(Plan, Option<Arc<RustPythonEngine>>), PlanError> {
    let mut options = match &config.plan {
        Some(options) => *options,
        None => PlanOptions::from_env()?,
    };
    options.cluster = config.cluster.is_some();
    let probe = LocalProbe::new(config);
    let mut plan = placement::plan_probed(manifest, machine, &options, &probe)?;
    let remote = |node: &placement::NodePlan| matches!(node.engine, EngineKind::Remote { .. });
    if let Some(hosts) = &config.hosts
        && plan.nodes.iter().any(remote)
    {
        plan = placement::check_hosts(manifest, plan, machine, &options, &probe, hosts.as_ref())?;
    }
    if let Some(cluster) = &config.cluster
        && plan
            .nodes
            .iter()
            .any(|node| node.engine == EngineKind::Cluster)
    {
        plan = placement::check_cluster(manifest, plan, cluster.as_ref())?;
    }
    Ok((plan, probe.into_interpreter()))
}

/// Placement's questions answered by this build: the native engine for node types it
/// implements, and — only for nodes that are not native and left to `auto` — an embedded
/// RustPython interpreter, started at the first such question, that loads their classes. So an
/// all-native pipeline starts no interpreter at all.
struct LocalProbe {
    config: RustPythonConfig,
    interpreter: std::sync::OnceLock<Option<Arc<RustPythonEngine>>>,
}

impl LocalProbe {
    fn new(config: &Config) -> LocalProbe {
        LocalProbe {
            config: rustpython_config(config),
            interpreter: std::sync::OnceLock::new(),
        }
    }

    /// The interpreter started to inspect classes, if one was.
    fn into_interpreter(self) -> Option<Arc<RustPythonEngine>> {
        self.interpreter.into_inner().flatten()
    }
}

impl ClassProbe for LocalProbe {
    fn probe(&self, node: &NodeManifest) -> ClassFinding {
        let interpreter =
            self.interpreter
                .get_or_init(|| match RustPythonEngine::new(&self.config) {
                    Ok(engine) => Some(Arc::new(engine)),
                    // Starting it again for the run reports the problem there, as before any probing.
                    Err(err) => {
                        tracing::debug!("node classes not inspected: {err}");
                        None
                    }
                });
        match interpreter {
            Some(engine) => engine.probe(node),
            None => ClassFinding::Unknown,
        }
    }

    fn native(&self, node: &NodeManifest) -> NativeFinding {
        native_finding(node)
    }
}

/// Whether the native engine runs `node`, for placement.
pub fn native_finding(node: &NodeManifest) -> NativeFinding {
    let params = node
        .params
        .iter()
        .map(|(name, value)| (name.as_str(), value));
    match native::support(&node.node_type, node.module.as_deref(), params) {
        Support::Native => NativeFinding::Supported,
        Support::NotImplemented => NativeFinding::NotImplemented,
        Support::Unsupported(why) => NativeFinding::Unsupported(why),
    }
}

/// This machine's capabilities, with the engines this build has: RustPython always, CPython when
/// an interpreter can be located (nothing is started to find out).
pub fn detect_machine() -> MachineCapabilities {
    let cpython = cpython::available();
    let cpython_problem = match cpython::locate() {
        Err(err @ cpython::LocateError::NotExecutable { .. }) => Some(err.to_string()),
        _ => None,
    };
    placement::detect(Engines {
        rustpython: true,
        cpython,
        cpython_problem,
    })
}

/// True when this build can start engines of `kind` with `config` (remote ones need
/// [`Config::hosts`]).
pub fn engine_available(kind: &EngineKind, config: &Config) -> bool {
    match kind {
        EngineKind::Native | EngineKind::Rustpython | EngineKind::Cpython => true,
        EngineKind::Remote { .. } => config.hosts.is_some(),
        EngineKind::Cluster => config.cluster.is_some(),
    }
}

/// The engines this runtime wires in — native (the catalogue's audio nodes in Rust),
/// RustPython, and CPython (loaded at run time, or the calling interpreter's) — started as `config` says. A run starts its local engines through it,
/// and so does a `remotemedia serve` host; remote engines come from [`Config::hosts`].
#[derive(Debug, Clone)]
pub struct DefaultEngines {
    config: Config,
}

impl DefaultEngines {
    /// The default engines with `config`'s Python path, interpreter sharing and CPython engine.
    pub fn new(config: Config) -> Self {
        DefaultEngines { config }
    }

    /// Starts a local engine of `kind` for the nodes `nodes`.
    pub fn start_local(
        &self,
        kind: &EngineKind,
        nodes: &[String],
    ) -> Result<Arc<dyn Engine>, StartError> {
        let config = &self.config;
        match kind {
            EngineKind::Native => Ok(Arc::new(NativeEngine)),
            EngineKind::Rustpython => {
                let engine = RustPythonEngine::new(&rustpython_config(config)).map_err(|err| {
                    StartError::Engine {
                        engine: "rustpython",
                        source: Box::new(err),
                    }
                })?;
                Ok(Arc::new(engine))
            }
            EngineKind::Cpython => {
                if let Some(ProvidedEngine(engine)) = &config.cpython_engine {
                    return Ok(Arc::clone(engine));
                }
                let settings = CPythonSettings {
                    python_path: rustpython_config(config).python_path,
                    capture_stdio: true,
                };
                cpython::start(&settings).map_err(|reason| StartError::Cpython {
                    nodes: nodes.to_vec(),
                    reason,
                })
            }
            EngineKind::Remote { host } => Err(StartError::Engine {
                engine: "remote",
                source: format!("nodes placed on {host} are run by a host connector, not by this process's engines").into(),
            }),
            EngineKind::Cluster => Err(StartError::Engine {
                engine: "cluster",
                source: "nodes placed on the cluster are run by a cluster connector, not by this process's engines".into(),
            }),
        }
    }
}

impl LocalEngines for DefaultEngines {
    fn start(
        &self,
        kind: &EngineKind,
        nodes: &[String],
    ) -> Result<Arc<dyn Engine>, EngineStartError> {
        self.start_local(kind, nodes).map_err(Into::into)
    }

    fn start_isolated(
        &self,
        kind: &EngineKind,
        isolation: Isolation,
    ) -> Result<Arc<dyn Engine>, EngineStartError> {
        Ok(isolation::isolated_engine(kind, isolation, &self.config))
    }

    fn native(&self, node: &NodeManifest) -> NativeFinding {
        native_finding(node)
    }
}

/// The RustPython engine's settings for `config`: its Python path (with the environment's) and
/// how its interpreters are shared.
pub fn rustpython_config(config: &Config) -> RustPythonConfig {
    RustPythonConfig {
        interpreters: config.interpreters,
        ..RustPythonConfig::with_env(config.python_path.clone())
    }
}

/// `node `a` runs on` / `nodes `a`, `b` run on`.
fn describe_nodes(nodes: &[String]) -> String {
    let ids: Vec<String> = nodes.iter().map(|id| format!("`{id}`")).collect();
    match ids.as_slice() {
        [one] => format!("node {one} runs on"),
        _ => format!("nodes {} run on", ids.join(", ")),
    }
}
