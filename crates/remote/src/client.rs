//! The client side: [`RemoteHosts`] checks hosts at plan time and gives the [`Engine`] whose
//! nodes run on a `remotemedia serve` host.
//!
//! A remote node is a [`NodeInstance`] like any other for the executor: `create` opens a `RunNode`
//! stream (connecting with a timeout and a few retries, backing off exponentially), `process` sends
//! an item without waiting for its answer (up to a window of items in flight, see
//! [`ClientOptions::window`]) and the outputs are emitted as the host streams them back, in order;
//! `flush` and `cleanup` finish the stream. A host that goes away fails the call in progress at once (loopback, a reset
//! connection) or within a few seconds (HTTP/2 keepalive pings), naming the host; the executor
//! then names the node, keeps the outputs already written and cleans every node up.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use remotemedia_core::engine::{Emitter, Engine, ItemTag, NodeError, NodeInstance, NodeSpec};
use remotemedia_core::hosts::{HostConnector, HostError};
use remotemedia_core::manifest::{Capabilities, Isolation, Manifest, RuntimeHint};
use remotemedia_core::placement::MachineCapabilities;
use remotemedia_core::value::{MAX_DEPTH, too_deep};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status, Streaming};

use crate::auth::Token;
use crate::convert;
use crate::proto::node_request::Kind as RequestKind;
use crate::proto::node_response::Kind as ResponseKind;
use crate::proto::remote_nodes_client::RemoteNodesClient;
use crate::proto::{self, NodeRequest, NodeResponse};
use crate::{DEFAULT_MAX_MESSAGE_BYTES, PROTOCOL_VERSION, error_chain};

/// How clients connect. `ClientOptions::default()` suits a LAN: a 3 s connect timeout, 4 attempts
/// 0.2 s, 0.4 s, 0.8 s apart, keepalive pings every 2 s that fail a silent host 3 s later.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Presented to every host (`authorization: Bearer …`).
    pub token: Option<Token>,
    /// A PEM CA certificate: connect over TLS, trusting hosts whose certificate it signed.
    pub tls_ca: Option<Vec<u8>>,
    /// Longest wait for one TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Connection attempts before a node fails (at run time).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles for every further one.
    pub first_backoff: Duration,
    /// Connection attempts when checking a host at plan time (kept short: nothing runs yet).
    pub plan_attempts: u32,
    /// Longest wait for a host's `Describe` answer at plan time.
    pub describe_timeout: Duration,
    /// Interval of HTTP/2 keepalive pings; a host that does not answer one within
    /// `keepalive_timeout` is considered gone.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// Longest wait for a host to confirm a node's cleanup.
    pub close_timeout: Duration,
    /// The largest message sent or accepted, in bytes.
    pub max_message_bytes: usize,
    /// Items a remote node may have in flight (sent, not yet answered): pipelining hides the
    /// round trip, so many small items cost little more than local ones. The host may grant
    /// fewer (`Created.window`); 1 is one item per round trip.
    pub window: u32,
    /// The most encoded bytes of items in flight per node, however many items that is (one item
    /// is always allowed): large frames do not pile up in memory.
    pub window_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            token: None,
            tls_ca: None,
            connect_timeout: Duration::from_secs(3),
            attempts: 4,
            first_backoff: Duration::from_millis(200),
            plan_attempts: 2,
            describe_timeout: Duration::from_secs(3),
            keepalive_interval: Duration::from_secs(2),
            keepalive_timeout: Duration::from_secs(3),
            close_timeout: Duration::from_secs(30),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            window: DEFAULT_WINDOW,
            window_bytes: DEFAULT_WINDOW_BYTES,
        }
    }
}

/// Items in flight per remote node unless configured: measured over loopback, 64 small items keep
/// both ends busy (see docs/remote.md).
pub const DEFAULT_WINDOW: u32 = 64;

/// Encoded bytes in flight per remote node unless configured: a few large frames (audio, video)
/// at most, 16 MiB.
pub const DEFAULT_WINDOW_BYTES: usize = 16 * 1024 * 1024;

/// Reaches `remotemedia serve` hosts over gRPC; plug it into the runtime's
/// [`Config::hosts`](remotemedia_core::pipeline::Config::hosts).
#[derive(Debug, Clone)]
pub struct RemoteHosts {
    client: Arc<Client>,
}

struct Client {
    options: ClientOptions,
    /// Drives the connections; node calls block on it from their stage threads.
    runtime: tokio::runtime::Runtime,
    /// One HTTP/2 connection per host, shared by all its nodes.
    channels: Mutex<HashMap<String, Channel>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RemoteHosts {
    /// A client with `options`; nothing connects until a host is used.
    pub fn new(options: ClientOptions) -> Result<RemoteHosts, HostError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("remotemedia-client")
            .enable_all()
            .build()
            .map_err(|error| HostError(format!("cannot start the network runtime: {error}")))?;
        Ok(RemoteHosts {
            client: Arc::new(Client {
                options,
                runtime,
                channels: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl HostConnector for RemoteHosts {
    fn describe(&self, host: &str) -> Result<MachineCapabilities, HostError> {
        let client = &self.client;
        client.runtime.block_on(async {
            let channel = client.channel(host, client.options.plan_attempts).await?;
            let mut request = Request::new(proto::DescribeRequest {});
            client.authorize(&mut request);
            let mut grpc = client.grpc(channel);
            let answer = tokio::time::timeout(client.options.describe_timeout, grpc.describe(request))
                .await
                .map_err(|_| {
                    HostError(format!(
                        "no answer within {:?}",
                        client.options.describe_timeout
                    ))
                })?
                .map_err(|status| HostError(describe_status(&status)))?
                .into_inner();
            if answer.protocol_version != PROTOCOL_VERSION {
                return Err(HostError(format!(
                    "it speaks protocol version {} (remotemedia {}); this remotemedia speaks {PROTOCOL_VERSION}",
                    answer.protocol_version, answer.server_version
                )));
            }
            let machine = answer
                .machine
                .ok_or_else(|| HostError("it did not describe its machine".to_owned()))?;
            convert::decode_machine(machine)
                .map_err(|error| HostError(format!("its machine description is malformed: {error}")))
        })
    }

    fn engine(&self, host: &str, manifest: &Manifest) -> Result<Arc<dyn Engine>, HostError> {
        let nodes = manifest
            .nodes
            .iter()
            .map(|node| {
                (
                    node.id.clone(),
                    NodeAsks {
                        capabilities: node.capabilities.clone(),
                        hint: node.runtime_hint,
                        isolation: node.isolation.unwrap_or_default(),
                    },
                )
            })
            .collect();
        Ok(Arc::new(RemoteEngine {
            host: host.to_owned(),
            client: Arc::clone(&self.client),
            nodes,
        }))
    }
}

impl Client {
    /// The connection to `host`, made (with retries) on first use.
    async fn channel(&self, host: &str, attempts: u32) -> Result<Channel, HostError> {
        if let Some(channel) = self
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(host)
        {
            return Ok(channel.clone());
        }
        let endpoint = self.endpoint(host)?;
        let mut backoff = self.options.first_backoff;
        let mut attempt = 1;
        let channel = loop {
            match endpoint.connect().await {
                Ok(channel) => break channel,
                Err(error) if attempt < attempts => {
                    tracing::debug!(
                        "connecting to {host} (attempt {attempt} of {attempts}) failed: {}; retrying in {backoff:?}",
                        error_chain(&error)
                    );
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(error) => {
                    let tries = if attempts == 1 {
                        String::new()
                    } else {
                        format!(" ({attempts} attempts)")
                    };
                    return Err(HostError(format!(
                        "cannot connect{tries}: {}",
                        error_chain(&error)
                    )));
                }
            }
        };
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host.to_owned(), channel.clone());
        Ok(channel)
    }

    fn endpoint(&self, host: &str) -> Result<Endpoint, HostError> {
        let scheme = if self.options.tls_ca.is_some() {
            "https"
        } else {
            "http"
        };
        let endpoint = Endpoint::from_shared(format!("{scheme}://{host}"))
            .map_err(|error| HostError(format!("`{host}` is not a host:port address: {error}")))?
            .connect_timeout(self.options.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(self.options.keepalive_interval)
            .keep_alive_timeout(self.options.keepalive_timeout)
            .keep_alive_while_idle(true);
        match &self.options.tls_ca {
            None => Ok(endpoint),
            Some(ca) => with_tls(endpoint, ca),
        }
    }

    fn grpc(&self, channel: Channel) -> RemoteNodesClient<Channel> {
        RemoteNodesClient::new(channel)
            .max_decoding_message_size(self.options.max_message_bytes)
            .max_encoding_message_size(self.options.max_message_bytes)
    }

    fn authorize<T>(&self, request: &mut Request<T>) {
        if let Some(token) = &self.options.token {
            token.attach(request.metadata_mut());
        }
    }
}

#[cfg(feature = "tls")]
fn with_tls(endpoint: Endpoint, ca: &[u8]) -> Result<Endpoint, HostError> {
    use tonic::transport::{Certificate, ClientTlsConfig};
    endpoint
        .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)))
        .map_err(|error| HostError(format!("invalid TLS settings: {}", error_chain(&error))))
}

#[cfg(not(feature = "tls"))]
fn with_tls(_endpoint: Endpoint, _ca: &[u8]) -> Result<Endpoint, HostError> {
    Err(HostError(
        "this build of remotemedia has no TLS support (built without the `tls` feature)".to_owned(),
    ))
}

/// A gRPC status for people: what the host said, or how the connection broke.
fn describe_status(status: &Status) -> String {
    if let Some(cause) = connection_failure(status) {
        return format!("the connection broke ({cause})");
    }
    match status.code() {
        tonic::Code::Unauthenticated => format!("it refused the token: {}", status.message()),
        tonic::Code::Unavailable => format!("unavailable: {}", status.message()),
        code => format!("{} ({code:?})", status.message()),
    }
}

/// The innermost cause when `status` reports a broken connection rather than a host's answer.
fn connection_failure(status: &Status) -> Option<String> {
    let mut cause = std::error::Error::source(status)?;
    while let Some(deeper) = cause.source() {
        cause = deeper;
    }
    Some(cause.to_string())
}

/// Creates nodes on one host.
struct RemoteEngine {
    host: String,
    client: Arc<Client>,
    /// What each node asks of the host, by id.
    nodes: HashMap<String, NodeAsks>,
}

/// What a node asks of its host: requirements and engine hint (checked against the host's
/// machine), and isolation (checked in the host's answer).
#[derive(Debug, Clone, Default)]
struct NodeAsks {
    capabilities: Option<Capabilities>,
    hint: Option<RuntimeHint>,
    isolation: Isolation,
}

impl Engine for RemoteEngine {
    fn name(&self) -> &str {
        "remote"
    }

    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        let options = &self.client.options;
        let asks = self.nodes.get(&spec.id).cloned().unwrap_or_default();
        if let Some((name, _)) = spec.params.iter().find(|(_, value)| too_deep(value)) {
            return Err(NodeError::new(format!(
                "parameter `{name}` nests lists/dicts more than {MAX_DEPTH} levels deep, more \
                 than a remote node takes"
            )));
        }
        let open = proto::OpenNode {
            node_id: spec.id.clone(),
            node_type: spec.node_type.clone(),
            module: spec.module.clone(),
            params: spec
                .params
                .iter()
                .map(|(name, value)| proto::Param {
                    name: name.clone(),
                    value: Some(convert::encode_value(value)),
                })
                .collect(),
            window: options.window.max(1),
            requirements: Some(convert::encode_requirements(asks.capabilities.as_ref())),
            runtime_hint: convert::encode_hint(asks.hint).into(),
            isolation: convert::encode_isolation(Some(asks.isolation)).into(),
        };
        let mut node = RemoteNode::open(&self.host, &self.client, open)?;
        match node.next("creating the node")? {
            ResponseKind::Created(created) => {
                // A server before pipelining grants nothing (0): one item at a time.
                node.window.items = created.window.clamp(1, options.window.max(1)) as usize;
                // A server predating isolation ignores the request: never run unisolated what
                // asked to be isolated.
                let isolated = convert::decode_isolation(created.isolation, "created.isolation")
                    .unwrap_or_default();
                if isolated < asks.isolation {
                    return Err(NodeError::new(format!(
                        "{} did not isolate the node as asked (`{}`, it applied `{isolated}`); it may predate isolation",
                        self.host, asks.isolation
                    )));
                }
                tracing::debug!(node = %spec.id, host = %self.host, engine = %created.engine, window = node.window.items, "remote node created");
                Ok(Box::new(node))
            }
            ResponseKind::Failure(failure) => Err(node.host_says(failure)),
            other => Err(node.unexpected(&other, "creating the node")),
        }
    }
}

/// What a node's reader task hands over: the host's next message, or why the stream broke.
type Arrival = Result<ResponseKind, String>;

/// Messages of the host read ahead of the node (outputs of items in flight); beyond this the
/// reader waits, and HTTP/2 flow control holds the host back.
const ARRIVALS_BUFFER: usize = 64;

/// A node running on a host, driven through one `RunNode` stream.
///
/// Items are pipelined: `process` sends an item and returns while earlier items are still being
/// answered, up to the window the host granted (and a byte budget). A reader task takes the
/// host's messages off the stream as they come and rings the executor (`arrivals`), which then
/// has the node emit them (`deliver`); so outputs leave as soon as they arrive, in order, and a
/// failure is reported on the next call into the node.
struct RemoteNode {
    host: String,
    client: Arc<Client>,
    /// `None` once closed or broken: nothing more can be sent.
    requests: Option<mpsc::Sender<NodeRequest>>,
    /// The host's messages, in order; `None` once closed or broken.
    arrivals: Option<mpsc::Receiver<Arrival>>,
    /// Rung by the reader after each message (it holds at most one ring).
    doorbell: crossbeam_channel::Receiver<()>,
    window: Window,
    /// Items held to be sent together while more input waits for the node (see `process`).
    outgoing: Vec<NodeRequest>,
}

/// The most items held back to be sent together.
const SEND_BATCH: usize = 16;

/// The items sent and not yet answered, and how many may be.
struct Window {
    /// The most items in flight (granted by the host).
    items: usize,
    /// The most encoded bytes in flight; one item is always allowed, whatever its size.
    bytes: usize,
    /// The encoded size and the tag of each item in flight, oldest first: the host answers in
    /// order, so what arrives belongs to the oldest.
    in_flight: VecDeque<(usize, ItemTag)>,
    bytes_in_flight: usize,
}

impl Window {
    fn has_room(&self, size: usize) -> bool {
        self.in_flight.is_empty()
            || (self.in_flight.len() < self.items && self.bytes_in_flight + size <= self.bytes)
    }

    /// Room for `size` with at most half the window in flight.
    fn half_free(&self, size: usize) -> bool {
        self.in_flight.is_empty()
            || (self.in_flight.len() <= self.items / 2 && self.bytes_in_flight + size <= self.bytes)
    }

    fn sent(&mut self, size: usize, tag: ItemTag) {
        self.in_flight.push_back((size, tag));
        self.bytes_in_flight += size;
    }

    /// The oldest item was answered; false if none was in flight.
    fn answered(&mut self) -> bool {
        match self.in_flight.pop_front() {
            Some((size, _)) => {
                self.bytes_in_flight -= size;
                true
            }
            None => false,
        }
    }
}

impl RemoteNode {
    /// Connects (with retries), opens the node's stream and starts its reader.
    fn open(
        host: &str,
        client: &Arc<Client>,
        open: proto::OpenNode,
    ) -> Result<RemoteNode, NodeError> {
        let options = &client.options;
        let opened = client.runtime.block_on(async {
            let mut backoff = options.first_backoff;
            let mut attempt = 1;
            loop {
                let channel = client
                    .channel(host, options.attempts)
                    .await
                    .map_err(|error| format!("host {host}: {error}"))?;
                // Room for a whole window of items, `flush` and `close`: sending waits only when
                // HTTP/2 flow control holds the stream back.
                let (requests, receiver) = mpsc::channel(options.window.max(1) as usize + 2);
                requests
                    .try_send(NodeRequest {
                        kind: Some(RequestKind::Open(open.clone())),
                    })
                    .expect("an empty channel has room");
                let mut request = Request::new(ReceiverStream::new(receiver));
                client.authorize(&mut request);
                let mut grpc = client.grpc(channel);
                let outcome =
                    tokio::time::timeout(options.connect_timeout, grpc.run_node(request)).await;
                match outcome {
                    Ok(Ok(response)) => return Ok((requests, response.into_inner())),
                    // The connection dropped since it was made (host restarted): reconnect.
                    Ok(Err(status))
                        if status.code() == tonic::Code::Unavailable
                            && attempt < options.attempts =>
                    {
                        tracing::debug!(host = %host, "opening the node stream failed: {}; retrying", describe_status(&status));
                    }
                    Ok(Err(status)) => {
                        return Err(format!("host {host}: {}", describe_status(&status)));
                    }
                    Err(_) if attempt < options.attempts => {}
                    Err(_) => {
                        return Err(format!(
                            "host {host}: no answer to opening the node within {:?}",
                            options.connect_timeout
                        ));
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
        });
        let (requests, responses) = opened.map_err(NodeError::new)?;
        let (arrived, arrivals) = mpsc::channel(ARRIVALS_BUFFER);
        let (ring, doorbell) = crossbeam_channel::bounded(1);
        client
            .runtime
            .spawn(read_responses(responses, arrived, ring));
        Ok(RemoteNode {
            host: host.to_owned(),
            client: Arc::clone(client),
            requests: Some(requests),
            arrivals: Some(arrivals),
            doorbell,
            window: Window {
                items: 1,
                bytes: options.window_bytes,
                in_flight: VecDeque::new(),
                bytes_in_flight: 0,
            },
            outgoing: Vec::with_capacity(SEND_BATCH),
        })
    }

    /// Sends `kind`, after the items held back.
    fn send(&mut self, kind: RequestKind, doing: &str) -> Result<(), NodeError> {
        self.outgoing.push(NodeRequest { kind: Some(kind) });
        self.send_outgoing(doing)
    }

    /// Sends the requests held back, one after the other: the connection's task wakes once for
    /// them all.
    fn send_outgoing(&mut self, doing: &str) -> Result<(), NodeError> {
        if self.outgoing.is_empty() {
            return Ok(());
        }
        let Some(requests) = &self.requests else {
            return Err(self.lost(doing, "the stream is closed"));
        };
        let sent =
            self.outgoing
                .drain(..)
                .try_for_each(|request| match requests.try_send(request) {
                    Ok(()) => Ok(()),
                    Err(mpsc::error::TrySendError::Full(request)) => self
                        .client
                        .runtime
                        .block_on(requests.send(request))
                        .map_err(drop),
                    Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
                });
        if sent.is_err() {
            // The stream ended; what the host said last says why.
            return Err(self.why_ended(doing));
        }
        Ok(())
    }

    /// After the request side closed: the host's failure, or how the stream broke.
    fn why_ended(&mut self, doing: &str) -> NodeError {
        loop {
            match self.next(doing) {
                Err(error) => return error,
                Ok(ResponseKind::Failure(failure)) => return self.host_says(failure),
                Ok(_) => {}
            }
        }
    }

    /// The next thing the host says, waiting for it; a broken stream is an error naming the host.
    fn next(&mut self, doing: &str) -> Result<ResponseKind, NodeError> {
        let Some(arrivals) = &mut self.arrivals else {
            return Err(self.lost(doing, "the stream is closed"));
        };
        match arrivals.blocking_recv() {
            Some(Ok(kind)) => Ok(kind),
            Some(Err(why)) => Err(self.broken(doing, why)),
            None => Err(self.broken(doing, "the stream ended".to_owned())),
        }
    }

    /// What the host said since the last look, without waiting.
    fn try_next(&mut self, doing: &str) -> Result<Option<ResponseKind>, NodeError> {
        let Some(arrivals) = &mut self.arrivals else {
            return Err(self.lost(doing, "the stream is closed"));
        };
        match arrivals.try_recv() {
            Ok(Ok(kind)) => Ok(Some(kind)),
            Ok(Err(why)) => Err(self.broken(doing, why)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => {
                Err(self.broken(doing, "the stream ended".to_owned()))
            }
        }
    }

    /// Takes one message of the item stream: emits an output, counts an `item_done`, turns a
    /// failure into the node's error. Anything else is handed back to the caller.
    fn answer(
        &mut self,
        kind: ResponseKind,
        out: &mut dyn Emitter,
        doing: &str,
    ) -> Result<Option<ResponseKind>, NodeError> {
        match kind {
            ResponseKind::Output(value) => {
                let value = convert::decode_value(value, "output")
                    .map_err(|error| self.broken(doing, format!("the host sent {error}")))?;
                // Outputs belong to the oldest item in flight (the host answers in order).
                let tag = self
                    .window
                    .in_flight
                    .front()
                    .map_or_else(|| out.item(), |&(_, tag)| tag);
                out.emit_for(tag, value)?;
                Ok(None)
            }
            ResponseKind::ItemDone(_) if self.window.answered() => Ok(None),
            ResponseKind::Failure(failure) => Err(self.host_says(failure)),
            other => Ok(Some(other)),
        }
    }

    /// Waits for answers until `until` holds, emitting outputs as they come.
    fn answers_until(
        &mut self,
        out: &mut dyn Emitter,
        doing: &str,
        until: impl Fn(&Window) -> bool,
    ) -> Result<(), NodeError> {
        while !until(&self.window) {
            let kind = self.next(doing)?;
            if let Some(other) = self.answer(kind, out, doing)? {
                return Err(self.unexpected(&other, doing));
            }
        }
        Ok(())
    }

    /// Sends `item` (or holds it, to leave with the next), first waiting for room in the window;
    /// then emits what has arrived.
    fn send_item(
        &mut self,
        item: remotemedia_core::value::Value,
        out: &mut dyn Emitter,
    ) -> Result<(), NodeError> {
        const DOING: &str = "processing an item";
        if too_deep(&item) {
            // Refused here with the engines' own words: the host's decoder would reject it as a
            // malformed message.
            return Err(NodeError::new(format!(
                "the item nests lists/dicts more than {MAX_DEPTH} levels deep, more than a remote \
                 node takes"
            )));
        }
        let item = convert::encode_value(&item);
        let size = prost::Message::encoded_len(&item);
        if !self.window.has_room(size) {
            self.send_outgoing(DOING)?;
            // Full: wait until half of it is free, so the next items leave together rather than
            // one per answer (each send and each answer wakes a thread on both sides).
            self.answers_until(out, DOING, |window| window.half_free(size))?;
        }
        self.outgoing.push(NodeRequest {
            kind: Some(RequestKind::Item(item)),
        });
        self.window.sent(size, out.item());
        // With more input waiting the next call comes at once: its item may leave with this one.
        if !out.more_input() || self.outgoing.len() >= SEND_BATCH {
            self.send_outgoing(DOING)?;
        }
        self.take_arrived(out)
    }

    /// Emits what the host has said since the last look, without waiting.
    fn take_arrived(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        const DOING: &str = "processing an item";
        if self.arrivals.is_none() {
            // Closed or broken: already reported by the step that found it.
            return Ok(());
        }
        while let Some(kind) = self.try_next(DOING)? {
            if let Some(other) = self.answer(kind, out, DOING)? {
                return Err(self.unexpected(&other, DOING));
            }
        }
        Ok(())
    }

    /// A failure met while items are in flight is about the oldest of them: the host answers
    /// in order, and stops at the first item that fails.
    fn attributed(
        &self,
        result: Result<(), NodeError>,
        out: &mut dyn Emitter,
    ) -> Result<(), NodeError> {
        if result.is_err()
            && let Some(&(_, tag)) = self.window.in_flight.front()
        {
            out.failing_on(tag);
        }
        result
    }

    fn host_says(&self, failure: proto::NodeFailure) -> NodeError {
        let mut error = convert::decode_failure(failure);
        error.message = format!("{} (on host {})", error.message, self.host);
        error
    }

    fn unexpected(&mut self, kind: &ResponseKind, doing: &str) -> NodeError {
        let what = kind.name();
        self.broken(doing, format!("the host answered `{what}` out of turn"))
    }

    /// The stream is unusable from now on.
    fn broken(&mut self, doing: &str, why: String) -> NodeError {
        self.requests = None;
        self.arrivals = None;
        self.lost(doing, &why)
    }

    fn lost(&self, doing: &str, why: &str) -> NodeError {
        NodeError::new(format!("lost host {} while {doing}: {why}", self.host))
    }
}

/// The reader of one node stream, a task on the client's runtime (whose thread the connection
/// already wakes): hands each message of the host over as it arrives (waiting while `arrived` is
/// full, so a slow run holds the host back), until the stream ends or the node is gone.
async fn read_responses(
    mut responses: Streaming<NodeResponse>,
    arrived: mpsc::Sender<Arrival>,
    ring: crossbeam_channel::Sender<()>,
) {
    loop {
        let (arrival, last) = match responses.message().await {
            Ok(Some(NodeResponse { kind: Some(kind) })) => (Ok(kind), false),
            Ok(Some(NodeResponse { kind: None })) => (
                Err("the host sent a response with no kind".to_owned()),
                true,
            ),
            Ok(None) => (Err("the host ended the stream".to_owned()), true),
            Err(status) => (Err(describe_status(&status)), true),
        };
        if arrived.send(arrival).await.is_err() {
            return;
        }
        let _ = ring.try_send(());
        if last {
            return;
        }
    }
}

impl NodeInstance for RemoteNode {
    fn initialize(&mut self) -> Result<(), NodeError> {
        match self.next("initializing the node")? {
            ResponseKind::Initialized(_) => Ok(()),
            ResponseKind::Failure(failure) => Err(self.host_says(failure)),
            other => Err(self.unexpected(&other, "initializing the node")),
        }
    }

    fn process(
        &mut self,
        item: remotemedia_core::value::Value,
        out: &mut dyn Emitter,
    ) -> Result<(), NodeError> {
        let sent = self.send_item(item, out);
        self.attributed(sent, out)
    }

    fn arrivals(&self) -> Option<crossbeam_channel::Receiver<()>> {
        Some(self.doorbell.clone())
    }

    fn deliver(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let delivered = self.take_arrived(out);
        self.attributed(delivered, out)
    }

    fn settle(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        const DOING: &str = "processing an item";
        let settled = self
            .send_outgoing(DOING)
            .and_then(|()| self.answers_until(out, DOING, |window| window.in_flight.is_empty()));
        self.attributed(settled, out)
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        const DOING: &str = "flushing the node";
        self.settle(out)?;
        self.send(RequestKind::Flush(proto::Flush {}), DOING)?;
        loop {
            let kind = self.next(DOING)?;
            match self.answer(kind, out, DOING)? {
                None => {}
                Some(ResponseKind::Flushed(_)) => return Ok(()),
                Some(other) => return Err(self.unexpected(&other, DOING)),
            }
        }
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        const DOING: &str = "cleaning the node up";
        if self.requests.is_none() {
            // The connection is gone: the host cleans the node up by itself.
            return Ok(());
        }
        // Items held back when the run stopped are not wanted any more.
        self.outgoing.clear();
        if let Err(error) = self.send(RequestKind::Close(proto::Close {}), DOING) {
            // Already reported by the step that met the broken connection, if any.
            tracing::debug!(host = %self.host, "{error}");
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + self.client.options.close_timeout;
        let result = loop {
            let Some(arrivals) = &mut self.arrivals else {
                break Ok(());
            };
            let arrival = self
                .client
                .runtime
                .block_on(async { tokio::time::timeout_at(deadline, arrivals.recv()).await });
            match arrival {
                Err(_) => {
                    break Err(self.lost(
                        DOING,
                        &format!("no answer within {:?}", self.client.options.close_timeout),
                    ));
                }
                Ok(Some(Ok(ResponseKind::Closed(closed)))) => {
                    break match closed.cleanup_failure {
                        Some(failure) => Err(self.host_says(failure)),
                        None => Ok(()),
                    };
                }
                // Outputs of a step the run stopped waiting for: dropped.
                Ok(Some(Ok(_))) => {}
                Ok(None) => break Ok(()),
                Ok(Some(Err(why))) => {
                    tracing::debug!(host = %self.host, "stream ended while {DOING}: {why}");
                    break Ok(());
                }
            }
        };
        self.requests = None;
        self.arrivals = None;
        result
    }
}
