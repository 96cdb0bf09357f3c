//! What all threads of one run share: the stop signal, the first failure, the counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crossbeam_channel::{Receiver, Sender};

use super::RunError;
use super::metrics::{NodeCounters, NodeMetrics, PhaseClock};

#[derive(Debug)]
pub(crate) struct RunState {
    node_ids: Box<[String]>,
    counters: Box<[NodeCounters]>,
    clock: PhaseClock,
    stopping: AtomicBool,
    /// Dropped to stop the run: every thread blocked in a `select!` on `stop_receiver` wakes up,
    /// whether it waits to send downstream or to receive from upstream.
    stop_sender: Mutex<Option<Sender<()>>>,
    stop_receiver: Receiver<()>,
    cancel_requested: AtomicBool,
    /// Some work was skipped because of a stop (an item, a flush, an input).
    interrupted: AtomicBool,
    finished: AtomicBool,
    failure: Mutex<Option<RunError>>,
}

impl RunState {
    pub(crate) fn new(node_ids: Vec<String>) -> RunState {
        let (stop_sender, stop_receiver) = crossbeam_channel::bounded(0);
        RunState {
            counters: node_ids.iter().map(|_| NodeCounters::default()).collect(),
            clock: PhaseClock::new(node_ids.len()),
            node_ids: node_ids.into(),
            stopping: AtomicBool::new(false),
            stop_sender: Mutex::new(Some(stop_sender)),
            stop_receiver,
            cancel_requested: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            failure: Mutex::new(None),
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

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops every stage; they finish their current call, skip `flush`, and clean up.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        lock(&self.stop_sender).take();
    }

    pub(crate) fn cancel(&self) {
        if !self.finished.load(Ordering::SeqCst) {
            tracing::info!("run cancelled");
        }
        self.cancel_requested.store(true, Ordering::SeqCst);
        self.stop();
    }

    /// Records `error` unless an earlier failure is already recorded, then stops the run.
    pub(crate) fn fail(&self, error: RunError) {
        self.record(error);
        self.stop();
    }

    /// Records `error` (first one wins) without stopping the others: a failed `cleanup` must not
    /// cut short another node's `flush`.
    pub(crate) fn record(&self, error: RunError) {
        let mut failure = lock(&self.failure);
        if failure.is_none() {
            tracing::debug!(%error, "run failed");
            *failure = Some(error);
        } else {
            tracing::warn!(
                "after the run's first failure: {}",
                super::error_chain(&error)
            );
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
        lock(&self.failure).take()
    }
}

/// A poisoned lock only means another thread panicked while holding it; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
