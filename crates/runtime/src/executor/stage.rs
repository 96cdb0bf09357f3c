//! One stage: the thread that owns one node instance and drives its lifecycle.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, select};

use super::state::RunState;
use super::{InputError, Output, Phase, RunError};
use crate::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec, Stopped};
use crate::value::Value;

/// Where a stage's outputs go.
#[derive(Debug)]
pub(crate) enum Targets {
    /// The inboxes of its successors: every output is sent to each.
    Successors(Vec<Sender<Value>>),
    /// A sink: its outputs are the run's outputs.
    Output {
        sink: Arc<str>,
        sender: Sender<Output>,
    },
}

/// A stage's report once its node is initialized (or failed to be).
pub(crate) type InitReport = (usize, Result<(), (Phase, NodeError)>);

pub(crate) struct Stage {
    pub(crate) index: usize,
    pub(crate) spec: NodeSpec,
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) inbox: Receiver<Value>,
    pub(crate) targets: Targets,
    pub(crate) state: Arc<RunState>,
    pub(crate) init_reports: Sender<InitReport>,
    /// Disconnected when every stage has initialized: the start line for data.
    pub(crate) start_line: Receiver<()>,
}

impl Stage {
    pub(crate) fn run(self) {
        let Stage {
            index,
            spec,
            engine,
            inbox,
            targets,
            state,
            init_reports,
            start_line,
        } = self;
        let node = spec.id.as_str();
        let mut instance = match guarded(|| engine.create(&spec)) {
            Ok(instance) => instance,
            Err(error) => {
                let _ = init_reports.send((index, Err((Phase::Create, error))));
                return;
            }
        };
        let initialized = guarded(|| instance.initialize());
        let ready = initialized.is_ok();
        if ready {
            tracing::debug!(node, engine = engine.name(), "initialized");
        }
        let _ = init_reports.send((
            index,
            initialized.map_err(|error| (Phase::Initialize, error)),
        ));
        drop(init_reports);
        let _ = start_line.recv();

        if ready && state.is_stopping() {
            // Cancelled, or another node failed, before data could flow.
            state.mark_interrupted();
        } else if ready {
            let mut driver = Driver {
                index,
                node,
                instance: instance.as_mut(),
                targets: &targets,
                state: &state,
            };
            driver.stream(&inbox);
        }
        // Successors see end of stream as soon as this node is done, while it cleans up.
        drop(targets);
        drop(inbox);

        // Every created instance is cleaned up, also one whose initialize failed: it may hold
        // half-acquired resources (the SDK's local run does the same).
        match guarded(|| instance.cleanup()) {
            Ok(()) => tracing::debug!(node, "cleaned up"),
            Err(error) => state.record(RunError::node(node, Phase::Cleanup, error)),
        }
    }
}

/// Drives an initialized instance through its stream.
struct Driver<'a> {
    index: usize,
    node: &'a str,
    instance: &'a mut dyn NodeInstance,
    targets: &'a Targets,
    state: &'a RunState,
}

impl Driver<'_> {
    fn stream(&mut self, inbox: &Receiver<Value>) {
        loop {
            if self.state.is_stopping() {
                self.state.mark_interrupted();
                return;
            }
            let item = select! {
                recv(inbox) -> item => item,
                recv(self.state.stop_signal()) -> _ => {
                    self.state.mark_interrupted();
                    return;
                }
            };
            let Ok(item) = item else { break };
            self.state.counters(self.index).count_in();
            if !self.call(Phase::Process, |instance, out| instance.process(item, out)) {
                return;
            }
        }
        // Every predecessor is done; if one stopped early, the stream is not complete.
        if self.state.is_stopping() {
            self.state.mark_interrupted();
            return;
        }
        if self.call(Phase::Flush, |instance, out| instance.flush(out)) {
            tracing::debug!(node = self.node, "flushed");
        }
    }

    /// Calls the node; false when the run must stop (this node failed, or the run is stopping).
    fn call(
        &mut self,
        phase: Phase,
        step: impl FnOnce(&mut dyn NodeInstance, &mut dyn Emitter) -> Result<(), NodeError>,
    ) -> bool {
        let mut emitter = StageEmitter {
            targets: self.targets,
            state: self.state,
            index: self.index,
            blocked: Duration::ZERO,
            stopped: false,
        };
        let started = Instant::now();
        let result = guarded(|| step(&mut *self.instance, &mut emitter));
        self.state
            .counters(self.index)
            .add_call(started.elapsed(), emitter.blocked);
        match result {
            Ok(()) => !emitter.stopped,
            // The node gave up because `emit` told it the run is stopping: not its failure.
            Err(_) if emitter.stopped => false,
            Err(error) => {
                self.state.fail(RunError::node(self.node, phase, error));
                false
            }
        }
    }
}

/// The emitter handed to a node: sends each output to every target, blocking while one is full,
/// and gives up with `Stopped` as soon as the run stops.
struct StageEmitter<'a> {
    targets: &'a Targets,
    state: &'a RunState,
    index: usize,
    blocked: Duration,
    stopped: bool,
}

impl StageEmitter<'_> {
    fn send<T>(&mut self, sender: &Sender<T>, item: T) -> Result<(), Stopped> {
        let item = match sender.try_send(item) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(item)) => item,
            Err(TrySendError::Disconnected(_)) => return Err(self.give_up()),
        };
        let waiting = Instant::now();
        let sent = select! {
            send(sender, item) -> sent => sent.is_ok(),
            recv(self.state.stop_signal()) -> _ => false,
        };
        self.blocked += waiting.elapsed();
        if sent { Ok(()) } else { Err(self.give_up()) }
    }

    fn give_up(&mut self) -> Stopped {
        self.stopped = true;
        self.state.mark_interrupted();
        Stopped
    }
}

impl Emitter for StageEmitter<'_> {
    fn emit(&mut self, item: Value) -> Result<(), Stopped> {
        if self.stopped || self.state.is_stopping() {
            return Err(self.give_up());
        }
        match self.targets {
            Targets::Successors(senders) => {
                if let Some((last, others)) = senders.split_last() {
                    for sender in others {
                        self.send(sender, item.clone())?;
                    }
                    self.send(last, item)?;
                }
            }
            Targets::Output { sink, sender } => {
                let output = Output {
                    sink: Arc::clone(sink),
                    value: item,
                };
                self.send(sender, output)?;
            }
        }
        self.state.counters(self.index).count_out();
        Ok(())
    }
}

/// Sends every run input to every root, once all nodes are initialized.
///
/// An input that cannot be read ends the stream there: the inputs before it are processed to
/// the end (flush included) and the run then fails with [`RunError::Input`].
pub(crate) fn feed(
    mut inputs: impl Iterator<Item = Result<Value, InputError>>,
    roots: Vec<Sender<Value>>,
    state: &RunState,
    start_line: Receiver<()>,
) {
    let _ = start_line.recv();
    loop {
        if state.is_stopping() {
            state.mark_interrupted();
            return;
        }
        let item = match inputs.next() {
            None => break,
            Some(Ok(item)) => item,
            Some(Err(error)) => {
                state.record(RunError::Input(error));
                return;
            }
        };
        let Some((last, others)) = roots.split_last() else {
            return;
        };
        let sent = others
            .iter()
            .all(|root| send_input(root, item.clone(), state))
            && send_input(last, item, state);
        if !sent {
            state.mark_interrupted();
            return;
        }
    }
    tracing::debug!("all inputs sent");
}

fn send_input(root: &Sender<Value>, item: Value, state: &RunState) -> bool {
    select! {
        send(root, item) -> sent => sent.is_ok(),
        recv(state.stop_signal()) -> _ => false,
    }
}

/// Runs node code, turning a panic into a node error so one bad node cannot take the run down.
fn guarded<T>(call: impl FnOnce() -> Result<T, NodeError>) -> Result<T, NodeError> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(NodeError::exception("panic", message))
    })
}
