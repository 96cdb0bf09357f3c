//! One stage: the thread that owns one node instance and drives its lifecycle.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use super::handoff::{Outbox, Unsent, push_to_all};
use super::state::{AFTER_INPUTS, RunState};
use super::{InputError, Output, OutputCheck, Phase, RunError};
use crate::engine::{Emitter, Engine, ItemTag, NodeError, NodeInstance, NodeSpec, Stopped};
use crate::value::Value;

/// What crosses an edge: a value, and the run input it descends from (its index).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The index of the run input whose processing produced this item ([`AFTER_INPUTS`] for an
    /// output of `flush`). After a failure only the items of earlier inputs are carried on.
    pub(crate) origin: u64,
    pub(crate) value: Value,
}

/// Where a stage's outputs go.
#[derive(Debug)]
pub(crate) enum Targets {
    /// The inboxes of its successors: every output is sent to each.
    Successors(Vec<Outbox<Item>>),
    /// A sink: its outputs are the run's outputs, each passing `check` first
    /// ([`super::RunOptions::output_check`]).
    Output {
        sink: Arc<str>,
        outbox: Outbox<Output>,
        check: Option<OutputCheck>,
    },
}

impl Targets {
    /// Sends every gathered batch, unless `backlog` and the batch may wait for the outputs of the
    /// next call: `Ok` while some receiver is left.
    fn end_of_call(&mut self, backlog: bool, blocked: &mut Duration) -> Result<(), Unsent> {
        match self {
            Targets::Output { outbox, .. } => outbox.end_of_call(backlog, blocked),
            Targets::Successors(outboxes) => {
                let mut result = Err(Unsent::Gone);
                for outbox in outboxes {
                    match outbox.end_of_call(backlog, blocked) {
                        Ok(()) => result = Ok(()),
                        Err(Unsent::Gone) => {}
                        Err(Unsent::Stopped) => return Err(Unsent::Stopped),
                    }
                }
                result
            }
        }
    }
}

/// A stage's report once its node is initialized (or failed to be).
pub(crate) type InitReport = (usize, Result<(), (Phase, NodeError)>);

pub(crate) struct Stage {
    pub(crate) index: usize,
    pub(crate) spec: NodeSpec,
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) inbox: Receiver<Vec<Item>>,
    /// A root: its inbox is fed by the run's inputs.
    pub(crate) fed_by_inputs: bool,
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
            fed_by_inputs,
            mut targets,
            state,
            init_reports,
            start_line,
        } = self;
        let node = spec.id.as_str();
        let counters = state.counters(index);
        let mut instance = match counters.busy_in(|| guarded(|| engine.create(&spec))) {
            Ok(instance) => instance,
            Err(error) => {
                let _ = init_reports.send((index, Err((Phase::Create, error))));
                return;
            }
        };
        if let Some(interrupter) = instance.interrupter() {
            state.add_interrupter(index, interrupter);
        }
        let initialized = counters.busy_in(|| guarded(|| instance.initialize()));
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
            driver.stream(&inbox, fed_by_inputs);
        }
        state.clock().stream_ended();
        // What is still gathered leaves: all of it to the run's outputs, to successors unless the
        // run is stopping.
        let mut blocked = Duration::ZERO;
        let _ = targets.end_of_call(false, &mut blocked);
        // Successors see end of stream as soon as this node is done, while it cleans up.
        drop(targets);
        drop(inbox);

        // Every created instance is cleaned up, also one whose initialize failed: it may hold
        // half-acquired resources (the SDK's local run does the same).
        match counters.busy_in(|| guarded(|| instance.cleanup())) {
            Ok(()) => tracing::debug!(node, "cleaned up"),
            Err(error) => state.record(RunError::node(node, Phase::Cleanup, error), AFTER_INPUTS),
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
    fn stream(&mut self, inbox: &Receiver<Vec<Item>>, fed_by_inputs: bool) {
        // Outputs of items still in flight, for nodes that keep some (see `NodeInstance::arrivals`).
        let arrivals = self
            .instance
            .arrivals()
            .unwrap_or_else(crossbeam_channel::never);
        // After a failure no more inputs are fed: a root takes what is queued, then ends.
        let never = crossbeam_channel::never();
        let failed = if fed_by_inputs {
            self.state.failed_signal()
        } else {
            &never
        };
        loop {
            if self.state.is_stopping() {
                self.state.mark_interrupted();
                return;
            }
            let batch = select! {
                recv(inbox) -> batch => batch,
                recv(arrivals) -> _ => {
                    // Outputs of earlier items: the node hands each its own item's tag.
                    let backlog = !inbox.is_empty();
                    if !self.call(Phase::Process, AFTER_INPUTS, backlog, |instance, out| {
                        instance.deliver(out)
                    }) {
                        return;
                    }
                    continue;
                }
                recv(self.state.stop_signal()) -> _ => {
                    self.state.mark_interrupted();
                    return;
                }
                recv(failed) -> _ => inbox.try_recv().map_err(|_| crossbeam_channel::RecvError),
            };
            let Ok(batch) = batch else { break };
            let mut items = batch.into_iter();
            while let Some(Item { origin, value }) = items.next() {
                if self.state.skips(origin) {
                    // Stopping, or from an input at or after a failure: not processed.
                    self.state.mark_interrupted();
                    if self.state.is_stopping() {
                        return;
                    }
                    continue;
                }
                self.state.counters(self.index).count_in();
                // More input already waiting: this node's outputs may wait to leave together.
                let backlog = items.len() > 0 || !inbox.is_empty();
                if !self.call(Phase::Process, origin, backlog, |instance, out| {
                    instance.process(value, out)
                }) {
                    return;
                }
            }
        }
        if self.state.is_stopping() {
            self.state.mark_interrupted();
            return;
        }
        // Items still in flight are answered also after another node failed: those from earlier
        // inputs must still deliver their outputs.
        if !self.call(Phase::Process, AFTER_INPUTS, false, |instance, out| {
            instance.settle(out)
        }) {
            return;
        }
        // Every predecessor is done; if the run is stopping or failed, the stream is not complete.
        if self.state.is_ending() {
            self.state.mark_interrupted();
            return;
        }
        if self.call(Phase::Flush, AFTER_INPUTS, false, |instance, out| {
            instance.flush(out)
        }) {
            tracing::debug!(node = self.node, "flushed");
        }
    }

    /// Calls the node on an item descending from input `origin`; false when this stage must stop
    /// (this node failed, nothing downstream is left, or the run is stopping).
    ///
    /// Without a `backlog` the outputs gathered so far leave before this returns, so the stage
    /// never waits for input while holding outputs back; with one, they leave unless the calls
    /// that produced them were quick (see `handoff`).
    fn call(
        &mut self,
        phase: Phase,
        origin: u64,
        backlog: bool,
        step: impl FnOnce(&mut dyn NodeInstance, &mut dyn Emitter) -> Result<(), NodeError>,
    ) -> bool {
        let started = Instant::now();
        let mut emitter = StageEmitter {
            targets: &mut *self.targets,
            state: self.state,
            index: self.index,
            origin,
            backlog: backlog.then_some(started),
            blocked: Duration::ZERO,
            stopped: None,
            failed_on: None,
            rejected: None,
        };
        let counters = self.state.counters(self.index);
        let result = counters.busy_in(|| {
            counters.timed(phase, origin, || {
                guarded(|| step(&mut *self.instance, &mut emitter))
            })
        });
        // A node with items in flight may fail on an earlier item than this call's.
        let origin = emitter.failed_on.unwrap_or(origin);
        // An output that failed the run's check is the node's failure, as if it had raised.
        let rejected = emitter.rejected.take().map(|reason| {
            NodeError::new(match origin {
                AFTER_INPUTS => format!("an output of its flush {reason}"),
                input => format!("its output for input #{} {reason}", input + 1),
            })
        });
        let failure = match (result, rejected) {
            (_, Some(error)) => Some(error),
            // Interrupted because the run is stopping (or failing as it stopped): not its failure.
            (Err(error), None) if self.state.is_stopping() => {
                tracing::debug!(node = self.node, %error, "call ended by the stop");
                self.state.mark_interrupted();
                None
            }
            (Err(error), None) if emitter.stopped.is_none() => Some(error),
            // Success, or the node gave up because `emit` told it to: not its failure.
            (_, None) => None,
        };
        let result = match failure {
            Some(error) => {
                // What it emitted before failing is delivered, as it would have been unbatched.
                let _ = emitter.flush();
                if self.state.timed_out(self.index) {
                    // Its failure is the timeout, already recorded; this is how the call ended.
                    tracing::debug!(node = self.node, %error, "call ended past its timeout");
                } else {
                    self.state
                        .fail_at(origin, RunError::node(self.node, phase, error));
                }
                Err(Unsent::Stopped)
            }
            None if emitter.stopped.is_none() => emitter.end_of_call(),
            None => Ok(()),
        };
        // Only this item was cut short (a failure on an earlier input): later items of this
        // node may still descend from earlier inputs (fan-in), so it goes on.
        let keep_going = result.is_ok() && emitter.stopped != Some(Refused::Ended);
        self.state
            .counters(self.index)
            .add_call(started.elapsed(), emitter.blocked);
        keep_going
    }
}

/// Why a node's `emit` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// The item it works on descends from an input at or after a failure.
    Cut,
    /// The run is stopping, or no successor is left.
    Ended,
}
/// The emitter handed to a node: queues each output for every target, sending when the batch is
/// due (see [`Outbox::push`]), blocking while a target is full, and gives up with `Stopped` as
/// soon as the run stops or the item the node works on no longer counts.
struct StageEmitter<'a> {
    targets: &'a mut Targets,
    state: &'a RunState,
    index: usize,
    /// The input the item being processed descends from.
    origin: u64,
    /// `Some(when the call this emitter serves started)` if the node has more input waiting.
    backlog: Option<Instant>,
    blocked: Duration,
    /// Set once `emit` has refused an output: the node was told to stop.
    stopped: Option<Refused>,
    /// The input of the earlier item the node says its failure is about ([`Emitter::failing_on`]).
    failed_on: Option<u64>,
    /// Why an output failed the run's output check.
    rejected: Option<String>,
}

impl StageEmitter<'_> {
    /// Sends every gathered batch.
    fn flush(&mut self) -> Result<(), Unsent> {
        self.targets.end_of_call(false, &mut self.blocked)
    }

    /// Sends the gathered batches that may not wait for the outputs of the next call.
    fn end_of_call(&mut self) -> Result<(), Unsent> {
        let sent = self
            .targets
            .end_of_call(self.backlog.is_some(), &mut self.blocked);
        if sent.is_err() {
            self.state.mark_interrupted();
        }
        sent
    }

    fn give_up(&mut self, reason: Refused) -> Stopped {
        self.stopped = Some(reason);
        self.state.mark_interrupted();
        Stopped
    }

    /// Queues `value`, an output of an item descending from input `origin`, for every target.
    fn send(&mut self, origin: u64, value: Value) -> Result<(), Stopped> {
        let backlog = self.backlog;
        let sent = match &mut *self.targets {
            Targets::Successors(outboxes) => {
                let item = Item { origin, value };
                push_to_all(outboxes, item, backlog, &mut self.blocked)
            }
            Targets::Output {
                sink,
                outbox,
                check,
            } => {
                if let Some(reason) = check.and_then(|check| check(&value).err()) {
                    self.rejected = Some(reason);
                    if origin != self.origin {
                        self.failed_on = Some(origin);
                    }
                    return Err(self.give_up(Refused::Ended));
                }
                let output = Output {
                    sink: Arc::clone(sink),
                    value,
                };
                outbox.push(output, backlog, &mut self.blocked)
            }
        };
        if sent.is_err() {
            return Err(self.give_up(Refused::Ended));
        }
        self.state.counters(self.index).count_out();
        Ok(())
    }
}

impl Emitter for StageEmitter<'_> {
    fn emit(&mut self, item: Value) -> Result<(), Stopped> {
        if let Some(reason) = self.stopped {
            return Err(self.give_up(reason));
        }
        if self.state.skips(self.origin) {
            let reason = if self.state.is_stopping() {
                Refused::Ended
            } else {
                Refused::Cut
            };
            return Err(self.give_up(reason));
        }
        self.send(self.origin, item)
    }

    fn item(&self) -> ItemTag {
        ItemTag(self.origin)
    }

    fn emit_for(&mut self, tag: ItemTag, item: Value) -> Result<(), Stopped> {
        let ItemTag(origin) = tag;
        if origin == self.origin {
            return self.emit(item);
        }
        if self.stopped == Some(Refused::Ended) || self.state.is_stopping() {
            return Err(self.give_up(Refused::Ended));
        }
        if self.state.skips(origin) {
            // An output of an input at or after a failure: not wanted; the node goes on.
            self.state.mark_interrupted();
            return Ok(());
        }
        self.send(origin, item)
    }

    fn failing_on(&mut self, tag: ItemTag) {
        self.failed_on = Some(tag.0);
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
    mut roots: Vec<Outbox<Item>>,
    state: &RunState,
    start_line: Receiver<()>,
) {
    let _ = start_line.recv();
    for origin in 0u64.. {
        if state.is_ending() {
            state.mark_interrupted();
            return;
        }
        let value = match inputs.next() {
            None => break,
            Some(Ok(value)) => value,
            Some(Err(error)) => {
                state.record(RunError::Input(error), origin);
                return;
            }
        };
        // One item per hand-off: the next input may be long to come (a live source), and the
        // roots batch their own outputs when the inputs outpace them.
        let item = Item { origin, value };
        let mut blocked = Duration::ZERO;
        if push_to_all(&mut roots, item, None, &mut blocked).is_err() {
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
