//! Per-node counters, updated live by the stage threads and read at any time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What one node did during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMetrics {
    /// The node's id in the manifest.
    pub node: String,
    /// Items the node received (calls to `process`).
    pub items_in: u64,
    /// Items the node emitted (each counted once, however many successors received it).
    pub items_out: u64,
    /// Time spent in the node's `process` and `flush`, not counting time blocked in `emit`.
    pub process_time: Duration,
    /// Time the node spent blocked in `emit` because a successor (or the run's reader) was full.
    pub blocked_time: Duration,
}

/// The live counters of one node; relaxed atomics are enough, as they are only summed and read.
#[derive(Debug, Default)]
pub(crate) struct NodeCounters {
    items_in: AtomicU64,
    items_out: AtomicU64,
    process_nanos: AtomicU64,
    blocked_nanos: AtomicU64,
}

impl NodeCounters {
    pub(crate) fn count_in(&self) {
        self.items_in.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_out(&self) {
        self.items_out.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one call into the node that took `elapsed`, of which `blocked` was spent in `emit`.
    pub(crate) fn add_call(&self, elapsed: Duration, blocked: Duration) {
        let working = elapsed.saturating_sub(blocked);
        self.process_nanos
            .fetch_add(nanos(working), Ordering::Relaxed);
        self.blocked_nanos
            .fetch_add(nanos(blocked), Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, node: &str) -> NodeMetrics {
        NodeMetrics {
            node: node.to_owned(),
            items_in: self.items_in.load(Ordering::Relaxed),
            items_out: self.items_out.load(Ordering::Relaxed),
            process_time: Duration::from_nanos(self.process_nanos.load(Ordering::Relaxed)),
            blocked_time: Duration::from_nanos(self.blocked_nanos.load(Ordering::Relaxed)),
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
