//! The streaming executor with native test nodes: graph shapes, order, backpressure, lifecycle,
//! failures and cancellation. No timing assertions: counters, logs and gates only.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use remotemedia_core::engine::{Emitter, ItemTag, NodeError};
use remotemedia_core::executor::{self, Inputs, Output, Phase, RunError, RunOptions, RunReport};
use remotemedia_core::value::Value;

use crate::test_nodes::{Log, Script, TestEngine, int, manifest, plan};

const LIFECYCLE: [&str; 5] = ["create", "initialize", "process", "flush", "cleanup"];

fn options(capacity: usize) -> RunOptions {
    RunOptions {
        channel_capacity: NonZeroUsize::new(capacity).unwrap(),
        ..RunOptions::default()
    }
}

fn ints(values: impl IntoIterator<Item = i64>) -> Inputs {
    Inputs::new(values.into_iter().map(Value::Int).collect::<Vec<_>>())
}

/// Runs `ids`/`edges` on `engine` to the end: every output, and how the run ended.
fn run(
    ids: &[&str],
    edges: &[(&str, &str)],
    engine: TestEngine,
    inputs: impl Into<Inputs>,
) -> (Vec<Output>, Result<RunReport, RunError>) {
    run_with_capacity(ids, edges, engine, inputs, 2)
}

fn run_with_capacity(
    ids: &[&str],
    edges: &[(&str, &str)],
    engine: TestEngine,
    inputs: impl Into<Inputs>,
    capacity: usize,
) -> (Vec<Output>, Result<RunReport, RunError>) {
    let (graph, nodes) = plan(&manifest(ids, edges), engine);
    let mut run =
        executor::start(&graph, nodes, inputs, &options(capacity)).expect("threads start");
    let outputs: Vec<Output> = run.by_ref().collect();
    (outputs, run.finish())
}

fn values_from(outputs: &[Output], sink: &str) -> Vec<i64> {
    outputs
        .iter()
        .filter(|o| &*o.sink == sink)
        .map(|o| int(&o.value))
        .collect()
}

/// Waits (without asserting anything about time) until `ready` holds; gives up after a minute so
/// a broken executor fails the test instead of hanging it.
fn wait_until(ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
}

fn node_failure(result: Result<RunReport, RunError>) -> (String, Phase, NodeError) {
    match result {
        Err(RunError::Node { node, phase, error }) => (node, phase, error),
        other => panic!("expected a node failure, got {other:?}"),
    }
}

#[test]
fn linear_pipeline_streams_every_item_through_the_full_lifecycle() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("double", || Script::map(|x| x * 2))
        // Slow to initialize: no item may reach any node before it is ready.
        .node("late", || {
            Script::map(|x| x + 1).on_initialize(|| {
                thread::sleep(Duration::from_millis(50));
                Ok(())
            })
        })
        .node("sink", Script::pass);
    let (outputs, result) = run(
        &["double", "late", "sink"],
        &[("double", "late"), ("late", "sink")],
        engine,
        ints(0..100),
    );

    let report = result.expect("the run succeeds");
    assert!(!report.cancelled);
    assert_eq!(
        values_from(&outputs, "sink"),
        (0..100).map(|x| x * 2 + 1).collect::<Vec<_>>()
    );
    for node in ["double", "late", "sink"] {
        assert_eq!(log.steps(node), LIFECYCLE, "lifecycle of {node}");
        assert_eq!(log.count(node, "process"), 100);
    }
    let calls = log.calls();
    let last_initialize = calls.iter().rposition(|c| c.step == "initialize").unwrap();
    let first_process = calls.iter().position(|c| c.step == "process").unwrap();
    assert!(
        last_initialize < first_process,
        "data flowed before every node was initialized"
    );

    let metrics: Vec<_> = report
        .metrics
        .iter()
        .map(|m| (m.node.as_str(), m.items_in, m.items_out))
        .collect();
    assert_eq!(
        metrics,
        [("double", 100, 100), ("late", 100, 100), ("sink", 100, 100)]
    );
}

#[test]
fn each_node_lives_on_its_own_thread_from_creation_to_cleanup() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("a", Script::pass)
        .node("b", Script::pass);
    let (_, result) = run(&["a", "b"], &[("a", "b")], engine, ints(0..3));
    result.unwrap();

    let calls = log.calls();
    let thread_of = |node: &str| {
        let threads: Vec<_> = calls
            .iter()
            .filter(|c| c.node == node)
            .map(|c| c.thread)
            .collect();
        assert!(
            threads.windows(2).all(|w| w[0] == w[1]),
            "{node} moved between threads"
        );
        threads[0]
    };
    assert_ne!(thread_of("a"), thread_of("b"));
    assert_ne!(thread_of("a"), thread::current().id());
}

#[test]
fn fan_out_sends_every_output_to_every_successor_in_order() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("source", Script::counter)
        .node("plus", || Script::map(|x| x + 1000))
        .node("copy", Script::pass);
    let (outputs, result) = run(
        &["source", "plus", "copy"],
        &[("source", "plus"), ("source", "copy")],
        engine,
        ints([50]),
    );

    result.unwrap();
    assert_eq!(
        values_from(&outputs, "plus"),
        (1000..1050).collect::<Vec<_>>()
    );
    assert_eq!(values_from(&outputs, "copy"), (0..50).collect::<Vec<_>>());
    assert_eq!(outputs.len(), 100);
}

/// Tags each item with which predecessor it came through: 1_000_000 * tag + item.
fn tagging(tag: i64) -> impl Fn() -> Script {
    move || Script::map(move |x| tag * 1_000_000 + x)
}

/// Every value of `values` with `tag`, untagged, in the order received.
fn received_from(values: &[i64], tag: i64) -> Vec<i64> {
    values
        .iter()
        .filter(|v| **v / 1_000_000 == tag)
        .map(|v| v % 1_000_000)
        .collect()
}

#[test]
fn fan_in_merges_predecessors_keeping_each_edge_in_order_and_flushes_once_after_all() {
    let log = Log::default();
    let seen = Arc::new(AtomicU64::new(0));
    let seen_in_merge = Arc::clone(&seen);
    let engine = TestEngine::new(&log)
        .node("left", tagging(1))
        .node("right", tagging(2))
        .node("merge", move || {
            let seen = Arc::clone(&seen_in_merge);
            Script::pass()
                .on_process({
                    let seen = Arc::clone(&seen);
                    move |item, out| {
                        seen.fetch_add(1, Ordering::Relaxed);
                        Ok(out.emit(item)?)
                    }
                })
                // -1 marks the flush: it must come after both predecessors ended.
                .on_flush(move |out| {
                    assert_eq!(seen.load(Ordering::Relaxed), 400);
                    Ok(out.emit(Value::Int(-1))?)
                })
        });
    let (outputs, result) = run(
        &["left", "right", "merge"],
        &[("left", "merge"), ("right", "merge")],
        engine,
        ints(0..200),
    );

    result.unwrap();
    let values = values_from(&outputs, "merge");
    assert_eq!(values.len(), 401);
    assert_eq!(values.last(), Some(&-1));
    assert_eq!(received_from(&values, 1), (0..200).collect::<Vec<_>>());
    assert_eq!(received_from(&values, 2), (0..200).collect::<Vec<_>>());
    assert_eq!(log.count("merge", "flush"), 1);
}

#[test]
fn diamond_delivers_both_paths_in_order_even_with_one_item_channels() {
    for capacity in [1, 16] {
        let log = Log::default();
        let engine = TestEngine::new(&log)
            .node("source", Script::counter)
            .node("up", tagging(1))
            .node("down", tagging(2))
            .node("join", Script::pass);
        let (outputs, result) = run_with_capacity(
            &["source", "up", "down", "join"],
            &[
                ("source", "up"),
                ("source", "down"),
                ("up", "join"),
                ("down", "join"),
            ],
            engine,
            ints([300]),
            capacity,
        );

        result.unwrap();
        let values = values_from(&outputs, "join");
        assert_eq!(values.len(), 600);
        assert_eq!(received_from(&values, 1), (0..300).collect::<Vec<_>>());
        assert_eq!(received_from(&values, 2), (0..300).collect::<Vec<_>>());
        for node in ["source", "up", "down", "join"] {
            assert_eq!(log.steps(node), LIFECYCLE, "lifecycle of {node}");
        }
    }
}

/// Items sent on an edge and not yet taken by the receiving node, measured by the sender after
/// each send; the maximum ever seen.
#[derive(Default)]
struct EdgeProbe {
    sent: AtomicU64,
    taken: AtomicU64,
    max_in_flight: AtomicU64,
}

impl EdgeProbe {
    fn after_send(&self) {
        let sent = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let in_flight = sent - self.taken.load(Ordering::SeqCst);
        self.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
    }

    fn take(&self) {
        self.taken.fetch_add(1, Ordering::SeqCst);
    }

    fn in_flight(&self) -> u64 {
        self.sent.load(Ordering::SeqCst) - self.taken.load(Ordering::SeqCst)
    }
}

#[test]
fn a_fast_producer_never_has_more_than_the_capacity_in_flight_per_edge() {
    for capacity in [1u64, 3, 16] {
        let first = Arc::new(EdgeProbe::default());
        let second = Arc::new(EdgeProbe::default());
        let log = Log::default();
        let (source_edge, relay_in, relay_out) =
            (Arc::clone(&first), Arc::clone(&first), Arc::clone(&second));
        let engine = TestEngine::new(&log)
            .node("source", move || {
                let edge = Arc::clone(&source_edge);
                Script::pass().on_process(move |item, out| {
                    for i in 0..int(&item) {
                        out.emit(Value::Int(i))?;
                        edge.after_send();
                    }
                    Ok(())
                })
            })
            .node("relay", move || {
                let (taken, sent) = (Arc::clone(&relay_in), Arc::clone(&relay_out));
                Script::pass().on_process(move |item, out| {
                    taken.take();
                    out.emit(item)?;
                    sent.after_send();
                    Ok(())
                })
            })
            .node("slow", {
                let (first, second) = (Arc::clone(&first), Arc::clone(&second));
                move || {
                    let (first, second) = (Arc::clone(&first), Arc::clone(&second));
                    let mut gated = true;
                    Script::pass().on_process(move |item, out| {
                        second.take();
                        // Hold the first item until both edges are full: the producers must block.
                        if gated {
                            wait_until(|| {
                                first.in_flight() >= capacity && second.in_flight() >= capacity
                            });
                            gated = false;
                        }
                        Ok(out.emit(item)?)
                    })
                }
            });
        let (graph, nodes) = plan(
            &manifest(
                &["source", "relay", "slow"],
                &[("source", "relay"), ("relay", "slow")],
            ),
            engine,
        );
        let inputs = ints([2000]);
        let mut run = executor::start(&graph, nodes, inputs, &options(capacity as usize)).unwrap();
        let delivered = run.by_ref().count();
        let report = run.finish().unwrap();

        assert_eq!(delivered, 2000);
        for (edge, probe) in [("source -> relay", &first), ("relay -> slow", &second)] {
            let max = probe.max_in_flight.load(Ordering::SeqCst);
            // The documented bound (`RunOptions::channel_capacity`): `capacity` hand-offs of up
            // to `min(capacity, 8)` items, a batch being gathered by the producer and the rest of
            // one at the consumer; the receiver counts an item a moment after taking it, hence
            // the one item of slack.
            let batch = capacity.min(8);
            let bound = capacity * batch + 2 * (batch - 1) + 1;
            assert!(
                max <= bound,
                "{edge}: {max} items in flight with capacity {capacity} (at most {bound})"
            );
            assert!(
                max >= capacity,
                "{edge}: never filled ({max} < {capacity}); the test is not measuring"
            );
        }
        let source = &report.metrics[0];
        assert_eq!((source.items_in, source.items_out), (1, 2000));
        assert!(
            source.blocked_time > Duration::ZERO,
            "the source never waited for room"
        );
    }
}

/// Run inputs `0..count`, counting how many the feeder has pulled so far.
fn counted_inputs(count: i64, pulled: &Arc<AtomicU64>) -> Inputs {
    let pulled = Arc::clone(pulled);
    Inputs::new((0..count).map(move |value| {
        pulled.fetch_add(1, Ordering::SeqCst);
        Value::Int(value)
    }))
}

#[test]
fn a_backlog_is_handed_over_in_batches_and_every_item_arrives_in_order_and_is_counted() {
    const ITEMS: u64 = 2000;
    let capacity = 4u64;
    let pulled = Arc::new(AtomicU64::new(0));
    let emitted = Arc::new(AtomicU64::new(0));
    let ahead = Arc::new(AtomicU64::new(0));
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("busy", {
            let (pulled, emitted) = (Arc::clone(&pulled), Arc::clone(&emitted));
            move || {
                let (pulled, emitted) = (Arc::clone(&pulled), Arc::clone(&emitted));
                let mut taken = 0;
                Script::pass().on_process(move |item, out| {
                    taken += 1;
                    // Work on each item only once the inbox is full behind it (or the inputs are
                    // all read): this node always has a backlog.
                    wait_until(|| {
                        let pulled = pulled.load(Ordering::SeqCst);
                        pulled > taken + capacity || pulled == ITEMS
                    });
                    out.emit(item)?;
                    emitted.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
            }
        })
        .node("relay", {
            let (emitted, ahead) = (Arc::clone(&emitted), Arc::clone(&ahead));
            move || {
                let (emitted, ahead) = (Arc::clone(&emitted), Arc::clone(&ahead));
                let mut first = true;
                Script::pass().on_process(move |item, out| {
                    if first {
                        // One item at a time, `busy` could get at most `capacity + 1` items ahead
                        // of a consumer holding its first item; in batches, several times that.
                        wait_until(|| emitted.load(Ordering::SeqCst) > 2 * capacity + 1);
                        ahead.store(emitted.load(Ordering::SeqCst), Ordering::SeqCst);
                        first = false;
                    }
                    Ok(out.emit(item)?)
                })
            }
        })
        .node("sink", || Script::map(|x| x + 1));
    let (graph, nodes) = plan(
        &manifest(
            &["busy", "relay", "sink"],
            &[("busy", "relay"), ("relay", "sink")],
        ),
        engine,
    );
    let inputs = counted_inputs(ITEMS as i64, &pulled);
    // Batches of quick calls only: a linger longer than the test, so a thread of `busy` paused
    // by a loaded machine cannot break a batch up.
    let options = RunOptions {
        batch_linger: Duration::from_secs(3600),
        ..options(capacity as usize)
    };
    let mut run = executor::start(&graph, nodes, inputs, &options).unwrap();
    let outputs: Vec<Output> = run.by_ref().collect();
    let report = run.finish().unwrap();

    assert!(
        ahead.load(Ordering::SeqCst) > 2 * capacity + 1,
        "`busy` never got ahead in batches ({} items)",
        ahead.load(Ordering::SeqCst)
    );
    assert_eq!(
        values_from(&outputs, "sink"),
        (1..=ITEMS as i64).collect::<Vec<_>>()
    );
    let counts: Vec<_> = report
        .metrics
        .iter()
        .map(|m| (m.node.as_str(), m.items_in, m.items_out))
        .collect();
    assert_eq!(
        counts,
        [
            ("busy", ITEMS, ITEMS),
            ("relay", ITEMS, ITEMS),
            ("sink", ITEMS, ITEMS)
        ]
    );
    for node in ["busy", "relay", "sink"] {
        assert_eq!(log.steps(node), LIFECYCLE, "lifecycle of {node}");
    }
}

#[test]
fn a_slow_node_with_a_backlog_hands_each_output_over_before_its_next_call() {
    const ITEMS: u64 = 6;
    // Each call of `slow` takes longer than outputs may wait for a batch.
    const CALL: Duration = Duration::from_millis(5);
    assert!(CALL > RunOptions::default().batch_linger);
    // What the run's reader has received so far; `slow` waits for it before each next item.
    let received = Arc::new(AtomicU64::new(0));
    let waited_in_vain = Arc::new(AtomicU64::new(0));
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("slow", {
            let (received, in_vain) = (Arc::clone(&received), Arc::clone(&waited_in_vain));
            move || {
                let (received, in_vain) = (Arc::clone(&received), Arc::clone(&in_vain));
                let mut taken = 0;
                Script::pass().on_process(move |item, out| {
                    // The previous output must be out of the pipeline before this call starts:
                    // a stage holding it for a batch would leave this waiting in vain (once;
                    // later calls then go on, so a broken executor fails fast).
                    if in_vain.load(Ordering::SeqCst) == 0 {
                        wait_until(|| received.load(Ordering::SeqCst) >= taken);
                        if received.load(Ordering::SeqCst) < taken {
                            in_vain.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    taken += 1;
                    thread::sleep(CALL);
                    Ok(out.emit(item)?)
                })
            }
        })
        .node("sink", Script::pass);
    let (graph, nodes) = plan(&manifest(&["slow", "sink"], &[("slow", "sink")]), engine);
    // Every input is in `slow`'s inbox before it finishes its first call: it has a backlog.
    let mut run = executor::start(&graph, nodes, ints(0..ITEMS as i64), &options(16)).unwrap();
    let mut values = Vec::new();
    for output in run.by_ref() {
        values.push(int(&output.value));
        received.fetch_add(1, Ordering::SeqCst);
    }
    run.finish().unwrap();

    assert_eq!(values, (0..ITEMS as i64).collect::<Vec<_>>());
    assert_eq!(
        waited_in_vain.load(Ordering::SeqCst),
        0,
        "an output of a slow call was held back for a batch"
    );
}

#[test]
fn a_generator_without_backlog_streams_each_item_before_yielding_the_next() {
    const ITEMS: i64 = 5;
    // What the run's reader has received so far; the generator waits for it between items.
    let received = Arc::new(AtomicU64::new(0));
    let waited_in_vain = Arc::new(AtomicU64::new(0));
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("generator", {
            let (received, in_vain) = (Arc::clone(&received), Arc::clone(&waited_in_vain));
            move || {
                let (received, in_vain) = (Arc::clone(&received), Arc::clone(&in_vain));
                Script::pass().on_process(move |item, out| {
                    for value in 0..int(&item) {
                        out.emit(Value::Int(value))?;
                        // Yield the next item only once this one came out of the pipeline: a
                        // stage holding it back would leave this waiting in vain.
                        let expected = value as u64 + 1;
                        wait_until(|| received.load(Ordering::SeqCst) >= expected);
                        if received.load(Ordering::SeqCst) < expected {
                            in_vain.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(())
                })
            }
        })
        .node("relay", Script::pass)
        .node("sink", || Script::map(|x| x * 10));
    let (graph, nodes) = plan(
        &manifest(
            &["generator", "relay", "sink"],
            &[("generator", "relay"), ("relay", "sink")],
        ),
        engine,
    );
    let mut run = executor::start(&graph, nodes, ints([ITEMS]), &options(16)).unwrap();
    let mut values = Vec::new();
    for output in run.by_ref() {
        values.push(int(&output.value));
        received.fetch_add(1, Ordering::SeqCst);
    }
    let report = run.finish().unwrap();

    assert_eq!(values, [0, 10, 20, 30, 40]);
    assert_eq!(
        waited_in_vain.load(Ordering::SeqCst),
        0,
        "an item was held back"
    );
    assert_eq!(
        (report.metrics[0].items_in, report.metrics[0].items_out),
        (1, 5)
    );
}

#[test]
fn initialize_failure_lets_no_data_flow_and_cleans_up_every_created_node() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("first", Script::pass)
        .node("broken", || {
            Script::pass().on_initialize(|| {
                Err(NodeError::exception(
                    "FileNotFoundError",
                    "no model at /models/x",
                ))
            })
        })
        .node("last", Script::pass);
    let (outputs, result) = run(
        &["first", "broken", "last"],
        &[("first", "broken"), ("broken", "last")],
        engine,
        ints(0..10),
    );

    let (node, phase, error) = node_failure(result);
    assert_eq!((node.as_str(), phase), ("broken", Phase::Initialize));
    assert_eq!(error.kind.as_deref(), Some("FileNotFoundError"));
    assert!(outputs.is_empty());
    for node in ["first", "broken", "last"] {
        assert_eq!(
            log.steps(node),
            ["create", "initialize", "cleanup"],
            "lifecycle of {node}"
        );
    }
}

#[test]
fn create_failure_names_the_node_and_cleans_up_the_others() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("ok", Script::pass)
        .fallible_node("unknown", || {
            Err(NodeError::new("unknown node type `Nope`"))
        });
    let (outputs, result) = run(&["ok", "unknown"], &[("ok", "unknown")], engine, ints(0..3));

    let (node, phase, error) = node_failure(result);
    assert_eq!(
        (node.as_str(), phase, error.message.as_str()),
        ("unknown", Phase::Create, "unknown node type `Nope`")
    );
    assert!(outputs.is_empty());
    assert_eq!(log.steps("ok"), ["create", "initialize", "cleanup"]);
    assert_eq!(log.steps("unknown"), ["create"]);
}

#[test]
fn process_failure_mid_stream_keeps_earlier_outputs_and_cleans_up_everything() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("source", Script::counter)
        .node("other", Script::pass)
        .node("fails", || {
            Script::pass().on_process(|item, out| {
                if int(&item) == 5 {
                    return Err(
                        NodeError::exception("ZeroDivisionError", "division by zero")
                            .with_traceback(
                                "Traceback (most recent call last):\n  File \"node.py\", line 3\n",
                            ),
                    );
                }
                Ok(out.emit(item)?)
            })
        });
    // An endless input: the source is blocked on a full channel when the failure comes.
    let (outputs, result) = run(
        &["source", "other", "fails"],
        &[("source", "other"), ("source", "fails")],
        engine,
        Inputs::new((0..).map(|_| Value::Int(1_000_000))),
    );

    let error = result.unwrap_err();
    assert_eq!(error.to_string(), "node `fails` failed in process");
    assert!(error.traceback().unwrap().contains("node.py"));
    let (node, phase, error) = node_failure(Err(error));
    assert_eq!((node.as_str(), phase), ("fails", Phase::Process));
    assert_eq!(error.to_string(), "ZeroDivisionError: division by zero");
    assert_eq!(
        values_from(&outputs, "fails"),
        [0, 1, 2, 3, 4],
        "outputs emitted before the failure"
    );
    for node in ["source", "other", "fails"] {
        assert_eq!(
            log.count(node, "flush"),
            0,
            "{node} flushed after a failure"
        );
        assert_eq!(
            log.steps(node).last(),
            Some(&"cleanup"),
            "{node} was not cleaned up"
        );
        assert_eq!(log.count(node, "cleanup"), 1);
    }
}

/// A node that keeps up to `window` items in flight, like a pipelined remote node: each call
/// answers the oldest item beyond the window (emitting it, or failing on `fails_on`), `settle`
/// answers the rest; outputs and the failure carry their own item's tag.
fn pipelined(window: usize, fails_on: i64) -> Script {
    type Held = Rc<RefCell<VecDeque<(ItemTag, Value)>>>;
    fn answer(held: &Held, out: &mut dyn Emitter, fails_on: i64) -> Result<(), NodeError> {
        let (tag, value) = held.borrow_mut().pop_front().expect("an item in flight");
        if int(&value) == fails_on {
            out.failing_on(tag);
            return Err(NodeError::new(format!("failed on {fails_on}")));
        }
        Ok(out.emit_for(tag, value)?)
    }
    let held: Held = Rc::default();
    let settling = Rc::clone(&held);
    Script::pass()
        .on_process(move |item, out| {
            held.borrow_mut().push_back((out.item(), item));
            if held.borrow().len() > window {
                answer(&held, out, fails_on)?;
            }
            Ok(())
        })
        .on_settle(move |out| {
            while !settling.borrow().is_empty() {
                answer(&settling, out, fails_on)?;
            }
            Ok(())
        })
}

#[test]
fn a_pipelined_node_failing_on_an_earlier_item_cuts_the_run_at_that_item() {
    // `other` fails on input 6; `piped`, three items behind, fails on input 5 while called
    // for input 8 (or in settle, once `other` stopped the inputs). Input 5 is the earlier
    // failure: it is the one reported, and every output of inputs 0..5 is delivered.
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("source", Script::pass)
        .node("piped", || pipelined(3, 5))
        .node("other", || {
            Script::pass().on_process(|item, out| {
                if int(&item) == 6 {
                    return Err(NodeError::new("failed on 6"));
                }
                Ok(out.emit(item)?)
            })
        });
    let (outputs, result) = run(
        &["source", "piped", "other"],
        &[("source", "piped"), ("source", "other")],
        engine,
        ints(0..20),
    );

    let (node, phase, error) = node_failure(result);
    assert_eq!((node.as_str(), phase), ("piped", Phase::Process));
    assert_eq!(error.to_string(), "failed on 5");
    assert_eq!(values_from(&outputs, "piped"), [0, 1, 2, 3, 4]);
    // `other` may have answered input 5 before the failure was known, never input 6.
    let other = values_from(&outputs, "other");
    assert!(
        other == [0, 1, 2, 3, 4] || other == [0, 1, 2, 3, 4, 5],
        "{other:?}"
    );
}

#[test]
fn a_pipelined_node_delivers_every_item_in_flight_in_order_at_the_end() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("source", Script::pass)
        .node("piped", || pipelined(3, -1));
    let (outputs, result) = run(
        &["source", "piped"],
        &[("source", "piped")],
        engine,
        ints(0..10),
    );
    result.expect("the run succeeds");
    assert_eq!(values_from(&outputs, "piped"), (0..10).collect::<Vec<_>>());
}

#[test]
fn a_failure_ends_the_run_while_the_next_input_is_still_to_come() {
    // A live input (stdin, say): after two items it waits — here until the test gives up.
    let ended = Arc::new(AtomicBool::new(false));
    let input_ended = Arc::clone(&ended);
    let (_hold, waiting) = crossbeam_channel::bounded::<()>(0);
    let inputs = (0..2).map(Value::Int).chain(std::iter::from_fn(move || {
        let _ = waiting.recv_timeout(Duration::from_secs(60));
        input_ended.store(true, Ordering::SeqCst);
        None
    }));
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("source", Script::pass)
        .node("fails", || {
            Script::pass().on_process(|item, out| {
                if int(&item) == 1 {
                    return Err(NodeError::new("failed on 1"));
                }
                Ok(out.emit(item)?)
            })
        })
        .node("sink", Script::pass);
    let (outputs, result) = run(
        &["source", "fails", "sink"],
        &[("source", "fails"), ("fails", "sink")],
        engine,
        Inputs::new(inputs),
    );

    let (node, _, _) = node_failure(result);
    assert_eq!(node, "fails");
    assert_eq!(values_from(&outputs, "sink"), [0]);
    assert!(
        !ended.load(Ordering::SeqCst),
        "the run waited for the next input"
    );
}

#[test]
fn flush_failure_keeps_the_outputs_emitted_before_it() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("source", Script::pass)
        .node("batch", || {
            Script::pass().on_flush(|out| {
                out.emit(Value::Int(100))?;
                Err(NodeError::exception("ValueError", "incomplete batch"))
            })
        });
    let (outputs, result) = run(
        &["source", "batch"],
        &[("source", "batch")],
        engine,
        ints(0..3),
    );

    let (node, phase, _) = node_failure(result);
    assert_eq!((node.as_str(), phase), ("batch", Phase::Flush));
    assert_eq!(values_from(&outputs, "batch"), [0, 1, 2, 100]);
    assert_eq!(log.steps("source"), LIFECYCLE);
    assert_eq!(log.steps("batch"), LIFECYCLE);
}

#[test]
fn a_panicking_node_fails_the_run_like_an_error() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("source", Script::pass)
        .node("panics", || {
            Script::pass().on_process(|item, _| panic!("bad item {item:?}"))
        });
    let (_, result) = run(
        &["source", "panics"],
        &[("source", "panics")],
        engine,
        ints(0..3),
    );

    let (node, phase, error) = node_failure(result);
    assert_eq!((node.as_str(), phase), ("panics", Phase::Process));
    assert_eq!(error.to_string(), "panic: bad item Int(0)");
    assert_eq!(log.count("source", "cleanup"), 1);
    assert_eq!(log.count("panics", "cleanup"), 1);
}

#[test]
fn cleanup_failure_is_reported_without_cutting_other_nodes_short() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("leaky", || {
            Script::pass().on_cleanup(|| Err(NodeError::new("could not close the device")))
        })
        .node("sink", || {
            Script::pass().on_flush(|out| Ok(out.emit(Value::Int(-1))?))
        });
    let (outputs, result) = run(&["leaky", "sink"], &[("leaky", "sink")], engine, ints(0..5));

    let (node, phase, _) = node_failure(result);
    assert_eq!((node.as_str(), phase), ("leaky", Phase::Cleanup));
    assert_eq!(values_from(&outputs, "sink"), [0, 1, 2, 3, 4, -1]);
    assert_eq!(log.steps("sink"), LIFECYCLE);
}

#[test]
fn a_bad_input_ends_the_stream_there_and_fails_the_run() {
    let log = Log::default();
    let engine = TestEngine::new(&log).node("only", || {
        Script::pass().on_flush(|out| Ok(out.emit(Value::Int(-1))?))
    });
    let inputs = Inputs::fallible(vec![
        Ok(Value::Int(1)),
        Ok(Value::Int(2)),
        Err("line 3: not JSON"),
        Ok(Value::Int(4)),
    ]);
    let (outputs, result) = run(&["only"], &[], engine, inputs);

    match result {
        Err(error @ RunError::Input(_)) => {
            assert_eq!(
                format!("{:#}", anyhow::Error::new(error)),
                "reading the run's inputs failed: line 3: not JSON"
            )
        }
        other => panic!("expected an input error, got {other:?}"),
    }
    assert_eq!(
        values_from(&outputs, "only"),
        [1, 2, -1],
        "the inputs before the bad one, flushed"
    );
    assert_eq!(log.steps("only"), LIFECYCLE);
}

#[test]
fn cancelling_lets_the_current_item_finish_then_cleans_up_everything() {
    let log = Log::default();
    let (release, released) = crossbeam_channel::bounded::<()>(1);
    let engine = TestEngine::new(&log)
        .node("source", Script::counter)
        .node("sink", move || {
            let released = released.clone();
            Script::pass().on_process(move |item, out| {
                let value = int(&item);
                out.emit(item)?;
                if value == 3 {
                    // Busy with an item when the cancellation comes.
                    let _ = released.recv();
                }
                Ok(())
            })
        });
    let (graph, nodes) = plan(
        &manifest(&["source", "sink"], &[("source", "sink")]),
        engine,
    );
    // Endless inputs, each asking the source for many items: only cancellation ends this run.
    let inputs = Inputs::new((0..).map(|_| Value::Int(1_000_000)));
    let mut run = executor::start(&graph, nodes, inputs, &options(4)).unwrap();
    let handle = run.handle();

    let mut received = Vec::new();
    for output in run.by_ref() {
        received.push(int(&output.value));
        if received.len() == 4 {
            handle.cancel();
            release.send(()).unwrap();
        }
    }
    let report = run.finish().expect("a cancelled run is not a failure");

    assert!(report.cancelled);
    assert_eq!(received, [0, 1, 2, 3]);
    for node in ["source", "sink"] {
        assert_eq!(
            log.count(node, "flush"),
            0,
            "{node} flushed after cancellation"
        );
        assert_eq!(log.count(node, "cleanup"), 1, "{node} cleaned up once");
    }
}

#[test]
fn cancelling_during_initialization_lets_no_data_flow_and_cleans_up() {
    let log = Log::default();
    let (release, released) = crossbeam_channel::bounded::<()>(1);
    let engine = TestEngine::new(&log)
        .node("source", Script::pass)
        .node("loading", move || {
            let released = released.clone();
            // Still loading its model when the run is cancelled.
            Script::pass().on_initialize(move || {
                let _ = released.recv();
                Ok(())
            })
        });
    let (graph, nodes) = plan(
        &manifest(&["source", "loading"], &[("source", "loading")]),
        engine,
    );
    let mut run = executor::start(&graph, nodes, ints(0..10), &options(2)).unwrap();
    run.cancel();
    release.send(()).unwrap();

    assert_eq!(run.by_ref().count(), 0);
    assert!(run.finish().unwrap().cancelled);
    for node in ["source", "loading"] {
        assert_eq!(
            log.steps(node),
            ["create", "initialize", "cleanup"],
            "lifecycle of {node}"
        );
    }
}

#[test]
fn dropping_a_run_mid_stream_cancels_it_and_cleans_up() {
    let log = Log::default();
    let engine = TestEngine::new(&log)
        .node("source", Script::counter)
        .node("sink", Script::pass);
    let (graph, nodes) = plan(
        &manifest(&["source", "sink"], &[("source", "sink")]),
        engine,
    );
    let mut run = executor::start(
        &graph,
        nodes,
        Inputs::new((0..).map(Value::Int)),
        &options(2),
    )
    .unwrap();
    let handle = run.handle();

    assert!(run.by_ref().take(10).count() == 10);
    drop(run);

    assert!(handle.is_finished());
    assert_eq!(log.count("source", "cleanup"), 1);
    assert_eq!(log.count("sink", "cleanup"), 1);
}

#[test]
fn a_completed_run_is_not_reported_as_cancelled() {
    let log = Log::default();
    let engine = TestEngine::new(&log).node("only", Script::pass);
    let (graph, nodes) = plan(&manifest(&["only"], &[]), engine);
    let mut run = executor::start(&graph, nodes, ints(0..3), &options(2)).unwrap();
    let handle = run.handle();
    assert_eq!(run.by_ref().count(), 3);
    handle.cancel(); // too late: everything already ran
    assert!(!run.finish().unwrap().cancelled);
    assert_eq!(log.steps("only"), LIFECYCLE);
}
