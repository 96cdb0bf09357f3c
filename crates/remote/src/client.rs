//! The client side: [`RemoteHosts`] checks hosts at plan time and gives the [`Engine`] whose
//! nodes run on a `remotemedia serve` host.
//!
//! A remote node is a [`NodeInstance`] like any other for the executor: `create` opens a `RunNode`
//! stream (connecting with a timeout and a few retries, backing off exponentially), `process` sends
//! one item and emits the outputs as the host streams them back, `flush` and `cleanup` do the same
//! for end of stream. A host that goes away fails the call in progress at once (loopback, a reset
//! connection) or within a few seconds (HTTP/2 keepalive pings), naming the host; the executor
//! then names the node, keeps the outputs already written and cleans every node up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use remotemedia_core::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec};
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
        }
    }
}

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
            requirements: Some(convert::encode_requirements(asks.capabilities.as_ref())),
            runtime_hint: convert::encode_hint(asks.hint).into(),
            isolation: convert::encode_isolation(Some(asks.isolation)).into(),
        };
        let mut node = RemoteNode {
            host: self.host.clone(),
            client: Arc::clone(&self.client),
            requests: None,
            responses: None,
        };
        node.open(open)?;
        match node.next_response("creating the node")? {
            ResponseKind::Created(created) => {
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
                tracing::debug!(node = %spec.id, host = %self.host, engine = %created.engine, "remote node created");
                Ok(Box::new(node))
            }
            ResponseKind::Failure(failure) => Err(node.host_says(failure)),
            other => Err(node.unexpected(&other, "creating the node")),
        }
    }
}

/// A node running on a host, driven through one `RunNode` stream.
struct RemoteNode {
    host: String,
    client: Arc<Client>,
    /// `None` once closed or broken: nothing more can be sent.
    requests: Option<mpsc::Sender<NodeRequest>>,
    responses: Option<Streaming<NodeResponse>>,
}

impl RemoteNode {
    /// Connects (with retries) and opens the node's stream.
    fn open(&mut self, open: proto::OpenNode) -> Result<(), NodeError> {
        let client = Arc::clone(&self.client);
        let options = &client.options;
        let opened = client.runtime.block_on(async {
            let mut backoff = options.first_backoff;
            let mut attempt = 1;
            loop {
                let channel = client
                    .channel(&self.host, options.attempts)
                    .await
                    .map_err(|error| format!("host {}: {error}", self.host))?;
                let (requests, receiver) = mpsc::channel(4);
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
                        tracing::debug!(host = %self.host, "opening the node stream failed: {}; retrying", describe_status(&status));
                    }
                    Ok(Err(status)) => {
                        return Err(format!("host {}: {}", self.host, describe_status(&status)));
                    }
                    Err(_) if attempt < options.attempts => {}
                    Err(_) => {
                        return Err(format!(
                            "host {}: no answer to opening the node within {:?}",
                            self.host, options.connect_timeout
                        ));
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
        });
        let (requests, responses) = opened.map_err(NodeError::new)?;
        self.requests = Some(requests);
        self.responses = Some(responses);
        Ok(())
    }

    fn send(&mut self, kind: RequestKind, doing: &str) -> Result<(), NodeError> {
        let Some(requests) = &self.requests else {
            return Err(self.lost(doing, "the stream is closed"));
        };
        let sent = self
            .client
            .runtime
            .block_on(requests.send(NodeRequest { kind: Some(kind) }));
        if sent.is_err() {
            // The stream ended; the response side says why.
            return Err(match self.next_response(doing) {
                Err(error) => error,
                Ok(other) => self.unexpected(&other, doing),
            });
        }
        Ok(())
    }

    /// The next thing the host says; a broken stream is an error naming the host.
    fn next_response(&mut self, doing: &str) -> Result<ResponseKind, NodeError> {
        let Some(responses) = self.responses.as_mut() else {
            return Err(self.lost(doing, "the stream is closed"));
        };
        let received = self.client.runtime.block_on(responses.message());
        match received {
            Ok(Some(NodeResponse { kind: Some(kind) })) => Ok(kind),
            Ok(Some(NodeResponse { kind: None })) => {
                Err(self.broken(doing, "the host sent a response with no kind".to_owned()))
            }
            Ok(None) => Err(self.broken(doing, "the host ended the stream".to_owned())),
            Err(status) => Err(self.broken(doing, describe_status(&status))),
        }
    }

    /// Reads outputs, emitting each, until `done` says the step is over.
    fn relay(
        &mut self,
        out: &mut dyn Emitter,
        doing: &str,
        done: fn(&ResponseKind) -> bool,
    ) -> Result<(), NodeError> {
        loop {
            match self.next_response(doing)? {
                ResponseKind::Output(value) => {
                    let value = convert::decode_value(value, "output")
                        .map_err(|error| self.broken(doing, format!("the host sent {error}")))?;
                    out.emit(value)?;
                }
                ResponseKind::Failure(failure) => return Err(self.host_says(failure)),
                kind if done(&kind) => return Ok(()),
                other => return Err(self.unexpected(&other, doing)),
            }
        }
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
        self.responses = None;
        self.lost(doing, &why)
    }

    fn lost(&self, doing: &str, why: &str) -> NodeError {
        NodeError::new(format!("lost host {} while {doing}: {why}", self.host))
    }
}

impl NodeInstance for RemoteNode {
    fn initialize(&mut self) -> Result<(), NodeError> {
        match self.next_response("initializing the node")? {
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
        const DOING: &str = "processing an item";
        if too_deep(&item) {
            // Refused here with the engines' own words: the host's decoder would reject it as a
            // malformed message.
            return Err(NodeError::new(format!(
                "the item nests lists/dicts more than {MAX_DEPTH} levels deep, more than a remote \
                 node takes"
            )));
        }
        self.send(RequestKind::Item(convert::encode_value(&item)), DOING)?;
        self.relay(out, DOING, |kind| matches!(kind, ResponseKind::ItemDone(_)))
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        const DOING: &str = "flushing the node";
        self.send(RequestKind::Flush(proto::Flush {}), DOING)?;
        self.relay(out, DOING, |kind| matches!(kind, ResponseKind::Flushed(_)))
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        const DOING: &str = "cleaning the node up";
        if self.requests.is_none() {
            // The connection is gone: the host cleans the node up by itself.
            return Ok(());
        }
        if let Err(error) = self.send(RequestKind::Close(proto::Close {}), DOING) {
            // Already reported by the step that met the broken connection, if any.
            tracing::debug!(host = %self.host, "{error}");
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + self.client.options.close_timeout;
        let result = loop {
            let Some(responses) = self.responses.as_mut() else {
                break Ok(());
            };
            // Timers need the runtime's context: made inside the future, not before it.
            let received = self
                .client
                .runtime
                .block_on(async { tokio::time::timeout_at(deadline, responses.message()).await });
            match received {
                Err(_) => {
                    break Err(self.lost(
                        DOING,
                        &format!("no answer within {:?}", self.client.options.close_timeout),
                    ));
                }
                // Outputs of a step the run stopped waiting for: dropped.
                Ok(Ok(Some(NodeResponse {
                    kind: Some(ResponseKind::Closed(closed)),
                }))) => {
                    break match closed.cleanup_failure {
                        Some(failure) => Err(self.host_says(failure)),
                        None => Ok(()),
                    };
                }
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => break Ok(()),
                Ok(Err(status)) if connection_failure(&status).is_some() => {
                    tracing::debug!(host = %self.host, "connection lost while {DOING}: {}", describe_status(&status));
                    break Ok(());
                }
                Ok(Err(status)) => break Err(self.lost(DOING, &describe_status(&status))),
            }
        };
        self.requests = None;
        self.responses = None;
        result
    }
}
