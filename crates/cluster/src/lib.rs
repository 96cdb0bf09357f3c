//! Placing remotemedia nodes on a Ray cluster. Internal API of the `remotemedia` executable.
//!
//! Ray does placement and lifecycle; items never go through Ray. For each node placed on the
//! cluster, [`RayCluster`]'s engine asks Ray for an actor with the node's resources
//! ([`RayRequest`]); the actor starts a node worker — `remotemedia serve --one-run`, this
//! executable or the wheel's package ([`Worker`]) — on the machine Ray chose, with a one-time
//! token, and hands back its address. The
//! node then runs over the remote engine's gRPC stream to that worker, like a node with a `host`.
//! The actor is killed when the node is cleaned up (end of run, a failure, SIGINT/SIGTERM).
//!
//! The executable talks to Ray through a small Python driver process (see `driver`), so it never
//! links libpython; the driver needs a CPython with `ray` installed. If this process dies without
//! cleaning up (SIGKILL), the driver's stdin closes and it kills the actors; if the driver dies
//! too, Ray kills the actors a dead driver owned, and each worker exits when its actor (its stdin)
//! is gone or its node stream ends.
//!
//! docs/cluster.md has the user's side: starting a cluster, what runs where, failures, security.

mod driver;
mod resources;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use remotemedia_core::cluster::{ClusterConnector, ClusterError};
use remotemedia_core::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec};
use remotemedia_core::env_vars;
use remotemedia_core::hosts::{HostConnector, HostError};
use remotemedia_core::manifest::{Manifest, NodeManifest};
use remotemedia_core::value::Value;
use serde_json::json;

pub use resources::RayRequest;

use driver::Driver;

/// The environment variable Ray's own tools read for the cluster's address; `run` and `plan`
/// use it when `--cluster` is not given.
pub const RAY_ADDRESS: &str = "RAY_ADDRESS";

/// How to reach a Ray cluster and what to start there.
#[derive(Debug, Clone)]
pub struct RaySettings {
    /// `ray://HOST:PORT` (Ray Client, the head's client server) or `HOST:PORT` (a Ray node's GCS,
    /// from a machine of the cluster).
    pub address: String,
    /// A CPython with `ray` installed, for the driver process.
    pub python: PathBuf,
    /// What the actors start as the node's worker (`serve --one-run`).
    pub worker: Worker,
    /// Longest wait to connect to the cluster (plan time).
    pub connect_timeout: Duration,
    /// Longest wait for Ray to start one node's actor and worker (before data flows).
    pub place_timeout: Duration,
    /// Longest wait, after a node's connection broke, for Ray to say why.
    pub reason_timeout: Duration,
}

impl RaySettings {
    /// Settings for `address` with the default timeouts: 60 s to connect and to place a node
    /// (starting a Ray client session and an actor takes seconds), 5 s for Ray's reason.
    pub fn new(address: impl Into<String>, python: PathBuf, worker: Worker) -> Self {
        RaySettings {
            address: address.into(),
            python,
            worker,
            connect_timeout: Duration::from_secs(60),
            place_timeout: Duration::from_secs(60),
            reason_timeout: Duration::from_secs(5),
        }
    }
}

/// What a node's actor starts as its worker (`remotemedia serve --one-run`), on the machine Ray
/// chose. Whichever it is, an actor whose machine lacks it falls back, in order, to the
/// `remotemedia` package of the actor's own interpreter (the wheel installed beside `ray`: its
/// native module's command line, run by that interpreter) and to the `remotemedia` on its `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Worker {
    /// A `remotemedia` executable at this path: this one (the same path on the cluster's
    /// machines), a cargo build's, or the one [`env_vars::CLUSTER_WORKER`] names.
    Executable(PathBuf),
    /// The `remotemedia` package installed on the cluster's machines (a client running from the
    /// wheel, which ships no separate executable).
    Package,
}

impl Worker {
    /// The worker [`env_vars::CLUSTER_WORKER`] names, when it is set and not empty.
    pub fn from_env() -> Option<Worker> {
        std::env::var_os(env_vars::CLUSTER_WORKER)
            .filter(|path| !path.is_empty())
            .map(|path| Worker::Executable(PathBuf::from(path)))
    }

    /// The driver's `executable`: the path, or `null` for the package.
    fn executable(&self) -> Option<&std::path::Path> {
        match self {
            Worker::Executable(path) => Some(path),
            Worker::Package => None,
        }
    }
}

/// A Ray cluster as the runtime's [`ClusterConnector`]; connects on first use.
pub struct RayCluster {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RaySettings,
    /// The one-time token every worker of this client requires; never leaves the driver, the
    /// actors and the workers' token files.
    token: String,
    /// Reaches the workers, presenting `token`.
    hosts: Arc<dyn HostConnector>,
    driver: OnceLock<Result<Driver, String>>,
    /// Tells this client's actors apart from others' in Ray (`remotemedia-<tag>-<n>-<node>`).
    tag: String,
    placed: AtomicU64,
}

impl fmt::Debug for RayCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RayCluster")
            .field("address", &self.inner.settings.address)
            .finish_non_exhaustive()
    }
}

impl RayCluster {
    /// A cluster client: `hosts` makes the connector that reaches workers presenting a token.
    pub fn new(
        settings: RaySettings,
        hosts: impl FnOnce(&str) -> Result<Arc<dyn HostConnector>, HostError>,
    ) -> Result<RayCluster, ClusterError> {
        let token = random_hex(32)?;
        let hosts = hosts(&token).map_err(|error| ClusterError(error.0))?;
        Ok(RayCluster {
            inner: Arc::new(Inner {
                settings,
                token,
                hosts,
                driver: OnceLock::new(),
                tag: random_hex(4)?,
                placed: AtomicU64::new(0),
            }),
        })
    }
}

impl Inner {
    fn driver(&self) -> Result<&Driver, ClusterError> {
        let settings = &self.settings;
        self.driver
            .get_or_init(|| {
                tracing::debug!(target: "remotemedia_cluster", address = %settings.address, "connecting to the Ray cluster");
                Driver::start(&settings.python, &settings.address, settings.connect_timeout)
            })
            .as_ref()
            .map_err(|why| {
                ClusterError(format!("cannot reach the Ray cluster at {}: {why}", settings.address))
            })
    }
}

impl ClusterConnector for RayCluster {
    fn address(&self) -> &str {
        &self.inner.settings.address
    }

    fn check(&self, node: &NodeManifest) -> Result<String, ClusterError> {
        let request = RayRequest::for_node(node.capabilities.as_ref());
        let driver = self.inner.driver()?;
        driver
            .call(
                "check",
                &node.id,
                json!({"request": request}),
                self.inner.settings.connect_timeout,
            )
            .map(|_| request.to_string())
            .map_err(|why| ClusterError(format!("asks for {request}, but {why}")))
    }

    fn engine(&self, manifest: &Manifest) -> Result<Arc<dyn Engine>, ClusterError> {
        self.inner.driver()?;
        Ok(Arc::new(ClusterEngine {
            inner: Arc::clone(&self.inner),
            manifest: manifest.clone(),
        }))
    }
}

/// Creates nodes on the cluster: each gets an actor and a worker of its own.
struct ClusterEngine {
    inner: Arc<Inner>,
    manifest: Manifest,
}

impl Engine for ClusterEngine {
    fn name(&self) -> &str {
        "cluster"
    }

    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        let inner = &self.inner;
        let settings = &inner.settings;
        let driver = inner.driver().map_err(|error| NodeError::new(error.0))?;
        let request = RayRequest::for_node(spec.capabilities.as_ref());
        let number = inner.placed.fetch_add(1, Ordering::SeqCst);
        let name = format!("remotemedia-{}-{number}-{}", inner.tag, spec.id);
        let placed = driver
            .call(
                "place",
                &spec.id,
                json!({
                    "request": request,
                    "name": name,
                    "executable": settings.worker.executable(),
                    "token": inner.token,
                    "profile": request.worker_profile(spec.capabilities.as_ref()),
                    "timeout_s": settings.place_timeout.as_secs_f64(),
                }),
                // Ray bounds the start itself; this guards against a driver that hangs.
                settings.place_timeout + Duration::from_secs(30),
            )
            .map_err(|why| {
                NodeError::new(format!(
                    "the Ray cluster {} could not place it ({request}): {why}",
                    settings.address
                ))
            })?;
        let address = placed["address"].as_str().unwrap_or_default().to_owned();
        tracing::info!(target: "remotemedia_cluster", node = %spec.id, actor = %name, worker = %address, "placed on the Ray cluster");
        let mut node = ClusterNode {
            inner: Arc::clone(inner),
            id: spec.id.clone(),
            node: None,
        };
        let engine = inner
            .hosts
            .engine(&address, &self.manifest)
            .map_err(|error| node.explain(NodeError::new(error.0)))?;
        node.node = Some(engine.create(spec).map_err(|error| node.explain(error))?);
        Ok(Box::new(node))
    }
}

/// A node running on a cluster worker: the remote node, plus its actor's lifetime and Ray's
/// reason when the worker is lost.
struct ClusterNode {
    inner: Arc<Inner>,
    id: String,
    /// The remote node on the worker; `None` until created.
    node: Option<Box<dyn NodeInstance>>,
}

impl ClusterNode {
    fn node(&mut self) -> &mut dyn NodeInstance {
        self.node.as_deref_mut().expect("created before use")
    }

    /// `error`, with Ray's reason when the node's actor or worker died (a broken connection,
    /// not the node's own exception, says nothing about why).
    fn explain(&self, mut error: NodeError) -> NodeError {
        // The remote engine's words for a broken connection; the node's own failures (and a
        // worker refusing it) say why themselves.
        if error.kind.is_some() || !error.message.starts_with("lost host") {
            return error;
        }
        let timeout = self.inner.settings.reason_timeout;
        if let Some(Ok(driver)) = self.inner.driver.get()
            && let Some(reason) = driver.lost(&self.id, timeout)
        {
            error.message = format!("{}; Ray: {reason}", error.message);
        }
        error
    }

    /// Kills the node's actor (its worker exits with it).
    fn release(&mut self) {
        if let Some(Ok(driver)) = self.inner.driver.get()
            && let Err(why) = driver.call("release", &self.id, json!({}), Duration::from_secs(30))
        {
            tracing::warn!(target: "remotemedia_cluster", node = %self.id, "could not release its actor: {why}");
        }
    }
}

impl NodeInstance for ClusterNode {
    fn initialize(&mut self) -> Result<(), NodeError> {
        self.node()
            .initialize()
            .map_err(|error| self.explain(error))
    }

    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.node()
            .process(item, out)
            .map_err(|error| self.explain(error))
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.node().flush(out).map_err(|error| self.explain(error))
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        let cleaned = match self.node.as_deref_mut() {
            Some(node) => node.cleanup(),
            None => Ok(()),
        };
        self.release();
        cleaned
    }

    fn arrivals(&self) -> Option<crossbeam_channel::Receiver<()>> {
        self.node.as_deref().and_then(NodeInstance::arrivals)
    }

    fn deliver(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.node()
            .deliver(out)
            .map_err(|error| self.explain(error))
    }

    fn settle(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.node().settle(out).map_err(|error| self.explain(error))
    }
}

impl Drop for ClusterNode {
    /// A node whose creation failed half-way still gives its actor back.
    fn drop(&mut self) {
        if self.node.is_none() {
            self.release();
        }
    }
}

/// `bytes` random bytes from the operating system, as hex.
fn random_hex(bytes: usize) -> Result<String, ClusterError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|error| ClusterError(format!("no randomness for a token: {error}")))?;
    Ok(buffer.iter().map(|byte| format!("{byte:02x}")).collect())
}
