//! The streaming executor: runs a [`Graph`] of nodes, each on its own thread, joined by bounded
//! channels.
//!
//! The executor is engine-agnostic: it receives one [`PlannedNode`] (a [`NodeSpec`] and the
//! [`Engine`] that runs it) per node and drives every instance through the same lifecycle:
//!
//! 1. **Create and initialize**, on the node's own thread. Every node initializes before any data
//!    flows; if one fails, no data flows and the run fails naming it.
//! 2. **Process** each input. Roots receive every run input; each output goes to every successor
//!    (fan-out, the value is cloned — arrays are shared, not copied); a node with several
//!    predecessors receives their items merged as they arrive (fan-in). Channels are bounded
//!    ([`RunOptions::channel_capacity`]), so a slow node holds its producers back and memory stays
//!    bounded. Order is preserved along every edge. A node with more input already waiting hands
//!    the outputs of its quick calls over in small batches, one wake-up for several items;
//!    without a backlog, or after a slow call, each output leaves at once (see `handoff`).
//! 3. **Flush** once a node's predecessors have all ended, then its successors see end of stream.
//! 4. **Cleanup**, always: after success, after a failure anywhere, after cancellation.
//!
//! The outputs of sink nodes (without successors) are the run's outputs, delivered as they are
//! produced by iterating the [`Run`].
//!
//! A failure in a node's `process` or `flush` ends the run without losing what came before it:
//! no more inputs are fed and no node flushes, but every item in flight that descends from an
//! input *before* the one the node failed on is still processed to the end (each item carries
//! the index of the run input it descends from), so every output those inputs lead to is
//! delivered whatever the timing — after 1000 good inputs and a bad one, the 1000 outputs. Items
//! of the failing input and later ones are skipped; the failed node's successors see its stream
//! end. Then every node cleans up and the run fails naming the node.
//!
//! [`RunHandle::cancel`] stops a run at once instead: every node finishes the call it is in,
//! skips `flush` and cleans up; items between nodes are dropped, but every output a sink node
//! emitted is delivered (and counted in its metrics) — none is dropped after being counted.

mod handoff;
mod metrics;
mod stage;
mod state;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::engine::{Engine, NodeError, NodeSpec};
use crate::graph::Graph;
use crate::value::Value;

use handoff::{Batching, Outbox};
pub use metrics::{NodeMetrics, RunTiming, TimingSummary};
use stage::{Item, Stage, Targets};
use state::RunState;

/// Hand-offs a channel between two nodes holds before its producer blocks, unless configured
/// (see [`RunOptions::channel_capacity`]).
pub const DEFAULT_CHANNEL_CAPACITY: usize = 16;

/// How long an output may wait to leave in a batch, unless configured (see
/// [`RunOptions::batch_linger`]): a batch saves a wake-up (a few µs) per item, which matters for
/// items of a few µs of work; holding outputs any longer would only delay the successors.
pub const DEFAULT_BATCH_LINGER: Duration = Duration::from_micros(500);

/// Why an input could not be read (a bad line in an input file, an I/O error).
pub type InputError = Box<dyn StdError + Send + Sync>;

/// One node, ready to run: what to create and which engine creates it.
#[derive(Clone)]
pub struct PlannedNode {
    /// What the engine needs to create the node.
    pub spec: NodeSpec,
    /// The engine that runs it (chosen by placement).
    pub engine: Arc<dyn Engine>,
}

impl fmt::Debug for PlannedNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedNode")
            .field("spec", &self.spec)
            .field("engine", &self.engine.name())
            .finish()
    }
}

/// A check of the run's outputs ([`RunOptions::output_check`]): `Err` says what is wrong with one,
/// as it continues "its output for input #N …".
pub type OutputCheck = fn(&Value) -> Result<(), String>;

/// How a run is executed.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Hand-offs each node's inbox (and the run's output) holds before producers block.
    ///
    /// A hand-off is one item, or a batch of up to `min(capacity, 8)` items from a producer that
    /// has more input already waiting: so an edge holds at most `capacity × min(capacity, 8)`
    /// items (128 at the default 16; exactly `capacity` items when it is 1 or a producer has no
    /// backlog), plus one batch being gathered by its producer and the rest of one being
    /// processed by its consumer.
    pub channel_capacity: NonZeroUsize,
    /// How long a node with a backlog may gather outputs to hand over in one batch, counted from
    /// the start of the call that produced the first of them; the batch then leaves at the
    /// node's next output or the end of its call. Nodes whose calls take longer send each output
    /// at the end of its call, so their successors work in parallel with them.
    pub batch_linger: Duration,
    /// A check every output of the run must pass, e.g. [`crate::value::check_json`] where the
    /// outputs are written as JSON. An output that fails it fails the sink that emitted it, in
    /// `process` (or `flush`), with the check's reason and the input it descends from; the
    /// outputs before it are delivered.
    pub output_check: Option<OutputCheck>,
    /// The longest a node's `process` (or `flush`) call may take: past it the node fails, naming
    /// the timeout, and is interrupted where its engine can ([`crate::engine::Interrupt`]); where
    /// it cannot, the run stops. `None`: no limit.
    pub node_timeout: Option<Duration>,
    /// Per-node limits by node id (the manifest's `timeout_s`), in place of `node_timeout` for
    /// those nodes.
    pub node_timeouts: HashMap<String, Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            channel_capacity: NonZeroUsize::new(DEFAULT_CHANNEL_CAPACITY).expect("not zero"),
            batch_linger: DEFAULT_BATCH_LINGER,
            output_check: None,
            node_timeout: None,
            node_timeouts: HashMap::new(),
        }
    }
}

/// The run's inputs: a stream of values, read lazily on a thread of its own, so it may block
/// (stdin) or be endless (a live source).
pub struct Inputs(Box<dyn Iterator<Item = Result<Value, InputError>> + Send>);

impl Inputs {
    /// Inputs that cannot fail to read.
    pub fn new<I>(values: I) -> Inputs
    where
        I: IntoIterator<Item = Value>,
        I::IntoIter: Send + 'static,
    {
        Inputs(Box::new(values.into_iter().map(Ok)))
    }

    /// Inputs read from somewhere that can fail. The first error ends the stream there: the
    /// inputs before it are processed to the end, then the run fails with [`RunError::Input`].
    pub fn fallible<I, E>(items: I) -> Inputs
    where
        I: IntoIterator<Item = Result<Value, E>>,
        I::IntoIter: Send + 'static,
        E: Into<InputError>,
    {
        Inputs(Box::new(
            items.into_iter().map(|item| item.map_err(Into::into)),
        ))
    }
}

impl From<Vec<Value>> for Inputs {
    fn from(values: Vec<Value>) -> Self {
        Inputs::new(values)
    }
}

impl fmt::Debug for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Inputs(..)")
    }
}

/// One output of the run: a value emitted by a sink node.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The id of the sink node that emitted it.
    pub sink: Arc<str>,
    /// The value.
    pub value: Value,
}

/// A step of a node's lifecycle, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The engine creating the node (loading its class, passing its params).
    Create,
    /// The node's `initialize`.
    Initialize,
    /// The node's `process`.
    Process,
    /// The node's `flush`.
    Flush,
    /// The node's `cleanup`.
    Cleanup,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Create => "create",
            Phase::Initialize => "initialize",
            Phase::Process => "process",
            Phase::Flush => "flush",
            Phase::Cleanup => "cleanup",
        })
    }
}

/// Why a run failed. When several things fail, the first one is reported (later ones are logged).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A node's code (or its engine) failed.
    #[error("node `{node}` failed in {phase}")]
    Node {
        /// The node's id.
        node: String,
        /// The lifecycle step that failed.
        phase: Phase,
        /// The error, with its exception type and traceback when there is one.
        #[source]
        error: NodeError,
    },
    /// Reading the run's inputs failed.
    #[error("reading the run's inputs failed")]
    Input(#[source] InputError),
    /// The operating system refused a thread.
    #[error("could not start a thread for {what}")]
    Spawn {
        /// What the thread was for.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A stage thread panicked outside node code (a bug in the runtime).
    #[error("the thread running node `{node}` panicked")]
    StagePanicked {
        /// The node's id.
        node: String,
    },
}

impl RunError {
    /// A node's failure, its message and traceback bounded ([`NodeError::bounded`]).
    fn node(node: &str, phase: Phase, error: NodeError) -> RunError {
        RunError::Node {
            node: node.to_owned(),
            phase,
            error: error.bounded(),
        }
    }

    /// The failed node's formatted traceback, when its engine provided one.
    pub fn traceback(&self) -> Option<&str> {
        match self {
            RunError::Node { error, .. } => error.traceback.as_deref(),
            _ => None,
        }
    }
}

/// `error: cause: cause`, for logs.
fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How a run ended without failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Per node, in manifest order.
    pub metrics: Vec<NodeMetrics>,
    /// How long start-up and streaming took.
    pub timing: RunTiming,
    /// The run was cancelled before it could finish; its outputs are partial.
    pub cancelled: bool,
    /// Nodes ended without their `cleanup`: their call did not end at the run's interruption.
    pub cleanups_skipped: Vec<SkippedCleanup>,
}

/// A node its engine had to end without its `cleanup` (see [`crate::engine::Interrupt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCleanup {
    /// The node's id in the manifest.
    pub node: String,
    /// What the engine did instead, and why.
    pub reason: String,
}

/// Starts running `graph`: spawns one thread per node and returns at once.
///
/// `nodes[i]` is the plan of node `i` of the graph. Initialization failures are not returned
/// here but by [`Run::finish`], like every failure while running; this only fails when the
/// operating system refuses a thread.
///
/// # Panics
///
/// When `nodes` does not match the graph's nodes one to one, in order (a bug in the caller).
pub fn start(
    graph: &Graph,
    nodes: Vec<PlannedNode>,
    inputs: impl Into<Inputs>,
    options: &RunOptions,
) -> Result<Run, RunError> {
    assert_eq!(nodes.len(), graph.len(), "one node plan per graph node");
    for (index, plan) in nodes.iter().enumerate() {
        assert_eq!(plan.spec.id, graph.id(index), "node plans in graph order");
    }
    let capacity = options.channel_capacity.get();
    let batching = Batching::new(capacity, options.batch_linger);
    let state = Arc::new(RunState::new(
        nodes.iter().map(|n| n.spec.id.clone()).collect(),
    ));
    let (output_sender, outputs) = crossbeam_channel::bounded(capacity);
    let inboxes: Vec<_> = (0..graph.len())
        .map(|_| crossbeam_channel::bounded::<Vec<Item>>(capacity))
        .collect();
    let (init_reports, init_received) = crossbeam_channel::unbounded();
    let (start_gun, start_line) = crossbeam_channel::bounded::<()>(0);

    let mut stages = Vec::with_capacity(nodes.len());
    for (index, plan) in nodes.into_iter().enumerate() {
        let targets = if graph.successors(index).is_empty() {
            Targets::Output {
                sink: Arc::from(graph.id(index)),
                outbox: Outbox::delivering(output_sender.clone(), batching),
                check: options.output_check,
            }
        } else {
            Targets::Successors(
                graph
                    .successors(index)
                    .iter()
                    .map(|&successor| {
                        Outbox::new(inboxes[successor].0.clone(), batching, state.stop_signal())
                    })
                    .collect(),
            )
        };
        let stage = Stage {
            index,
            spec: plan.spec,
            engine: plan.engine,
            inbox: inboxes[index].1.clone(),
            fed_by_inputs: graph.roots().any(|root| root == index),
            targets,
            state: Arc::clone(&state),
            init_reports: init_reports.clone(),
            start_line: start_line.clone(),
        };
        let spawned = thread::Builder::new()
            .name(format!("node {}", graph.id(index)))
            .spawn(move || stage.run());
        match spawned {
            Ok(handle) => stages.push((index, handle)),
            Err(source) => {
                state.fail(RunError::Spawn {
                    what: format!("node `{}`", graph.id(index)),
                    source,
                });
                break;
            }
        }
    }
    drop(init_reports);

    let roots: Vec<_> = graph
        .roots()
        .map(|root| Outbox::new(inboxes[root].0.clone(), batching, state.stop_signal()))
        .collect();
    drop(inboxes);
    if !state.is_stopping() {
        let feeder_state = Arc::clone(&state);
        let feeder_start = start_line.clone();
        let Inputs(inputs) = inputs.into();
        // Not joined: reading the next input may block (stdin) long after the run has stopped.
        let spawned = thread::Builder::new()
            .name("inputs".to_owned())
            .spawn(move || stage::feed(inputs, roots, &feeder_state, feeder_start));
        if let Err(source) = spawned {
            state.fail(RunError::Spawn {
                what: "the inputs".to_owned(),
                source,
            });
        }
    }
    drop(start_line);

    let timeouts: Vec<Option<Duration>> = (0..state.node_count())
        .map(|index| {
            options
                .node_timeouts
                .get(state.node_id(index))
                .copied()
                .or(options.node_timeout)
        })
        .collect();
    if timeouts.iter().any(Option::is_some) {
        let watched = Arc::clone(&state);
        // Not joined: it ends by itself once the run has finished.
        let spawned = thread::Builder::new()
            .name("node timeouts".to_owned())
            .spawn(move || watch_calls(&watched, &timeouts));
        if let Err(source) = spawned {
            state.fail(RunError::Spawn {
                what: "the node-timeout watch".to_owned(),
                source,
            });
        }
    }

    let supervisor_state = Arc::clone(&state);
    let supervisor = thread::Builder::new()
        .name("run supervisor".to_owned())
        .spawn(move || {
            supervise(&supervisor_state, stages, &init_received, start_gun);
            // The run's output stream ends only now, once every node has cleaned up.
            drop(output_sender);
        })
        .map_err(|source| {
            // The stages were released when the closure was dropped; stop them at once.
            state.fail(RunError::Spawn {
                what: "the run supervisor".to_owned(),
                source,
            });
            state.take_failure().expect("just recorded")
        })?;
    Ok(Run {
        outputs,
        received: Vec::new().into_iter(),
        handle: RunHandle { state },
        supervisor: Some(supervisor),
    })
}

/// Fails each node whose `process` or `flush` call runs past its timeout (once per node), then
/// interrupts it — or, when its engine cannot be interrupted, stops the run, since the node may
/// never return.
fn watch_calls(state: &RunState, timeouts: &[Option<Duration>]) {
    let shortest = timeouts.iter().flatten().min().copied().unwrap_or_default();
    let tick = (shortest / 4).clamp(Duration::from_millis(5), Duration::from_millis(50));
    while !state.is_finished() {
        thread::sleep(tick);
        for (index, timeout) in timeouts.iter().enumerate() {
            let Some(timeout) = *timeout else {
                continue;
            };
            let Some((started, origin, phase)) = state.counters(index).call_in_progress() else {
                continue;
            };
            if state.timed_out(index) || started.elapsed() < timeout {
                continue;
            }
            let error = NodeError::new(format!(
                "it took longer than the node timeout of {} s",
                timeout.as_secs_f64()
            ));
            // Recorded before the interruption, whose own error is then not another failure.
            state.mark_timed_out(index);
            state.fail_at(origin, RunError::node(state.node_id(index), phase, error));
            if !state.interrupt_node(index) {
                state.stop();
            }
        }
    }
}

/// Waits for every stage to initialize, gives the start signal, then waits for every stage to end.
fn supervise(
    state: &RunState,
    stages: Vec<(usize, JoinHandle<()>)>,
    init_received: &Receiver<stage::InitReport>,
    start_gun: crossbeam_channel::Sender<()>,
) {
    for _ in 0..stages.len() {
        match init_received.recv() {
            Ok((_, Ok(()))) => {}
            Ok((index, Err((phase, error)))) => {
                state.fail(RunError::node(state.node_id(index), phase, error));
            }
            Err(_) => break,
        }
    }
    if !state.is_stopping() {
        state.clock().data_flows();
        tracing::debug!("every node initialized; data flows");
    }
    drop(start_gun);
    for (index, handle) in stages {
        if handle.join().is_err() {
            state.fail(RunError::StagePanicked {
                node: state.node_id(index).to_owned(),
            });
        }
    }
    state.mark_finished();
    tracing::debug!("run finished");
}

/// A running pipeline. Iterate it to receive the outputs as they are produced; the iteration ends
/// when every node has cleaned up. Then [`Run::finish`] tells how the run ended.
///
/// Dropping a `Run` before it finished cancels it and waits for the nodes' cleanup.
#[derive(Debug)]
pub struct Run {
    outputs: Receiver<Vec<Output>>,
    /// The rest of the last batch received, handed out one output at a time.
    received: std::vec::IntoIter<Output>,
    handle: RunHandle,
    supervisor: Option<JoinHandle<()>>,
}

/// What [`Run::recv_timeout`] got.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The next output.
    Output(Output),
    /// Nothing within the timeout; the run goes on.
    Timeout,
    /// The run is over (every node cleaned up); call [`Run::finish`].
    Ended,
}

impl Run {
    /// A handle to cancel the run or read its metrics from another thread (e.g. a signal handler).
    pub fn handle(&self) -> RunHandle {
        self.handle.clone()
    }

    /// Stops the run: no more inputs are fed, every node finishes the call it is in, skips
    /// `flush` and cleans up. Outputs produced until then are still delivered.
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// Per-node metrics so far, in manifest order; final once the output stream has ended.
    pub fn metrics(&self) -> Vec<NodeMetrics> {
        self.handle.metrics()
    }

    /// How long the phases reached so far took.
    pub fn timing(&self) -> RunTiming {
        self.handle.timing()
    }

    /// Waits at most `timeout` for the next output.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Received {
        if let Some(output) = self.received.next() {
            return Received::Output(output);
        }
        match self.outputs.recv_timeout(timeout) {
            Ok(batch) => {
                self.received = batch.into_iter();
                self.received
                    .next()
                    .map_or(Received::Timeout, Received::Output)
            }
            Err(RecvTimeoutError::Timeout) => Received::Timeout,
            Err(RecvTimeoutError::Disconnected) => Received::Ended,
        }
    }

    /// Waits for the run to end and tells how it ended. Outputs not yet received are discarded.
    pub fn finish(mut self) -> Result<RunReport, RunError> {
        self.wait();
        let state = &self.handle.state;
        match state.take_failure() {
            Some(error) => Err(error),
            None => Ok(RunReport {
                metrics: state.metrics(),
                timing: state.clock().timing(),
                cancelled: state.was_cancelled(),
                cleanups_skipped: state.cleanups_skipped(),
            }),
        }
    }

    fn wait(&mut self) {
        for _ in self.outputs.iter() {}
        if let Some(supervisor) = self.supervisor.take() {
            // The supervisor only joins threads and records failures; it has no panic to pass on.
            let _ = supervisor.join();
        }
    }
}

impl Iterator for Run {
    type Item = Output;

    fn next(&mut self) -> Option<Output> {
        loop {
            if let Some(output) = self.received.next() {
                return Some(output);
            }
            self.received = self.outputs.recv().ok()?.into_iter();
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.supervisor.is_some() {
            self.handle.cancel();
            self.wait();
        }
    }
}

/// Controls a run from anywhere: cancel it, read its metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RunHandle {
    state: Arc<RunState>,
}

impl RunHandle {
    /// See [`Run::cancel`]. Does nothing once the run is over.
    pub fn cancel(&self) {
        self.state.cancel();
    }

    /// See [`Run::metrics`].
    pub fn metrics(&self) -> Vec<NodeMetrics> {
        self.state.metrics()
    }

    /// See [`Run::timing`].
    pub fn timing(&self) -> RunTiming {
        self.state.clock().timing()
    }

    /// True once every node has cleaned up.
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// True once the run was cancelled (or failed before data flowed): nodes are stopping.
    pub fn is_stopping(&self) -> bool {
        self.state.is_stopping()
    }

    /// The run's failure so far (the one [`Run::finish`] will report), as one line, if any.
    pub fn failure_message(&self) -> Option<String> {
        self.state.failure_message()
    }

    /// The ids of the nodes inside one of their calls (create, initialize, process, flush,
    /// cleanup) now: after a stop, those that have not returned yet.
    pub fn busy_nodes(&self) -> Vec<String> {
        self.state.busy_nodes()
    }

    /// Whether the node with this id can be interrupted inside a call: its engine gave an
    /// [`Interrupt`](crate::engine::Interrupt) when the node was created.
    pub fn interruptible(&self, node: &str) -> bool {
        self.state.interruptible(node)
    }
}
