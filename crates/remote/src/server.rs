//! The service behind `remotemedia serve`: runs nodes on behalf of other remotemedia runtimes.
//!
//! Every `RunNode` stream gets a thread of its own while it is open (node instances live and die
//! on one thread, as in the executor; threads are reused, see `workers`). The node is created by this server's own engines — its catalogue and its
//! `--python-path` — after checking the node's requirements against this machine; a client names
//! a node type and sends values, never code.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use remotemedia_core::engine::{Emitter, Engine, Interrupt, NodeInstance, NodeSpec, Stopped};
use remotemedia_core::engines::LocalEngines;
use remotemedia_core::executor::Phase;
use remotemedia_core::manifest::{Isolation, Manifest, Metadata, NodeManifest};
use remotemedia_core::placement::{
    self, ClassFinding, ClassProbe, EngineKind, MachineCapabilities, NativeFinding, NoClassProbe,
    Plan, PlanOptions,
};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::Token;
use crate::convert;
use crate::proto::node_request::Kind as RequestKind;
use crate::proto::node_response::Kind as ResponseKind;
use crate::proto::remote_nodes_server::{RemoteNodes, RemoteNodesServer};
use crate::proto::{self, NodeRequest, NodeResponse};
use crate::workers::Workers;
use crate::{DEFAULT_MAX_MESSAGE_BYTES, PROTOCOL_VERSION};

/// Responses a node may get ahead of a slow client before it waits (backpressure).
const RESPONSE_BUFFER: usize = 16;
/// The most items a client may have in flight on one node stream (`Created.window`): enough to
/// keep a node busy over a round trip of many small items; the bytes in flight are bounded by
/// HTTP/2 flow control and the client's own byte budget.
const MAX_WINDOW: u32 = 256;
/// How long open streams get to finish after SIGINT/SIGTERM before the server exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen; port 0 picks a free one (reported to `serve`'s callback).
    pub listen: SocketAddr,
    /// The token every call must carry; `None` admits everyone.
    pub token: Option<Token>,
    /// The machine nodes are checked against and that `Describe` reports.
    pub machine: MachineCapabilities,
    /// The engines nodes run on: this server's catalogue and Python path, never the client's.
    /// Give it one shared interpreter for all node streams: an interpreter per stream would add
    /// its start-up to every stream, and RustPython does not give back all of a dropped
    /// interpreter's memory (measured: a few MB per stream).
    pub engines: Arc<dyn LocalEngines>,
    /// PEM certificate chain and private key: serve over TLS.
    pub tls: Option<TlsIdentity>,
    /// The largest message accepted or sent, in bytes.
    pub max_message_bytes: usize,
    /// Node streams open at once; more are refused with RESOURCE_EXHAUSTED.
    pub max_nodes: usize,
    /// Serve one run's node streams, then stop: once the streams opened have all ended, when none
    /// opens within [`ONE_RUN_START_TIMEOUT`], or when this process's standard input closes (the
    /// process that started it is gone). A worker placed on a cluster for one run
    /// (`serve --one-run`) thus never outlives the run, however its client or its starter ended.
    pub one_run: bool,
    /// The least isolation of every node (`process`, `sandbox`): a crash or memory blow-up then
    /// ends that node's worker, not the server. A client can ask for more for its node.
    pub isolation: Isolation,
}

/// How long a `one_run` server waits for its first node stream before it stops.
pub const ONE_RUN_START_TIMEOUT: Duration = Duration::from_secs(60);

impl ServeConfig {
    /// Serve on `listen` for `machine`, running nodes on `engines`, with no token, no TLS and the
    /// default limits.
    pub fn new(
        listen: SocketAddr,
        machine: MachineCapabilities,
        engines: Arc<dyn LocalEngines>,
    ) -> Self {
        ServeConfig {
            listen,
            token: None,
            machine,
            engines,
            tls: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_nodes: 256,
            one_run: false,
            isolation: Isolation::None,
        }
    }
}

/// A PEM certificate chain and its private key.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity(..)")
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the {engine} engine could not start: {message}")]
    Engine { engine: String, message: String },
    #[error("invalid TLS certificate or key: {0}")]
    Tls(String),
    #[error("this build of remotemedia has no TLS support (built without the `tls` feature)")]
    TlsUnsupported,
    #[error("the server failed: {0}")]
    Transport(String),
    #[error("standard input closed: whoever started this one-run worker is gone")]
    StarterGone,
}

/// Serves until SIGINT or SIGTERM. `listening` is called with the bound address once clients can
/// connect (the CLI prints it: with port 0 it is how callers learn the port).
pub fn serve(config: ServeConfig, listening: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    serve_until(config, listening, wait_for_signal())
}

/// [`serve`] until `stop` completes instead of until a signal (for embedding and tests).
pub fn serve_until(
    config: ServeConfig,
    listening: impl FnOnce(SocketAddr),
    stop: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("remotemedia-serve")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let service = NodeService::new(&config, runtime.handle().clone())?;
    let shared = Arc::clone(&service.shared);
    let one_run = config.one_run;
    runtime.block_on(async move {
        let serving = run_server(config, service, listening, async move {
            tokio::select! {
                () = stop => {}
                () = run_served(&shared), if one_run => {
                    tracing::info!("the run's node streams ended: stopping (--one-run)");
                }
            }
        });
        tokio::select! {
            served = serving => served,
            // No grace for open streams: the node is no longer placed here.
            () = stdin_closed(), if one_run => Err(ServeError::StarterGone),
        }
    })
}

/// Completes when this process's standard input reaches its end (or cannot be read).
async fn stdin_closed() {
    let (closed, when_closed) = tokio::sync::oneshot::channel::<()>();
    let watcher = std::thread::Builder::new()
        .name("stdin watch".to_owned())
        .spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = closed.send(());
        });
    if watcher.is_ok() {
        let _ = when_closed.await;
    }
}

/// Completes once a node stream was opened and every one has ended since, or when none opened
/// within [`ONE_RUN_START_TIMEOUT`].
async fn run_served(shared: &Shared) {
    let started = tokio::time::Instant::now();
    loop {
        let ended = shared.ended.notified();
        let (opened, active) = (
            shared.opened.load(Ordering::SeqCst),
            shared.active.load(Ordering::SeqCst),
        );
        if opened > 0 && active == 0 {
            return;
        }
        if opened == 0 && started.elapsed() >= ONE_RUN_START_TIMEOUT {
            tracing::warn!("no node stream within {ONE_RUN_START_TIMEOUT:?}: stopping (--one-run)");
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), ended).await;
    }
}

async fn run_server(
    config: ServeConfig,
    service: NodeService,
    listening: impl FnOnce(SocketAddr),
    stop_requested: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    use tokio_stream::StreamExt as _;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.listen,
        source,
    })?;
    // Items are small and latency matters: no Nagle delay.
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|accepted| {
        if let Ok(stream) = &accepted {
            let _ = stream.set_nodelay(true);
        }
        accepted
    });
    let server = RemoteNodesServer::new(service)
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(5)));
    if let Some(identity) = &config.tls {
        builder = with_tls(builder, identity)?;
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(builder.add_service(server).serve_with_incoming_shutdown(
        incoming,
        async {
            let _ = stopped.await;
        },
    ));
    listening(local);
    stop_requested.await;
    tracing::info!("stopping: no new connections; open node streams get {SHUTDOWN_GRACE:?}");
    let _ = stop.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, serving).await {
        Ok(Ok(Ok(()))) | Err(_) => Ok(()),
        Ok(Ok(Err(error))) => Err(ServeError::Transport(error.to_string())),
        Ok(Err(join)) => Err(ServeError::Transport(join.to_string())),
    }
}

#[cfg(feature = "tls")]
fn with_tls(
    builder: tonic::transport::Server,
    identity: &TlsIdentity,
) -> Result<tonic::transport::Server, ServeError> {
    use tonic::transport::{Identity, ServerTlsConfig};
    let tls =
        ServerTlsConfig::new().identity(Identity::from_pem(&identity.cert_pem, &identity.key_pem));
    builder
        .tls_config(tls)
        .map_err(|error| ServeError::Tls(crate::error_chain(&error)))
}

#[cfg(not(feature = "tls"))]
fn with_tls(
    _builder: tonic::transport::Server,
    _identity: &TlsIdentity,
) -> Result<tonic::transport::Server, ServeError> {
    Err(ServeError::TlsUnsupported)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The gRPC service: shared by every connection.
struct NodeService {
    shared: Arc<Shared>,
}

struct Shared {
    token: Option<Token>,
    machine: MachineCapabilities,
    plan_options: PlanOptions,
    local_engines: Arc<dyn LocalEngines>,
    /// The embedded interpreter's engine, started with the server: it runs pure-Python nodes and
    /// tells placement what the classes of `auto` nodes need. One for all nodes, so a node stream
    /// starts without a fresh interpreter's start-up time.
    rustpython: Arc<dyn Engine>,
    /// Other engines (CPython), started on first use and kept for the server's life.
    engines: Mutex<HashMap<EngineKind, Arc<dyn Engine>>>,
    active: AtomicUsize,
    /// Node streams opened since the server started.
    opened: AtomicUsize,
    /// Notified whenever a node stream ends.
    ended: tokio::sync::Notify,
    max_nodes: usize,
    /// The least isolation of every node (`ServeConfig::isolation`).
    isolation: Isolation,
    runtime: Handle,
    /// The threads node streams run on.
    workers: Workers,
}

impl NodeService {
    fn new(config: &ServeConfig, runtime: Handle) -> Result<Self, ServeError> {
        let plan_options = PlanOptions::from_env().map_err(|error| ServeError::Engine {
            engine: "python".to_owned(),
            message: error.to_string(),
        })?;
        // Started now: a bad --python-path fails `serve`, not a client, and the first node
        // stream does not wait for the interpreter.
        let engine_failed = |message: String| ServeError::Engine {
            engine: "rustpython".to_owned(),
            message,
        };
        let rustpython = config
            .engines
            .start(&EngineKind::Rustpython, &[])
            .map_err(|error| engine_failed(crate::error_chain(error.as_ref())))?;
        rustpython
            .warm_up()
            .map_err(|error| engine_failed(error.to_string()))?;
        let shared = Shared {
            token: config.token.clone(),
            machine: config.machine.clone(),
            plan_options,
            local_engines: Arc::clone(&config.engines),
            rustpython,
            engines: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            opened: AtomicUsize::new(0),
            ended: tokio::sync::Notify::new(),
            max_nodes: config.max_nodes,
            isolation: config.isolation,
            runtime,
            workers: Workers::new("node stream"),
        };
        Ok(NodeService {
            shared: Arc::new(shared),
        })
    }
}

impl Shared {
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        match &self.token {
            Some(token) if !token.admits(request.metadata()) => Err(Status::unauthenticated(
                "missing or wrong token (give it with --token-file or REMOTEMEDIA_TOKEN)",
            )),
            _ => Ok(()),
        }
    }

    /// The engine of `kind`, started for the first `plan` that needs it.
    fn engine(&self, kind: &EngineKind, plan: &Plan) -> Result<Arc<dyn Engine>, Status> {
        if *kind == EngineKind::Rustpython {
            return Ok(Arc::clone(&self.rustpython));
        }
        let mut engines = self.engines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(engine) = engines.get(kind) {
            return Ok(Arc::clone(engine));
        }
        if !kind.is_local() {
            return Err(Status::failed_precondition(format!(
                "this host cannot run nodes on the {kind} engine"
            )));
        }
        let nodes: Vec<String> = plan.nodes.iter().map(|node| node.id.clone()).collect();
        let engine = self
            .local_engines
            .start(kind, &nodes)
            .map_err(|error| Status::internal(crate::error_chain(error.as_ref())))?;
        engines.insert(kind.clone(), Arc::clone(&engine));
        Ok(engine)
    }

    /// The engine for a node, chosen by this machine's placement; a node whose required
    /// capabilities this machine lacks is refused. A node isolated (by its client's wish or this
    /// server's `--isolate`) gets an engine that creates it in a worker process; the isolation
    /// applied is returned with it, for the client to check.
    fn engine_for(&self, node: &NodeManifest) -> Result<(Arc<dyn Engine>, Isolation), Status> {
        let manifest = Manifest {
            version: "v1".to_owned(),
            metadata: Metadata {
                name: "remote".to_owned(),
                description: None,
                created_at: None,
            },
            nodes: vec![node.clone()],
            connections: Vec::new(),
        };
        let probe = HostProbe {
            classes: self.rustpython.class_probe().unwrap_or(&NoClassProbe),
            engines: self.local_engines.as_ref(),
        };
        let plan = placement::plan_probed(&manifest, &self.machine, &self.plan_options, &probe)
            .map_err(|error| Status::failed_precondition(format!("this host: {error}")))?;
        let kind = &plan.nodes[0].engine;
        let isolation = node.isolation.unwrap_or_default().max(self.isolation);
        if isolation == Isolation::None || !kind.is_local() {
            return Ok((self.engine(kind, &plan)?, Isolation::None));
        }
        let engine = self
            .local_engines
            .start_isolated(kind, isolation)
            .map_err(|error| {
                Status::failed_precondition(format!(
                    "this host: {}",
                    crate::error_chain(error.as_ref())
                ))
            })?;
        Ok((engine, isolation))
    }
}

/// Placement's questions on this host: classes answered by its RustPython interpreter, native
/// support by its engines — so a node this build implements natively runs natively here, as it
/// would in a local run (a node placed on a cluster worker included).
struct HostProbe<'a> {
    classes: &'a dyn ClassProbe,
    engines: &'a dyn LocalEngines,
}

impl ClassProbe for HostProbe<'_> {
    fn probe(&self, node: &NodeManifest) -> ClassFinding {
        self.classes.probe(node)
    }

    fn native(&self, node: &NodeManifest) -> NativeFinding {
        self.engines.native(node)
    }
}

#[tonic::async_trait]
impl RemoteNodes for NodeService {
    async fn describe(
        &self,
        request: Request<proto::DescribeRequest>,
    ) -> Result<Response<proto::DescribeResponse>, Status> {
        self.shared.authorize(&request)?;
        Ok(Response::new(proto::DescribeResponse {
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: PROTOCOL_VERSION,
            machine: Some(convert::encode_machine(&self.shared.machine)),
            active_nodes: self.shared.active.load(Ordering::SeqCst) as u32,
        }))
    }

    type RunNodeStream = ReceiverStream<Result<NodeResponse, Status>>;

    async fn run_node(
        &self,
        request: Request<Streaming<NodeRequest>>,
    ) -> Result<Response<Self::RunNodeStream>, Status> {
        self.shared.authorize(&request)?;
        let peer = request
            .remote_addr()
            .map_or_else(|| "unknown peer".to_owned(), |addr| addr.to_string());
        let slot = Slot::take(&self.shared)?;
        let (responses, receiver) = mpsc::channel(RESPONSE_BUFFER);
        let inbound = request.into_inner();
        let shared = Arc::clone(&self.shared);
        self.shared
            .workers
            .run(move || {
                let _slot = slot;
                Session {
                    shared: &shared,
                    inbound,
                    lookahead: None,
                    responses,
                    held: Held::default(),
                    peer,
                }
                .run();
            })
            .map_err(|error| {
                Status::resource_exhausted(format!("no thread for the node: {error}"))
            })?;
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// Aborts a task when dropped: the watcher holds a sender of the node's responses, which must not
/// outlive the stream's own (the client would never see the stream end).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One of the server's `max_nodes` places, held while a node stream is open.
struct Slot(Arc<Shared>);

impl Slot {
    fn take(shared: &Arc<Shared>) -> Result<Slot, Status> {
        let before = shared.active.fetch_add(1, Ordering::SeqCst);
        shared.opened.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(Arc::clone(shared));
        if before >= shared.max_nodes {
            return Err(Status::resource_exhausted(format!(
                "this host already runs {} nodes, its limit",
                shared.max_nodes
            )));
        }
        Ok(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.ended.notify_waiters();
    }
}

/// How a node stream ended, for the log.
enum Ending {
    Closed,
    ClientGone(String),
    Refused(Status),
}

/// One node stream, on its own thread.
struct Session<'a> {
    shared: &'a Shared,
    inbound: Streaming<NodeRequest>,
    /// The next request, when it had already arrived as the last item started (see
    /// `request_waiting`).
    lookahead: Option<Option<Result<NodeRequest, Status>>>,
    responses: mpsc::Sender<Result<NodeResponse, Status>>,
    /// Answers held back while the client has more items waiting (see `Held`).
    held: Held,
    peer: String,
}

/// Answers held back to leave together. With items waiting (a pipelining client), each answer
/// sent on its own costs a wake-up of the connection's task and a socket write; held ones are
/// written in one go. They are held only while the next request has already arrived, and an
/// item's outputs only while its call is young (`HOLD_LINGER`), as the executor batches outputs.
#[derive(Default)]
struct Held {
    responses: Vec<NodeResponse>,
    /// Set while the item being processed has another request waiting behind it.
    since: Option<std::time::Instant>,
}

/// The most answers held back; then they leave.
const HOLD_MAX: usize = 64;
/// How long into an item's call its outputs may still be held back.
const HOLD_LINGER: Duration = remotemedia_core::executor::DEFAULT_BATCH_LINGER;

impl Held {
    /// Holds `kind` unless it must leave now; then returns everything held, in order.
    fn hold(&mut self, kind: ResponseKind) -> Option<Vec<NodeResponse>> {
        self.responses.push(NodeResponse { kind: Some(kind) });
        let young = self
            .since
            .is_some_and(|since| since.elapsed() < HOLD_LINGER);
        if young && self.responses.len() < HOLD_MAX {
            None
        } else {
            Some(std::mem::take(&mut self.responses))
        }
    }
}

impl Session<'_> {
    fn run(mut self) {
        let open = match self.next_request() {
            Ok(Some(RequestKind::Open(open))) => open,
            Ok(Some(_)) => {
                return self.refuse(Status::invalid_argument(
                    "the first message of a RunNode stream must be `open`",
                ));
            }
            Ok(None) => return,
            Err(Ending::Refused(status)) => return self.refuse(status),
            Err(_) => return,
        };
        let node_id = open.node_id.clone();
        tracing::info!(node = %node_id, node_type = %open.node_type, peer = %self.peer, "node stream opened");
        let window = open.window.clamp(1, MAX_WINDOW);
        let ending = match self.open_node(open) {
            Ok((spec, engine, isolation)) => {
                self.serve_node(&spec, engine.as_ref(), isolation, window)
            }
            Err(status) => Ending::Refused(status),
        };
        match ending {
            Ending::Closed => tracing::info!(node = %node_id, "node stream closed"),
            Ending::ClientGone(why) => {
                tracing::info!(node = %node_id, peer = %self.peer, "client gone ({why}); node cleaned up")
            }
            Ending::Refused(status) => {
                tracing::warn!(node = %node_id, peer = %self.peer, "refused: {}", status.message());
                self.refuse(status);
            }
        }
    }

    /// The spec and the engine for the node a client asks for.
    fn open_node(
        &self,
        open: proto::OpenNode,
    ) -> Result<(NodeSpec, Arc<dyn Engine>, Isolation), Status> {
        let (node, spec) = convert::decode_open(open)
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        let (engine, isolation) = self.shared.engine_for(&node)?;
        Ok((spec, engine, isolation))
    }

    fn serve_node(
        &mut self,
        spec: &NodeSpec,
        engine: &dyn Engine,
        isolation: Isolation,
        window: u32,
    ) -> Ending {
        let mut node = match engine.create(spec) {
            Ok(node) => node,
            Err(error) => {
                // Nothing to clean up: wait for the client to close.
                if let Err(gone) = self.reply(failure(Phase::Create, &error)) {
                    return gone;
                }
                return self.until_closed(None);
            }
        };
        // A client that goes away while the node is busy in a call interrupts it, where its engine
        // can: the call ends, `cleanup` runs and the node's slot is freed.
        let _watch = node
            .interrupter()
            .map(|interrupter| self.interrupt_when_client_gone(interrupter));
        let created = ResponseKind::Created(proto::Created {
            engine: engine.name().to_owned(),
            window,
            isolation: convert::encode_isolation(Some(isolation)).into(),
        });
        if let Err(gone) = self.reply(created) {
            return self.clean_up(node.as_mut(), gone);
        }
        let initialized = match node.initialize() {
            Ok(()) => ResponseKind::Initialized(proto::Initialized {}),
            Err(error) => failure(Phase::Initialize, &error),
        };
        let failed = matches!(initialized, ResponseKind::Failure(_));
        if let Err(gone) = self.reply(initialized) {
            return self.clean_up(node.as_mut(), gone);
        }
        if failed {
            return self.until_closed(Some(node.as_mut()));
        }
        self.stream_items(node.as_mut())
    }

    /// Interrupts the node once the client has gone (its response stream dropped), until the
    /// returned guard is dropped.
    fn interrupt_when_client_gone(&self, interrupter: Arc<dyn Interrupt>) -> AbortOnDrop {
        let responses = self.responses.clone();
        AbortOnDrop(self.shared.runtime.spawn(async move {
            responses.closed().await;
            interrupter.interrupt();
        }))
    }

    fn stream_items(&mut self, node: &mut dyn NodeInstance) -> Ending {
        let mut flushed = false;
        // After a failure in `process` the client stops: items it had already sent are skipped.
        let mut failed = false;
        let mut items = 0u64;
        loop {
            let request = match self.next_request() {
                Ok(Some(request)) => request,
                Ok(None) => {
                    // The client ended its stream without `close`: finish the node properly.
                    if !flushed && let Err(gone) = self.flush(node) {
                        return self.clean_up(node, gone);
                    }
                    return self.close(node);
                }
                Err(ending) => return self.clean_up(node, ending),
            };
            let outcome = match request {
                RequestKind::Item(_) if failed => continue,
                RequestKind::Item(value) => {
                    items += 1;
                    let value = match convert::decode_value(value, &format!("item #{items}")) {
                        Ok(value) => value,
                        Err(error) => {
                            let status = Status::invalid_argument(error.to_string());
                            return self.clean_up(node, Ending::Refused(status));
                        }
                    };
                    // Answers wait for the next item's only while it has already arrived.
                    self.held.since = self.request_waiting().then(std::time::Instant::now);
                    let mut emitter = WireEmitter {
                        responses: &self.responses,
                        held: &mut self.held,
                    };
                    let done = match node.process(value, &mut emitter) {
                        Ok(()) => ResponseKind::ItemDone(proto::ItemDone {}),
                        Err(error) => {
                            failed = true;
                            failure(Phase::Process, &error)
                        }
                    };
                    if failed {
                        self.reply(done)
                    } else {
                        match self.held.hold(done) {
                            Some(due) => send_all(&self.responses, due)
                                .map_err(|_| Ending::ClientGone("stopped reading".to_owned())),
                            None => Ok(()),
                        }
                    }
                }
                RequestKind::Flush(_) => {
                    flushed = true;
                    self.flush(node)
                }
                RequestKind::Close(_) => return self.close(node),
                RequestKind::Open(_) => {
                    let status = Status::invalid_argument("`open` may only come first");
                    return self.clean_up(node, Ending::Refused(status));
                }
            };
            if let Err(gone) = outcome {
                return self.clean_up(node, gone);
            }
        }
    }

    fn flush(&mut self, node: &mut dyn NodeInstance) -> Result<(), Ending> {
        self.held.since = None;
        let mut emitter = WireEmitter {
            responses: &self.responses,
            held: &mut self.held,
        };
        let done = match node.flush(&mut emitter) {
            Ok(()) => ResponseKind::Flushed(proto::Flushed {}),
            Err(error) => failure(Phase::Flush, &error),
        };
        self.reply(done)
    }

    /// Cleans the node up at the client's request and says how it went.
    fn close(&mut self, node: &mut dyn NodeInstance) -> Ending {
        let cleanup_failure = node
            .cleanup()
            .err()
            .map(|error| convert::encode_failure(Phase::Cleanup, &error));
        match self.reply(ResponseKind::Closed(proto::Closed { cleanup_failure })) {
            Ok(()) => Ending::Closed,
            Err(gone) => gone,
        }
    }

    /// After a failure to create or initialize: only `close` (or the client leaving) remains.
    fn until_closed(&mut self, node: Option<&mut dyn NodeInstance>) -> Ending {
        let ending = match self.next_request() {
            Ok(Some(RequestKind::Close(_)) | None) => {
                return match node {
                    Some(node) => self.close(node),
                    None => match self.reply(ResponseKind::Closed(proto::Closed::default())) {
                        Ok(()) => Ending::Closed,
                        Err(gone) => gone,
                    },
                };
            }
            Ok(Some(_)) => Ending::Refused(Status::failed_precondition(
                "the node failed to start; only `close` is accepted",
            )),
            Err(ending) => ending,
        };
        match node {
            Some(node) => self.clean_up(node, ending),
            None => ending,
        }
    }

    /// Cleans up after the stream broke or was refused; nothing more is said to the client.
    fn clean_up(&mut self, node: &mut dyn NodeInstance, ending: Ending) -> Ending {
        if let Err(error) = node.cleanup() {
            tracing::warn!(peer = %self.peer, "node cleanup failed after the stream ended: {error}");
        }
        ending
    }

    /// Whether the next request has already arrived; it is kept for `next_request`.
    fn request_waiting(&mut self) -> bool {
        use tokio_stream::Stream as _;
        if self.lookahead.is_none() {
            let _entered = self.shared.runtime.enter();
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            // Polling once is safe: the stream keeps its state between polls.
            if let std::task::Poll::Ready(next) =
                std::pin::Pin::new(&mut self.inbound).poll_next(&mut context)
            {
                self.lookahead = Some(next);
            }
        }
        self.lookahead.is_some()
    }

    fn next_request(&mut self) -> Result<Option<RequestKind>, Ending> {
        let next = match self.lookahead.take() {
            Some(next) => next,
            None => {
                // Nothing more to wait for: what is held leaves before this waits.
                self.send_held()?;
                self.shared
                    .runtime
                    .block_on(tokio_stream::StreamExt::next(&mut self.inbound))
            }
        };
        match next.transpose() {
            Ok(Some(NodeRequest { kind: Some(kind) })) => Ok(Some(kind)),
            Ok(Some(NodeRequest { kind: None })) => Err(Ending::Refused(Status::invalid_argument(
                "a request with no kind set",
            ))),
            Ok(None) => Ok(None),
            // Undecodable or oversized messages are the client's fault; say so. A message over the
            // limit (tonic's decoder says OUT_OF_RANGE) is RESOURCE_EXHAUSTED, as gRPC itself
            // reports one: the client can tell "too large" from "malformed" by the code.
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
                ) && !status.message().contains("transport") =>
            {
                Err(Ending::Refused(Status::resource_exhausted(format!(
                    "request too large: {}",
                    status.message()
                ))))
            }
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Internal | tonic::Code::InvalidArgument
                ) && !status.message().contains("transport") =>
            {
                Err(Ending::Refused(Status::invalid_argument(format!(
                    "malformed request: {}",
                    status.message()
                ))))
            }
            Err(status) => Err(Ending::ClientGone(status.message().to_owned())),
        }
    }

    /// Sends `kind`, after whatever is held.
    fn reply(&mut self, kind: ResponseKind) -> Result<(), Ending> {
        self.send_held()?;
        send(&self.responses, kind).map_err(|_| Ending::ClientGone("stopped reading".to_owned()))
    }

    fn send_held(&mut self) -> Result<(), Ending> {
        send_all(&self.responses, std::mem::take(&mut self.held.responses))
            .map_err(|_| Ending::ClientGone("stopped reading".to_owned()))
    }

    fn refuse(&mut self, status: Status) {
        let _ = self.send_held();
        let _ = self.responses.blocking_send(Err(status));
    }
}

/// A node's failure for the client, bounded ([`NodeError::bounded`]) so that it always fits in one
/// message and arrives as that node's error, whatever value its message quotes.
///
/// [`NodeError::bounded`]: remotemedia_core::engine::NodeError::bounded
fn failure(phase: Phase, error: &remotemedia_core::engine::NodeError) -> ResponseKind {
    ResponseKind::Failure(convert::encode_failure(phase, &error.clone().bounded()))
}

fn send(
    responses: &mpsc::Sender<Result<NodeResponse, Status>>,
    kind: ResponseKind,
) -> Result<(), Stopped> {
    responses
        .blocking_send(Ok(NodeResponse { kind: Some(kind) }))
        .map_err(|_| Stopped)
}

fn send_all(
    responses: &mpsc::Sender<Result<NodeResponse, Status>>,
    held: Vec<NodeResponse>,
) -> Result<(), Stopped> {
    held.into_iter()
        .try_for_each(|response| responses.blocking_send(Ok(response)))
        .map_err(|_| Stopped)
}

/// Sends a node's outputs to the client as they are produced (or held a little, see `Held`);
/// waits while the client is behind.
struct WireEmitter<'a> {
    responses: &'a mpsc::Sender<Result<NodeResponse, Status>>,
    held: &'a mut Held,
}

impl Emitter for WireEmitter<'_> {
    fn emit(&mut self, item: remotemedia_core::value::Value) -> Result<(), Stopped> {
        match self
            .held
            .hold(ResponseKind::Output(convert::encode_value(&item)))
        {
            Some(due) => send_all(self.responses, due),
            None => Ok(()),
        }
    }
}
