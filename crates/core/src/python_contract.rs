//! The one contract between the runtime's Python engines and the SDK: the module both the
//! RustPython and the CPython engine import, and every name they call in it. Nothing else of the
//! SDK is called from Rust. `python/remotemedia/engine_api.py` is the other side; a test checks
//! it defines every name listed here (tests/sdk/test_engine_api.py). [`NodeCalls`] with
//! [`process_item`] and [`flush_outputs`] is the per-item protocol both engines follow.

use std::time::Duration;

use crate::engine::{Emitter, NodeError};
use crate::value::Value;

/// The SDK module the engines import.
pub const MODULE: &str = "remotemedia.engine_api";

/// `load_node_class(node_type, module=None) -> type`: a manifest node's class.
pub const LOAD_NODE_CLASS: &str = "load_node_class";

/// `catalogue() -> dict[str, str]`: catalogue class name → module.
pub const CATALOGUE: &str = "catalogue";

/// `class_engine(node_type, module=None) -> (verdict, detail)`: what a class needs, for placement.
pub const CLASS_ENGINE: &str = "class_engine";

/// `NodeDriver(node)`: `initialize()`, `flush()`, `cleanup()`, and `outputs(result)` for lazy
/// results of `process`.
pub const NODE_DRIVER: &str = "NodeDriver";

/// `lazy_result_types() -> tuple[type, ...]`: results that go through `NodeDriver.outputs`.
pub const LAZY_RESULT_TYPES: &str = "lazy_result_types";

/// `capture_output(write)`: `print`/`logging` of nodes become labelled lines handed to `write`.
pub const CAPTURE_OUTPUT: &str = "capture_output";

/// `set_node_label(node_id)`: the label of this thread's output lines.
pub const SET_NODE_LABEL: &str = "set_node_label";

/// `flush_output()`: writes out this thread's unfinished output line (after a node's cleanup).
pub const FLUSH_OUTPUT: &str = "flush_output";

/// Every name above, for the test that checks the SDK side.
pub const NAMES: [&str; 8] = [
    LOAD_NODE_CLASS,
    CATALOGUE,
    CLASS_ENGINE,
    NODE_DRIVER,
    LAZY_RESULT_TYPES,
    CAPTURE_OUTPUT,
    SET_NODE_LABEL,
    FLUSH_OUTPUT,
];

/// One node's calls into its interpreter, as a Python engine makes them — all the engine-specific
/// part of driving a node. [`process_item`] and [`flush_outputs`] are the rest, written once for both
/// Python engines, so the rules "`None` is no output, a plain value is one, a lazy result (see
/// [`LAZY_RESULT_TYPES`]) goes through `NodeDriver.outputs`, an iterator the run stops reading
/// is closed" cannot drift apart between them.
pub trait NodeCalls {
    /// A Python object of this interpreter.
    type Object;

    /// Calls the node's `process(item)`, returning what it returned.
    fn process(&mut self, item: Value) -> Result<Self::Object, NodeError>;

    /// Whether `result` is `None`.
    fn is_none(&self, result: &Self::Object) -> bool;

    /// Whether `result` is a lazy result.
    fn is_lazy(&self, result: &Self::Object) -> Result<bool, NodeError>;

    /// `driver.outputs(result)`: an iterator over a lazy result's outputs.
    fn outputs(&mut self, result: Self::Object) -> Result<Self::Object, NodeError>;

    /// The next item of the iterator `outputs`, or `None` at its end.
    fn next(&mut self, outputs: &Self::Object) -> Result<Option<Self::Object>, NodeError>;

    /// Closes an iterator the run stopped reading, so the node's `finally` blocks run. The run is
    /// already stopping: an error while closing has nobody left to tell.
    fn close(&mut self, outputs: &Self::Object);

    /// Converts one output and sends it downstream, leaving the interpreter free while it waits
    /// for room.
    fn emit(&mut self, output: &Self::Object, out: &mut dyn Emitter) -> Result<(), NodeError>;

    /// Takes out the `(name, seconds)` timing samples the node recorded during the call
    /// (`Node.record_timing`, kept in `NodeDriver.timings`); a length check when there are none.
    fn take_timings(&mut self) -> Result<Vec<(String, f64)>, NodeError>;

    /// The node's id, for errors.
    fn node_id(&self) -> &str;
}

/// Processes one item: calls `process`, emits its outputs as they are produced, then hands the
/// timing samples the node recorded to the executor.
pub fn process_item<C: NodeCalls>(
    calls: &mut C,
    item: Value,
    out: &mut dyn Emitter,
) -> Result<(), NodeError> {
    let result = calls.process(item)?;
    if calls.is_none(&result) {
        // Nothing emitted.
    } else if calls.is_lazy(&result)? {
        let outputs = calls.outputs(result)?;
        drain(calls, &outputs, out)?;
    } else {
        calls.emit(&result, out)?;
    }
    report_timings(calls, out)
}

/// Emits what `flush` returned (an iterator), then the timing samples the node recorded.
pub fn flush_outputs<C: NodeCalls>(
    calls: &mut C,
    outputs: &C::Object,
    out: &mut dyn Emitter,
) -> Result<(), NodeError> {
    drain(calls, outputs, out)?;
    report_timings(calls, out)
}

/// Hands the node's timing samples to the executor; seconds must be a duration (≥ 0, finite).
fn report_timings<C: NodeCalls>(calls: &mut C, out: &mut dyn Emitter) -> Result<(), NodeError> {
    for (name, seconds) in calls.take_timings()? {
        let sample = Duration::try_from_secs_f64(seconds).map_err(|_| {
            NodeError::exception(
                "ValueError",
                format!(
                    "node `{}` recorded timing `{name}` as {seconds} s; expected seconds >= 0",
                    calls.node_id()
                ),
            )
        })?;
        out.record_timing(&name, sample);
    }
    Ok(())
}

/// Emits every item of the iterator `outputs` (a lazy result's, or `flush`'s) as it is produced;
/// if the run stops meanwhile, the iterator is closed.
fn drain<C: NodeCalls>(
    calls: &mut C,
    outputs: &C::Object,
    out: &mut dyn Emitter,
) -> Result<(), NodeError> {
    while let Some(output) = calls.next(outputs)? {
        if let Err(err) = calls.emit(&output, out) {
            calls.close(outputs);
            return Err(err);
        }
    }
    Ok(())
}
