//! How items cross from one thread to the next: in batches when the sender has a backlog.
//!
//! Every channel of a run carries batches (`Vec`s) of items. A thread that hands items over one
//! at a time wakes its (usually faster, hence parked) receiver for every item: a futex wake-up,
//! a context switch, a spin and a park per item and per hop. So a sender that knows more work is
//! already waiting for it (its backlog) keeps its outputs in an [`Outbox`] and sends them together,
//! up to [`Batching::cap`] items: one wake-up then carries the whole batch. Without a backlog every
//! item leaves at once, so an idle pipeline, or a generator yielding slowly, adds no latency.
//!
//! Batching only pays for cheap items, so a batch is gathered only while it is young: once
//! [`Batching::linger`] has passed since the start of the call that produced its first item, it
//! leaves at the sender's next output or at the end of that call, whichever comes first. A slow
//! node (whose next output is long to come) thus sends each output at the end of its call, and
//! its receiver works in parallel with it instead of idling until a batch is full.
//!
//! Backpressure: a channel holds at most `channel_capacity` batches, so at most
//! `channel_capacity × min(channel_capacity, 8)` items wait on an edge, plus one batch being
//! filled by the sender and the rest of one being worked through by the receiver.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, select};

/// The largest batch, whatever the capacity: bounds the memory one edge can hold (16 batches of 8
/// items at the default capacity) while already cutting the wake-ups eightfold.
pub(crate) const MAX_BATCH: usize = 8;

/// How a run's senders gather their outputs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// The most items one hand-off carries.
    pub(crate) cap: usize,
    /// How long a batch is gathered, from the start of the call that produced its first item.
    pub(crate) linger: Duration,
}

impl Batching {
    /// Batches on channels of `capacity` hand-offs: never more items than the capacity, so a
    /// capacity of 1 keeps the strict one-item-at-a-time hand-off.
    pub(crate) fn new(capacity: usize, linger: Duration) -> Batching {
        Batching {
            cap: capacity.clamp(1, MAX_BATCH),
            linger,
        }
    }
}

/// Why items were not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsent {
    /// The run is stopping: the send was abandoned.
    Stopped,
    /// The receiver has ended (a node that failed or stopped): nothing more goes to it.
    Gone,
}

/// The sending end of one channel with the batch being gathered for it.
#[derive(Debug)]
pub(crate) struct Outbox<T> {
    sender: Sender<Vec<T>>,
    pending: Vec<T>,
    batching: Batching,
    /// When the call that produced the oldest pending item started.
    oldest_call: Option<Instant>,
    /// Abandons a send waiting for room when it is ready (the run is stopping); `None` for the
    /// run's outputs, which its reader always drains to the end, so nothing a sink emitted is
    /// ever dropped after being counted.
    stop: Option<Receiver<()>>,
    /// The receiver has ended.
    gone: bool,
}

impl<T> Outbox<T> {
    /// An outbox whose sends are abandoned once `stop` is ready.
    pub(crate) fn new(
        sender: Sender<Vec<T>>,
        batching: Batching,
        stop: &Receiver<()>,
    ) -> Outbox<T> {
        Outbox {
            stop: Some(stop.clone()),
            ..Outbox::delivering(sender, batching)
        }
    }

    /// An outbox whose sends always complete while the receiver lives.
    pub(crate) fn delivering(sender: Sender<Vec<T>>, batching: Batching) -> Outbox<T> {
        Outbox {
            sender,
            pending: Vec::new(),
            batching,
            oldest_call: None,
            stop: None,
            gone: false,
        }
    }

    /// Queues `item`; sends the batch now unless the sender has a backlog — `Some(start of the
    /// call that produced item)` — and the batch may wait (see [`may_wait`](Self::may_wait)).
    /// Adds to `blocked` the time spent waiting for room downstream.
    pub(crate) fn push(
        &mut self,
        item: T,
        backlog: Option<Instant>,
        blocked: &mut Duration,
    ) -> Result<(), Unsent> {
        if self.gone {
            return Err(Unsent::Gone);
        }
        self.pending.push(item);
        if let Some(call) = backlog {
            self.oldest_call.get_or_insert(call);
            if self.pending.len() < self.batching.cap && self.may_wait() {
                return Ok(());
            }
        }
        self.flush(blocked)
    }

    /// Sends the batch unless the sender has a `backlog` and the batch may wait for the outputs
    /// of its next call: the sender's last word on every call.
    pub(crate) fn end_of_call(
        &mut self,
        backlog: bool,
        blocked: &mut Duration,
    ) -> Result<(), Unsent> {
        if backlog && self.may_wait() {
            return Ok(());
        }
        self.flush(blocked)
    }

    /// Whether the pending items are young enough to wait for more: the calls since the oldest
    /// one's started took less than the linger, so the next is likely to be quick too.
    fn may_wait(&self) -> bool {
        self.oldest_call
            .is_none_or(|call| call.elapsed() < self.batching.linger)
    }

    /// Sends whatever is gathered, waiting for room (or the stop signal) when the channel is full.
    pub(crate) fn flush(&mut self, blocked: &mut Duration) -> Result<(), Unsent> {
        if self.gone {
            return Err(Unsent::Gone);
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        self.oldest_call = None;
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(self.batching.cap));
        let batch = match self.sender.try_send(batch) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(batch)) => batch,
            Err(TrySendError::Disconnected(_)) => return Err(self.receiver_gone()),
        };
        let waiting = Instant::now();
        let sent = match &self.stop {
            Some(stop) => select! {
                send(self.sender, batch) -> sent => sent.map_err(|_| Unsent::Gone),
                recv(stop) -> _ => Err(Unsent::Stopped),
            },
            None => self.sender.send(batch).map_err(|_| Unsent::Gone),
        };
        *blocked += waiting.elapsed();
        match sent {
            Err(Unsent::Gone) => Err(self.receiver_gone()),
            other => other,
        }
    }

    fn receiver_gone(&mut self) -> Unsent {
        self.gone = true;
        self.pending = Vec::new();
        Unsent::Gone
    }
}

/// Pushes `item` to every outbox whose receiver is still there (see [`Outbox::push`]): `Ok` if
/// one at least took it, `Err(Gone)` if none is left.
pub(crate) fn push_to_all<T: Clone>(
    outboxes: &mut [Outbox<T>],
    item: T,
    backlog: Option<Instant>,
    blocked: &mut Duration,
) -> Result<(), Unsent> {
    let Some((last, others)) = outboxes.split_last_mut() else {
        return Err(Unsent::Gone);
    };
    let mut taken = false;
    for outbox in others {
        match outbox.push(item.clone(), backlog, blocked) {
            Ok(()) => taken = true,
            Err(Unsent::Gone) => {}
            Err(Unsent::Stopped) => return Err(Unsent::Stopped),
        }
    }
    match last.push(item, backlog, blocked) {
        Err(Unsent::Gone) if taken => Ok(()),
        sent => sent,
    }
}
