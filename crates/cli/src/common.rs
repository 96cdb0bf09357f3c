//! What several subcommands share: their common arguments (the machine, the Python path, how to
//! reach remote hosts and the cluster, isolation), loading and planning a manifest, and writing to
//! stdout.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use remotemedia_cluster::{RAY_ADDRESS, RayCluster, RaySettings, Worker};
use remotemedia_remote::{ClientOptions, RemoteHosts, Token};
use remotemedia_runtime::cluster::ClusterConnector;
use remotemedia_runtime::engines::cpython;
use remotemedia_runtime::graph::Graph;
use remotemedia_runtime::hosts::{HostConnector, HostError};
use remotemedia_runtime::isolation::Limits;
use remotemedia_runtime::manifest::{Isolation, Manifest, ValidManifest};
use remotemedia_runtime::pipeline::{self, Config};
use remotemedia_runtime::placement::{MachineCapabilities, Plan, PlanError};
use serde::Serialize;

use crate::exit::InvalidInput;

/// The machine to plan for (or, for `serve`, to offer): this one, or one a profile describes.
#[derive(Debug, clap::Args)]
pub struct MachineArgs {
    /// Use the machine described by this JSON profile instead of detecting this one
    /// (see examples/profiles/).
    #[arg(long, value_name = "FILE")]
    capabilities: Option<PathBuf>,
}

impl MachineArgs {
    /// The profile given with `--capabilities`, if any; a bad one is [`InvalidInput`].
    pub fn profile(&self) -> anyhow::Result<Option<MachineCapabilities>> {
        self.capabilities
            .as_ref()
            .map(|path| {
                MachineCapabilities::from_path(path).map_err(|err| InvalidInput(err.into()).into())
            })
            .transpose()
    }

    /// The profile, or this machine detected.
    pub fn load(&self) -> anyhow::Result<Machine> {
        Ok(Machine {
            capabilities: self.profile()?.unwrap_or_else(pipeline::detect_machine),
            profile: self.capabilities.clone(),
        })
    }
}

/// The capabilities planned for, and where they came from.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// The profile file; `None` when detected.
    pub profile: Option<PathBuf>,
    pub capabilities: MachineCapabilities,
}

impl Machine {
    /// `this machine`, `` `gpu-box` (profile p.json)`` or `profile p.json`.
    pub fn label(&self) -> String {
        match (&self.profile, &self.capabilities.name) {
            (None, _) => "this machine".to_owned(),
            (Some(path), Some(name)) => format!("`{name}` (profile {})", path.display()),
            (Some(path), None) => format!("profile {}", path.display()),
        }
    }
}

/// Where the modules of user-defined Python nodes are.
#[derive(Debug, clap::Args)]
pub struct PythonPathArgs {
    /// A directory holding modules of user-defined Python nodes and the pure-Python packages they
    /// import, e.g. filled with `pip install --target DIR` (repeatable; searched in order, before
    /// those in REMOTEMEDIA_PYTHON_PATH).
    #[arg(long = "python-path", value_name = "DIR")]
    python_path: Vec<PathBuf>,
}

impl PythonPathArgs {
    /// The directories, each checked to be one; a missing one is [`InvalidInput`].
    pub fn directories(&self) -> anyhow::Result<Vec<PathBuf>> {
        if let Some(dir) = self.python_path.iter().find(|dir| !dir.is_dir()) {
            return Err(InvalidInput(anyhow::anyhow!(
                "--python-path `{}` is not a directory",
                dir.display()
            ))
            .into());
        }
        Ok(self.python_path.clone())
    }
}

/// How user nodes are isolated.
#[derive(Debug, Clone, clap::Args)]
pub struct IsolationArgs {
    /// Run every node of user code (a `module`, or a `module:Class` type; with `serve`: every
    /// node) in a worker process of its own: a crash, an abort or an out-of-memory kill ends that
    /// node with an error naming it, not the whole process. Nodes can ask for it themselves with
    /// `"isolation": "process"`.
    #[arg(long)]
    isolate: bool,
    /// Like --isolate, and sandbox those workers: read-only Python path, no network, no new
    /// processes, memory and CPU limits, a cleaned environment (Linux with Landlock; refused
    /// elsewhere). Nodes can ask for it with `"isolation": "sandbox"`.
    #[arg(long)]
    sandbox: bool,
    /// Address-space limit of each isolated node's worker, in MiB (sandboxed ones: 4096 unless
    /// given); allocations past it fail with MemoryError.
    #[arg(long, value_name = "MIB")]
    memory_limit: Option<u64>,
    /// CPU-time limit of each isolated node's worker, in seconds (sandboxed ones: 3600 unless
    /// given); past it the worker is ended and the node fails.
    #[arg(long, value_name = "SECONDS")]
    cpu_limit: Option<u64>,
}

impl IsolationArgs {
    /// The isolation of user nodes.
    pub fn isolation(&self) -> Isolation {
        match (self.sandbox, self.isolate) {
            (true, _) => Isolation::Sandbox,
            (false, true) => Isolation::Process,
            (false, false) => Isolation::None,
        }
    }

    /// The limits of isolated nodes' workers.
    pub fn limits(&self) -> Limits {
        Limits {
            memory_mb: self.memory_limit,
            cpu_seconds: self.cpu_limit,
        }
    }
}

/// How to reach the hosts that nodes are placed on (`run`, `plan`).
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// Read the token presented to remote hosts from this file (default: the REMOTEMEDIA_TOKEN
    /// environment variable).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Connect to remote hosts over TLS, trusting certificates signed by this PEM CA certificate.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

impl RemoteArgs {
    /// The connector for the runtime; bad options are [`InvalidInput`].
    pub fn connector(&self) -> anyhow::Result<Arc<dyn HostConnector>> {
        let token = match &self.token_file {
            Some(path) => Some(Token::from_file(path)),
            None => Token::from_env().transpose(),
        }
        .transpose()
        .map_err(|err| InvalidInput(err.into()))?;
        let tls_ca = self
            .tls_ca
            .as_ref()
            .map(|path| read_file(path, "CA certificate").map_err(InvalidInput))
            .transpose()?;
        let options = ClientOptions {
            token,
            tls_ca,
            ..ClientOptions::default()
        };
        Ok(Arc::new(RemoteHosts::new(options)?))
    }
}

/// Where nodes this machine cannot run go when no `host` takes them.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// A Ray cluster for the nodes this machine cannot run and no `host` takes, and for nodes
    /// whose `placement` is `cluster`: `ray://HOST:PORT` (the head's client server). Needs a
    /// CPython with `ray` (REMOTEMEDIA_PYTHON, else python3); see docs/cluster.md.
    #[arg(long, value_name = "ADDRESS", env = RAY_ADDRESS, hide_env_values = true)]
    cluster: Option<String>,
}

impl ClusterArgs {
    /// The cluster connector, when a cluster is given; bad settings are [`InvalidInput`].
    pub fn connector(&self) -> anyhow::Result<Option<Arc<dyn ClusterConnector>>> {
        let Some(address) = self
            .cluster
            .as_deref()
            .filter(|address| !address.is_empty())
        else {
            return Ok(None);
        };
        let python = cpython::locate().map_err(|err| {
            InvalidInput(anyhow::anyhow!(
                "--cluster {address}: the Ray driver needs a CPython with `ray` installed: {err}"
            ))
        })?;
        let worker = match Worker::from_env() {
            Some(worker) => worker,
            None => Worker::Executable(worker_executable()?),
        };
        Ok(Some(ray_cluster(address, python, worker)?))
    }
}

/// The Ray cluster at `address`, driven by `python` (a CPython with `ray`), whose actors start
/// `worker` as node workers; they accept only this client's one-time token.
pub fn ray_cluster(
    address: &str,
    python: PathBuf,
    worker: Worker,
) -> anyhow::Result<Arc<dyn ClusterConnector>> {
    let settings = RaySettings::new(address, python, worker);
    let cluster = RayCluster::new(settings, |token| {
        let token = Token::new(token, "the cluster's one-time token")
            .map_err(|err| HostError(err.to_string()))?;
        let hosts = RemoteHosts::new(ClientOptions {
            token: Some(token),
            ..ClientOptions::default()
        })?;
        Ok(Arc::new(hosts) as Arc<dyn HostConnector>)
    })?;
    Ok(Arc::new(cluster))
}

/// The executable the cluster's actors start as node workers: this one — or, when this program
/// runs inside a Python interpreter (the wheel's console command), the command it was started as.
fn worker_executable() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let in_python = exe
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("python"));
    match std::env::args_os().next() {
        Some(program) if in_python => Ok(std::path::absolute(program)?),
        _ => Ok(exe),
    }
}

/// The bytes of `path`, with an error naming it as `what`.
pub fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} `{}`", path.display()))
}

/// A manifest and its plan, ready to show.
#[derive(Debug)]
pub struct Planned {
    pub manifest: ValidManifest,
    pub graph: Graph,
    pub machine: Machine,
    pub plan: Plan,
}

/// How a command plans: [`pipeline::plan_manifest`] as a run would (node types checked), or
/// [`pipeline::place_manifest`] for a picture of the placement alone.
pub type Planner = fn(&Manifest, &MachineCapabilities, &Config) -> Result<Plan, PlanError>;

/// Loads the manifest and the machine, and plans with `planner`; with [`Config::hosts`], the
/// hosts nodes are placed on are asked what they offer (short timeouts). Bad input of any kind
/// is [`InvalidInput`].
pub fn load_and_plan(
    manifest_path: &Path,
    machine: &MachineArgs,
    config: &Config,
    planner: Planner,
) -> anyhow::Result<Planned> {
    let manifest = Manifest::from_path(manifest_path).map_err(|errors| {
        InvalidInput(
            anyhow::Error::new(errors)
                .context(format!("cannot plan `{}`", manifest_path.display())),
        )
    })?;
    let graph = manifest.graph();
    let machine = machine.load()?;
    // Asks the embedded interpreter what the classes of `auto` nodes need, as `run` does.
    let plan = planner(&manifest, &machine.capabilities, config).map_err(|err| {
        InvalidInput(anyhow::Error::new(err).context(format!(
            "cannot plan `{}` on {} [{}]",
            manifest_path.display(),
            machine.label(),
            machine.capabilities
        )))
    })?;
    Ok(Planned {
        manifest,
        graph,
        machine,
        plan,
    })
}

/// Writes `text` to stdout; a reader that went away (`plan … | head`) is not an error.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("failed to write to stdout"))
        }
        _ => Ok(()),
    }
}
