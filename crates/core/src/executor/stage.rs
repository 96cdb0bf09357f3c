//! One stage: the thread that owns one node instance and drives its lifecycle.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use super::handoff::Outbox;
use super::state::RunState;
use super::{InputError, Output, Phase, RunError};
use crate::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec, Stopped};
use crate::value::Value;

/// Where a stage's outputs go.
#[derive(Debug)]
pub(crate) enum Targets {
    /// The inboxes of its successors: every output is sent to each.
    Successors(Vec<Outbox<Value>>),
    /// A sink: its outputs are the run's outputs.
    Output {
        sink: Arc<str>,
        outbox: Outbox<Output>,
    },
}

impl Targets {
    fn outboxes(&mut self) -> (&mut [Outbox<Value>], Option<&mut Outbox<Output>>) {
        match self {
            Targets::Successors(outboxes) => (outboxes, None),
            Targets::Output { outbox, .. } => (&mut [], Some(outbox)),
        }
    }
}

/// A stage's report once its node is initialized (or failed to be).
pub(crate) type InitReport = (usize, Result<(), (Phase, NodeError)>);

pub(crate) struct Stage {
    pub(crate) index: usize,
    pub(crate) spec: NodeSpec,
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) inbox: Receiver<Vec<Value>>,
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
            mut targets,
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
                targets: &mut targets,
                state: &state,
            };
            driver.stream(&inbox);
        }
        state.clock().stream_ended();
        if let Targets::Output { outbox, .. } = &mut targets {
            outbox.deliver_rest();
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
    targets: &'a mut Targets,
    state: &'a RunState,
}

impl Driver<'_> {
    fn stream(&mut self, inbox: &Receiver<Vec<Value>>) {
        // Outputs of items still in flight, for nodes that keep some (see `NodeInstance::arrivals`).
        let arrivals = self
            .instance
            .arrivals()
            .unwrap_or_else(crossbeam_channel::never);
        loop {
            if self.state.is_stopping() {
                self.state.mark_interrupted();
                return;
            }
            let batch = select! {
                recv(inbox) -> batch => batch,
                recv(arrivals) -> _ => {
                    let backlog = !inbox.is_empty();
                    if !self.call(Phase::Process, backlog, |instance, out| instance.deliver(out)) {
                        return;
                    }
                    continue;
                }
                recv(self.state.stop_signal()) -> _ => {
                    self.state.mark_interrupted();
                    return;
                }
            };
            let Ok(batch) = batch else { break };
            let mut items = batch.into_iter();
            while let Some(item) = items.next() {
                if self.state.is_stopping() {
                    self.state.mark_interrupted();
                    return;
                }
                self.state.counters(self.index).count_in();
                // More input already waiting: this node's outputs may wait to leave together.
                let backlog = items.len() > 0 || !inbox.is_empty();
                if !self.call(Phase::Process, backlog, |instance, out| {
                    instance.process(item, out)
                }) {
                    return;
                }
            }
        }
        // Every predecessor is done; if one stopped early, the stream is not complete.
        if self.state.is_stopping() {
            self.state.mark_interrupted();
            return;
        }
        if !self.call(Phase::Process, false, |instance, out| instance.settle(out)) {
            return;
        }
        if self.call(Phase::Flush, false, |instance, out| instance.flush(out)) {
            tracing::debug!(node = self.node, "flushed");
        }
    }

    /// Calls the node; false when the run must stop (this node failed, or the run is stopping).
    ///
    /// Without a `backlog` the outputs gathered so far leave before this returns, so the stage
    /// never waits for input while holding outputs back; with one, they leave unless the calls
    /// that produced them were quick (see `handoff`).
    fn call(
        &mut self,
        phase: Phase,
        backlog: bool,
        step: impl FnOnce(&mut dyn NodeInstance, &mut dyn Emitter) -> Result<(), NodeError>,
    ) -> bool {
        let started = Instant::now();
        let mut emitter = StageEmitter {
            targets: &mut *self.targets,
            state: self.state,
            index: self.index,
            backlog: backlog.then_some(started),
            blocked: Duration::ZERO,
            stopped: false,
        };
        let result = guarded(|| step(&mut *self.instance, &mut emitter));
        let keep_going = match result {
            Ok(()) => !emitter.stopped && emitter.end_of_call().is_ok(),
            // The node gave up because `emit` told it the run is stopping: not its failure.
            Err(_) if emitter.stopped => false,
            Err(error) => {
                // What it emitted before failing is delivered, as it would have been unbatched.
                let _ = emitter.flush();
                self.state.fail(RunError::node(self.node, phase, error));
                false
            }
        };
        self.state
            .counters(self.index)
            .add_call(started.elapsed(), emitter.blocked);
        keep_going
    }
}

/// The emitter handed to a node: queues each output for every target, sending when the batch is
/// due (see [`Outbox::push`]), blocking while a target is full, and gives up with `Stopped` as
/// soon as the run stops.
struct StageEmitter<'a> {
    targets: &'a mut Targets,
    state: &'a RunState,
    index: usize,
    /// `Some(when the call this emitter serves started)` if the node has more input waiting.
    backlog: Option<Instant>,
    blocked: Duration,
    stopped: bool,
}

impl StageEmitter<'_> {
    /// Sends every gathered batch.
    fn flush(&mut self) -> Result<(), Stopped> {
        self.send_batches(false)
    }

    /// Sends the gathered batches that may not wait for the outputs of the next call.
    fn end_of_call(&mut self) -> Result<(), Stopped> {
        self.send_batches(self.backlog.is_some())
    }

    fn send_batches(&mut self, backlog: bool) -> Result<(), Stopped> {
        let stop = self.state.stop_signal();
        let (successors, output) = self.targets.outboxes();
        let mut sent = successors
            .iter_mut()
            .all(|outbox| outbox.end_of_call(backlog, stop, &mut self.blocked).is_ok());
        if let Some(outbox) = output {
            sent = sent && outbox.end_of_call(backlog, stop, &mut self.blocked).is_ok();
        }
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
        let (stop, backlog) = (self.state.stop_signal(), self.backlog);
        let sent = match &mut *self.targets {
            Targets::Successors(outboxes) => match outboxes.split_last_mut() {
                Some((last, others)) => others
                    .iter_mut()
                    .try_for_each(|outbox| {
                        outbox.push(item.clone(), backlog, stop, &mut self.blocked)
                    })
                    .and_then(|()| last.push(item, backlog, stop, &mut self.blocked)),
                None => Ok(()),
            },
            Targets::Output { sink, outbox } => {
                let output = Output {
                    sink: Arc::clone(sink),
                    value: item,
                };
                outbox.push(output, backlog, stop, &mut self.blocked)
            }
        };
        if sent.is_err() {
            return Err(self.give_up());
        }
        self.state.counters(self.index).count_out();
        Ok(())
    }

    fn more_input(&self) -> bool {
        self.backlog.is_some()
    }

    fn record_timing(&mut self, name: &str, sample: Duration) {
        self.state.counters(self.index).record_timing(name, sample);
    }
}

/// Sends every run input to every root, once all nodes are initialized.
///
/// An input that cannot be read ends the stream there: the inputs before it are processed to
/// the end (flush included) and the run then fails with [`RunError::Input`].
pub(crate) fn feed(
    mut inputs: impl Iterator<Item = Result<Value, InputError>>,
    mut roots: Vec<Outbox<Value>>,
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
        let Some((last, others)) = roots.split_last_mut() else {
            return;
        };
        // One item per hand-off: the next input may be long to come (a live source), and the
        // roots batch their own outputs when the inputs outpace them.
        let stop = state.stop_signal();
        let mut blocked = Duration::ZERO;
        let sent = others
            .iter_mut()
            .try_for_each(|root| root.push(item.clone(), None, stop, &mut blocked))
            .and_then(|()| last.push(item, None, stop, &mut blocked));
        if sent.is_err() {
            state.mark_interrupted();
            return;
        }
    }
    tracing::debug!("all inputs sent");
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
