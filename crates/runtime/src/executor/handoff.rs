//! How items cross from one thread to the next: in batches when the sender has a backlog.
//!
//! Every channel of a run carries batches (`Vec`s) of items. A thread that hands items over one
//! at a time wakes its (usually faster, hence parked) receiver for every item: a futex wake-up,
//! a context switch, a spin and a park per item and per hop. So a sender that knows more work is
//! already waiting for it (its backlog) keeps its outputs in an [`Outbox`] and sends them together,
//! up to [`batch_cap`] items: one wake-up then carries the whole batch. Without a backlog every
//! item leaves at once, so an idle pipeline, or a generator yielding slowly, adds no latency.
//!
//! Backpressure: a channel holds at most `channel_capacity` batches, so at most
//! `channel_capacity × batch_cap(channel_capacity)` items wait on an edge, plus one batch being
//! filled by the sender and the rest of one being worked through by the receiver.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, select};

/// The largest batch, whatever the capacity: bounds the memory one edge can hold (16 batches of 8
/// items at the default capacity) while already cutting the wake-ups eightfold.
pub(crate) const MAX_BATCH: usize = 8;

/// The most items one hand-off carries on channels of `capacity` batches: never more than the
/// capacity, so a capacity of 1 keeps the strict one-item-at-a-time hand-off.
pub(crate) fn batch_cap(capacity: usize) -> usize {
    capacity.clamp(1, MAX_BATCH)
}

/// The run is stopping (or the receiver is gone): the send was abandoned.
#[derive(Debug)]
pub(crate) struct Abandoned;

/// The sending end of one channel with the batch being gathered for it.
#[derive(Debug)]
pub(crate) struct Outbox<T> {
    sender: Sender<Vec<T>>,
    pending: Vec<T>,
    cap: usize,
}

impl<T> Outbox<T> {
    pub(crate) fn new(sender: Sender<Vec<T>>, cap: usize) -> Outbox<T> {
        Outbox {
            sender,
            pending: Vec::new(),
            cap,
        }
    }

    /// Queues `item`; sends the batch now unless the sender has a `backlog` and room in the batch.
    /// Adds to `blocked` the time spent waiting for room downstream.
    pub(crate) fn push(
        &mut self,
        item: T,
        backlog: bool,
        stop: &Receiver<()>,
        blocked: &mut Duration,
    ) -> Result<(), Abandoned> {
        self.pending.push(item);
        if backlog && self.pending.len() < self.cap {
            return Ok(());
        }
        self.flush(stop, blocked)
    }

    /// Sends whatever is gathered, waiting for room (or the stop signal) when the channel is full.
    pub(crate) fn flush(
        &mut self,
        stop: &Receiver<()>,
        blocked: &mut Duration,
    ) -> Result<(), Abandoned> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(self.cap));
        let batch = match self.sender.try_send(batch) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(batch)) => batch,
            Err(TrySendError::Disconnected(_)) => return Err(Abandoned),
        };
        let waiting = Instant::now();
        let sent = select! {
            send(self.sender, batch) -> sent => sent.is_ok(),
            recv(stop) -> _ => false,
        };
        *blocked += waiting.elapsed();
        if sent { Ok(()) } else { Err(Abandoned) }
    }

    /// Sends whatever is gathered even though the run is stopping: for the run's outputs, which
    /// its reader drains to the end, so what a sink emitted before a stop is still delivered.
    pub(crate) fn deliver_rest(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.sender.send(std::mem::take(&mut self.pending));
        }
    }
}
