//! Per-node counters, updated live by the stage threads and read at any time, and the run's phases.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::Phase;

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
    /// The timing samples the node reported itself (`Emitter::record_timing`), by name.
    pub timings: Vec<TimingSummary>,
}

/// The samples a node reported under one name, summarised (nearest-rank percentiles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimingSummary {
    /// The name the node gave them, e.g. `segment_latency`.
    pub name: String,
    /// How many samples.
    pub count: usize,
    /// The median (the lower of the two middle samples for an even count).
    pub median: Duration,
    /// The 90th percentile: 90 % of the samples are at most this.
    pub p90: Duration,
    /// The largest sample.
    pub max: Duration,
}

impl TimingSummary {
    /// Summarises `samples`; None when there are none.
    pub fn of(name: &str, samples: &[Duration]) -> Option<TimingSummary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let rank = |fraction: f64| {
            // Nearest rank: the smallest sample with at least `fraction` of all at or below it.
            let rank = (fraction * sorted.len() as f64).ceil() as usize;
            sorted[rank.clamp(1, sorted.len()) - 1]
        };
        Some(TimingSummary {
            name: name.to_owned(),
            count: sorted.len(),
            median: rank(0.5),
            p90: rank(0.9),
            max: sorted[sorted.len() - 1],
        })
    }
}

/// The live counters of one node; relaxed atomics are enough, as they are only summed and read.
#[derive(Debug, Default)]
pub(crate) struct NodeCounters {
    items_in: AtomicU64,
    items_out: AtomicU64,
    process_nanos: AtomicU64,
    blocked_nanos: AtomicU64,
    /// Reported per event, not per item, so a lock is cheap enough.
    timings: Mutex<BTreeMap<String, Vec<Duration>>>,
    /// Inside one of the node's calls (create, initialize, process, flush, cleanup).
    busy: AtomicBool,
    /// The node's `process` or `flush` call in progress: when it started, the input it works on.
    timed_call: Mutex<Option<(Instant, u64, Phase)>>,
}

impl NodeCounters {
    /// Runs one of the node's calls, marked busy while it lasts.
    pub(crate) fn busy_in<T>(&self, call: impl FnOnce() -> T) -> T {
        self.busy.store(true, Ordering::SeqCst);
        let result = call();
        self.busy.store(false, Ordering::SeqCst);
        result
    }

    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// Runs a `process` or `flush` call on an item of input `origin`, timed for the node timeout.
    pub(crate) fn timed<T>(&self, phase: Phase, origin: u64, call: impl FnOnce() -> T) -> T {
        *lock(&self.timed_call) = Some((Instant::now(), origin, phase));
        let result = call();
        *lock(&self.timed_call) = None;
        result
    }

    /// The `process` or `flush` call in progress: when it started, its input and phase.
    pub(crate) fn call_in_progress(&self) -> Option<(Instant, u64, Phase)> {
        *lock(&self.timed_call)
    }

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

    pub(crate) fn record_timing(&self, name: &str, sample: Duration) {
        let mut timings = self.timings.lock().unwrap_or_else(PoisonError::into_inner);
        match timings.get_mut(name) {
            Some(samples) => samples.push(sample),
            None => {
                timings.insert(name.to_owned(), vec![sample]);
            }
        }
    }

    pub(crate) fn snapshot(&self, node: &str) -> NodeMetrics {
        let timings = self
            .timings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|(name, samples)| TimingSummary::of(name, samples))
            .collect();
        NodeMetrics {
            node: node.to_owned(),
            items_in: self.items_in.load(Ordering::Relaxed),
            items_out: self.items_out.load(Ordering::Relaxed),
            process_time: Duration::from_nanos(self.process_nanos.load(Ordering::Relaxed)),
            blocked_time: Duration::from_nanos(self.blocked_nanos.load(Ordering::Relaxed)),
            timings,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// How long a run's phases took: start-up (interpreters, models) is paid once, streaming is what
/// the pipeline's throughput is measured on. `None` for a phase not reached, or not over yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunTiming {
    /// From the start of the run until every node was created and initialized.
    pub startup: Option<Duration>,
    /// From then until every node had processed its last input and flushed (or stopped).
    pub streaming: Option<Duration>,
}

/// When the run's phases began and ended, recorded by the threads that see them.
#[derive(Debug)]
pub(crate) struct PhaseClock {
    started: Instant,
    streaming_from: OnceLock<Instant>,
    streams: usize,
    streams_ended: AtomicUsize,
    streaming_until: OnceLock<Instant>,
}

impl PhaseClock {
    /// A clock started now for a run of `streams` nodes.
    pub(crate) fn new(streams: usize) -> PhaseClock {
        PhaseClock {
            started: Instant::now(),
            streaming_from: OnceLock::new(),
            streams,
            streams_ended: AtomicUsize::new(0),
            streaming_until: OnceLock::new(),
        }
    }

    /// Every node is initialized: data starts flowing.
    pub(crate) fn data_flows(&self) {
        let _ = self.streaming_from.set(Instant::now());
    }

    /// One node is done with its stream; the last one ends the streaming phase.
    pub(crate) fn stream_ended(&self) {
        if self.streams_ended.fetch_add(1, Ordering::AcqRel) + 1 == self.streams {
            let _ = self.streaming_until.set(Instant::now());
        }
    }

    pub(crate) fn timing(&self) -> RunTiming {
        let from = self.streaming_from.get();
        RunTiming {
            startup: from.map(|from| from.duration_since(self.started)),
            streaming: from
                .zip(self.streaming_until.get())
                .map(|(from, until)| until.duration_since(*from)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn summary_percentiles_are_nearest_rank() {
        let samples = millis(&[50, 10, 40, 20, 30, 60, 70, 80, 90, 100]);
        let summary = TimingSummary::of("latency", &samples).expect("samples");
        assert_eq!(summary.count, 10);
        assert_eq!(summary.median, Duration::from_millis(50));
        assert_eq!(summary.p90, Duration::from_millis(90));
        assert_eq!(summary.max, Duration::from_millis(100));
        let one = TimingSummary::of("latency", &millis(&[7])).expect("one sample");
        assert_eq!(
            (one.median, one.p90, one.max),
            (
                Duration::from_millis(7),
                Duration::from_millis(7),
                Duration::from_millis(7)
            )
        );
        assert_eq!(TimingSummary::of("latency", &[]), None);
    }

    #[test]
    fn counters_keep_samples_by_name() {
        let counters = NodeCounters::default();
        for sample in millis(&[3, 1, 2]) {
            counters.record_timing("b", sample);
        }
        counters.record_timing("a", Duration::from_millis(9));
        let names: Vec<_> = counters
            .snapshot("node")
            .timings
            .into_iter()
            .map(|t| (t.name, t.count, t.median))
            .collect();
        assert_eq!(
            names,
            [
                ("a".to_owned(), 1, Duration::from_millis(9)),
                ("b".to_owned(), 3, Duration::from_millis(2))
            ]
        );
    }
}
