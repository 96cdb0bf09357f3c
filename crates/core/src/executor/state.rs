//! What all threads of one run share: the stop signal, the first failure, the counters.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crossbeam_channel::{Receiver, Sender};

use super::metrics::{NodeCounters, NodeMetrics, PhaseClock};
use super::{RunError, SkippedCleanup};
use crate::engine::Interrupt;

#[derive(Debug)]
pub(crate) struct RunState {
    node_ids: Box<[String]>,
    counters: Box<[NodeCounters]>,
    clock: PhaseClock,
    stopping: AtomicBool,
    /// A node failed: no more inputs are fed and nothing flushes; the items in flight that
    /// descend from inputs before `cut` are still carried through to the run's outputs.
    failed: AtomicBool,
    /// The first input whose items are no longer processed: that of the item a node failed on
    /// (the earliest one when several failed); [`AFTER_INPUTS`] for a failure in `flush`.
    cut: AtomicU64,
    /// Dropped to stop the run: every thread blocked in a `select!` on `stop_receiver` wakes up,
    /// whether it waits to send downstream or to receive from upstream.
    stop_sender: Mutex<Option<Sender<()>>>,
    stop_receiver: Receiver<()>,
    /// Dropped when a node fails: the stages fed by the inputs stop waiting for more (the next
    /// input may be long to come, or never: a live stdin) once they have taken what is queued.
    failed_sender: Mutex<Option<Sender<()>>>,
    failed_receiver: Receiver<()>,
    cancel_requested: AtomicBool,
    /// Some work was skipped because of a stop (an item, a flush, an input).
    interrupted: AtomicBool,
    finished: AtomicBool,
    /// The failure reported, with the input it happened on: the earliest input wins, so the
    /// run reports what a one-item-at-a-time run would have met first.
    failure: Mutex<Option<(u64, RunError)>>,
    /// How to interrupt the nodes whose engines can, by node index; all are called once when
    /// the run stops, one alone when that node runs past the node timeout.
    interrupters: Interrupters,
    /// The interrupters were all called: one registered later is called at once.
    all_interrupted: AtomicBool,
    /// By node index: the node's call ran past its timeout, which is its failure; how the call
    /// then ends (the interruption's `KeyboardInterrupt`) is not another.
    timed_out: Box<[AtomicBool]>,
}

/// The nodes' [`Interrupt`]s, with their node's index.
#[derive(Default)]
struct Interrupters(Mutex<Vec<(usize, Arc<dyn Interrupt>)>>);

impl fmt::Debug for Interrupters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Interrupters")
    }
}

/// The origin of the items a node emits in `flush`, after every input; also the rank of failures
/// that belong to no input (a failed `cleanup`), which any failure on an input outranks.
pub(crate) const AFTER_INPUTS: u64 = u64::MAX;

impl RunState {
    pub(crate) fn new(node_ids: Vec<String>) -> RunState {
        let (stop_sender, stop_receiver) = crossbeam_channel::bounded(0);
        let (failed_sender, failed_receiver) = crossbeam_channel::bounded(0);
        RunState {
            counters: node_ids.iter().map(|_| NodeCounters::default()).collect(),
            timed_out: node_ids.iter().map(|_| AtomicBool::new(false)).collect(),
            clock: PhaseClock::new(node_ids.len()),
            node_ids: node_ids.into(),
            stopping: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            cut: AtomicU64::new(AFTER_INPUTS),
            stop_sender: Mutex::new(Some(stop_sender)),
            stop_receiver,
            failed_sender: Mutex::new(Some(failed_sender)),
            failed_receiver,
            cancel_requested: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            failure: Mutex::new(None),
            interrupters: Interrupters::default(),
            all_interrupted: AtomicBool::new(false),
        }
    }

    pub(crate) fn node_id(&self, index: usize) -> &str {
        &self.node_ids[index]
    }

    pub(crate) fn counters(&self, index: usize) -> &NodeCounters {
        &self.counters[index]
    }

    pub(crate) fn metrics(&self) -> Vec<NodeMetrics> {
        self.node_ids
            .iter()
            .zip(self.counters.iter())
            .map(|(id, counters)| counters.snapshot(id))
            .collect()
    }

    pub(crate) fn clock(&self) -> &PhaseClock {
        &self.clock
    }

    /// Ready (disconnected) once the run is stopping; select on it next to any blocking operation.
    pub(crate) fn stop_signal(&self) -> &Receiver<()> {
        &self.stop_receiver
    }

    /// Disconnected once a node has failed (see [`RunState::fail_at`]).
    pub(crate) fn failed_signal(&self) -> &Receiver<()> {
        &self.failed_receiver
    }

    /// Cancelled, or failed before data flowed: every stage stops as soon as it can.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stopping, or a node failed: no more inputs, no `flush`.
    pub(crate) fn is_ending(&self) -> bool {
        self.is_stopping() || self.failed.load(Ordering::SeqCst)
    }

    /// Whether an item descending from input `origin` is no longer processed (nor emitted).
    pub(crate) fn skips(&self, origin: u64) -> bool {
        self.is_stopping()
            || (self.failed.load(Ordering::SeqCst) && origin >= self.cut.load(Ordering::SeqCst))
    }

    /// Stops every stage; they finish their current call — interrupted, where the node's engine
    /// can ([`Interrupt`]) — skip `flush`, and clean up.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        lock(&self.stop_sender).take();
        let interrupters = if self.all_interrupted.swap(true, Ordering::SeqCst) {
            Vec::new()
        } else {
            lock(&self.interrupters.0).clone()
        };
        if !interrupters.is_empty() {
            // On a thread of its own: an engine may have to wait for its interpreter's lock, and
            // `stop` is called from signal handlers and stage threads.
            let interrupting = std::thread::Builder::new()
                .name("interrupting nodes".to_owned())
                .spawn(move || interrupters.iter().for_each(|(_, node)| node.interrupt()));
            if let Err(error) = interrupting {
                tracing::warn!("busy nodes will not be interrupted: {error}");
            }
        }
    }

    /// Registers how to interrupt node `index`; one registered after the run stopped is
    /// interrupted now.
    pub(crate) fn add_interrupter(&self, index: usize, interrupter: Arc<dyn Interrupt>) {
        lock(&self.interrupters.0).push((index, Arc::clone(&interrupter)));
        if self.all_interrupted.load(Ordering::SeqCst) {
            interrupter.interrupt();
        }
    }

    /// The nodes whose engines ended them without their `cleanup` ([`Interrupt::cleanup_skipped`]),
    /// by id, with why.
    pub(crate) fn cleanups_skipped(&self) -> Vec<SkippedCleanup> {
        lock(&self.interrupters.0)
            .iter()
            .filter_map(|(index, interrupter)| {
                let reason = interrupter.cleanup_skipped()?;
                Some(SkippedCleanup {
                    node: self.node_ids[*index].clone(),
                    reason,
                })
            })
            .collect()
    }

    /// Node `index`'s call ran past its timeout (see `timed_out`).
    pub(crate) fn mark_timed_out(&self, index: usize) {
        self.timed_out[index].store(true, Ordering::SeqCst);
    }

    pub(crate) fn timed_out(&self, index: usize) -> bool {
        self.timed_out[index].load(Ordering::SeqCst)
    }

    /// Interrupts node `index`'s call in progress; false when its engine cannot.
    pub(crate) fn interrupt_node(&self, index: usize) -> bool {
        let interrupter = self.interrupter(index);
        interrupter.map(|node| node.interrupt()).is_some()
    }

    /// Node `index`'s [`Interrupt`], if its engine gave one.
    fn interrupter(&self, index: usize) -> Option<Arc<dyn Interrupt>> {
        lock(&self.interrupters.0)
            .iter()
            .find(|(node, _)| *node == index)
            .map(|(_, interrupter)| Arc::clone(interrupter))
    }

    /// Whether the node with this id can be interrupted in a call (its engine gave an
    /// [`Interrupt`] when it was created).
    pub(crate) fn interruptible(&self, node: &str) -> bool {
        let index = self.node_ids.iter().position(|id| id == node);
        index.is_some_and(|index| self.interrupter(index).is_some())
    }

    pub(crate) fn node_count(&self) -> usize {
        self.node_ids.len()
    }

    /// The failure recorded so far, as one line with its causes, without taking it.
    pub(crate) fn failure_message(&self) -> Option<String> {
        lock(&self.failure)
            .as_ref()
            .map(|(_, error)| super::error_chain(error))
    }

    /// The nodes inside one of their calls now.
    pub(crate) fn busy_nodes(&self) -> Vec<String> {
        self.node_ids
            .iter()
            .zip(self.counters.iter())
            .filter(|(_, counters)| counters.is_busy())
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub(crate) fn cancel(&self) {
        if !self.finished.load(Ordering::SeqCst) {
            tracing::info!("run cancelled");
        }
        self.cancel_requested.store(true, Ordering::SeqCst);
        self.stop();
    }

    /// Records `error` and stops the run at once: for failures before data flows.
    pub(crate) fn fail(&self, error: RunError) {
        self.record(error, 0);
        self.stop();
    }

    /// A node failed on an item descending from input `origin` ([`AFTER_INPUTS`] in `flush`):
    /// records it and ends the run gracefully — no more inputs, no `flush`, but every item in
    /// flight from an earlier input is still processed, so each output those inputs lead to is
    /// delivered, whatever the timing.
    pub(crate) fn fail_at(&self, origin: u64, error: RunError) {
        self.record(error, origin);
        self.cut.fetch_min(origin, Ordering::SeqCst);
        self.failed.store(true, Ordering::SeqCst);
        lock(&self.failed_sender).take();
    }

    /// Records `error`, met on an item descending from input `origin`, without stopping the
    /// others (a failed `cleanup` must not cut another node's `flush` short). The failure on the
    /// earliest input is the one reported; on the same input, the first; the others are logged.
    pub(crate) fn record(&self, error: RunError, origin: u64) {
        let mut failure = lock(&self.failure);
        match failure.as_ref() {
            Some((first, _)) if *first <= origin => {
                tracing::warn!(
                    "after the run's first failure: {}",
                    super::error_chain(&error)
                );
            }
            _ => {
                tracing::debug!(%error, "run failed");
                if let Some((_, later)) = failure.replace((origin, error)) {
                    tracing::warn!(
                        "after the run's first failure (on an earlier input): {}",
                        super::error_chain(&later)
                    );
                }
            }
        }
    }

    pub(crate) fn mark_interrupted(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
    }

    /// Cancelled by the caller, and the cancellation actually cut something short.
    pub(crate) fn was_cancelled(&self) -> bool {
        self.cancel_requested.load(Ordering::SeqCst) && self.interrupted.load(Ordering::SeqCst)
    }

    pub(crate) fn mark_finished(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    pub(crate) fn take_failure(&self) -> Option<RunError> {
        lock(&self.failure).take().map(|(_, error)| error)
    }
}

/// A poisoned lock only means another thread panicked while holding it; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
