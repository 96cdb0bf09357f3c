//! One live CPython node on its stage thread.
//!
//! The node and the SDK's `NodeDriver` around it are created once; their bound methods are kept,
//! so each item costs one conversion in, one Python call and one conversion per output.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyList;
use remotemedia_core::engine::{Emitter, NodeError, NodeInstance, Stopped};
use remotemedia_core::value::Value;

use crate::convert::{self, ArrayStyle};
use crate::error::node_error;

/// Bound methods, looked up once.
pub(crate) struct NodeObjects {
    /// `node.process`: called directly; only lazy results (generators, coroutines, async
    /// generators) go through the driver, which is where their semantics live.
    pub process: Py<PyAny>,
    /// `driver._outputs(result)`: the driver's one place that turns a lazy result into outputs.
    pub outputs: Py<PyAny>,
    pub initialize: Py<PyAny>,
    pub flush: Py<PyAny>,
    pub cleanup: Py<PyAny>,
    pub lazy_types: Py<PyAny>,
    /// `driver.timings`: the `(name, seconds)` samples the node recorded (`Node.record_timing`),
    /// taken out after each call.
    pub timings: Py<PyList>,
}

pub(crate) struct CPythonNode {
    id: Arc<str>,
    /// Always `Some` until dropped (with the GIL held, see `Drop`).
    objects: Option<NodeObjects>,
    /// The engine's set-up lock, held during `initialize` (see `CPythonEngine`).
    setup: Arc<Mutex<()>>,
    /// Dropped after `objects`.
    _thread: StageThreadState,
}

impl CPythonNode {
    pub(crate) fn new(
        id: &str,
        objects: NodeObjects,
        thread: StageThreadState,
        setup: Arc<Mutex<()>>,
    ) -> Self {
        CPythonNode {
            id: Arc::from(id),
            objects: Some(objects),
            setup,
            _thread: thread,
        }
    }

    fn objects(&self) -> &NodeObjects {
        self.objects
            .as_ref()
            .expect("node objects live until the node is dropped")
    }
}

impl NodeInstance for CPythonNode {
    fn initialize(&mut self) -> Result<(), NodeError> {
        let _setting_up = self.setup.lock().unwrap_or_else(PoisonError::into_inner);
        let objects = self.objects();
        Python::attach(|py| {
            objects
                .initialize
                .call0(py)
                .map(drop)
                .map_err(|err| node_error(py, &err))
        })
    }

    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let objects = self.objects();
        let id = &self.id;
        Python::attach(|py| {
            let input = convert::to_python(py, item, ArrayStyle::NumpyIfAvailable)
                .map_err(|err| node_error(py, &err))?;
            let result = objects
                .process
                .bind(py)
                .call1((input,))
                .map_err(|err| node_error(py, &err))?;
            if !result.is_none() {
                let lazy = result
                    .is_instance(objects.lazy_types.bind(py))
                    .map_err(|err| node_error(py, &err))?;
                if lazy {
                    let outputs = objects
                        .outputs
                        .bind(py)
                        .call1((result,))
                        .map_err(|err| node_error(py, &err))?;
                    drain(py, id, &outputs, out)?;
                } else {
                    emit(py, id, &result, out)?;
                }
            }
            report_timings(py, id, objects.timings.bind(py), out)
        })
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let objects = self.objects();
        let id = &self.id;
        Python::attach(|py| {
            let outputs = objects
                .flush
                .bind(py)
                .call0()
                .map_err(|err| node_error(py, &err))?;
            drain(py, id, &outputs, out)?;
            report_timings(py, id, objects.timings.bind(py), out)
        })
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        let objects = self.objects();
        Python::attach(|py| {
            objects
                .cleanup
                .call0(py)
                .map(drop)
                .map_err(|err| node_error(py, &err))
        })
    }
}

impl Drop for CPythonNode {
    fn drop(&mut self) {
        if let Some(objects) = self.objects.take() {
            // At interpreter shutdown the objects are left to it.
            let _ = Python::try_attach(|_| drop(objects));
        }
    }
}

/// The stage thread's own Python thread state, kept from the node's creation to its drop.
///
/// Without it every call would attach through a fresh thread state, destroyed when the call
/// returns: Python's thread-local data (`threading.local`, which asyncio, numpy and the engine's
/// output labels rely on) would vanish between two items, and each call would pay for the set-up.
pub(crate) struct StageThreadState {
    state: pyo3::ffi::PyGILState_STATE,
    saved: *mut pyo3::ffi::PyThreadState,
}

impl StageThreadState {
    /// Creates this thread's state and releases the GIL, keeping the state.
    pub(crate) fn acquire() -> Self {
        // SAFETY: the interpreter is initialized (an engine exists); `PyGILState_Ensure` gives this
        // thread a state and the GIL, and `PyEval_SaveThread` releases the GIL keeping the state.
        unsafe {
            let state = pyo3::ffi::PyGILState_Ensure();
            let saved = pyo3::ffi::PyEval_SaveThread();
            StageThreadState { state, saved }
        }
    }
}

impl Drop for StageThreadState {
    fn drop(&mut self) {
        // SAFETY: dropped on the thread that acquired it (nodes never leave their stage thread),
        // which holds no GIL now: restore, then release the state `acquire` created.
        unsafe {
            pyo3::ffi::PyEval_RestoreThread(self.saved);
            pyo3::ffi::PyGILState_Release(self.state);
        }
    }
}

/// Emits every item of a Python iterator as it is produced. If the run stops meanwhile, the
/// iterator is closed so the node's `finally` blocks run.
fn drain(
    py: Python<'_>,
    id: &str,
    outputs: &Bound<'_, PyAny>,
    out: &mut dyn Emitter,
) -> Result<(), NodeError> {
    let iterator = outputs.try_iter().map_err(|err| node_error(py, &err))?;
    for item in iterator {
        let item = item.map_err(|err| node_error(py, &err))?;
        if let Err(err) = emit(py, id, &item, out) {
            if let Ok(close) = outputs.getattr("close") {
                // The run is already stopping; an error while closing has nobody left to tell.
                let _ = close.call0();
            }
            return Err(err);
        }
    }
    Ok(())
}

/// Hands the timing samples the node recorded during a call to the executor, emptying the list:
/// a length check when there are none.
fn report_timings(
    py: Python<'_>,
    id: &str,
    timings: &Bound<'_, PyList>,
    out: &mut dyn Emitter,
) -> Result<(), NodeError> {
    if timings.is_empty() {
        return Ok(());
    }
    for sample in timings.iter() {
        let (name, seconds): (String, f64) =
            sample.extract().map_err(|err| node_error(py, &err))?;
        let sample = Duration::try_from_secs_f64(seconds).map_err(|_| {
            NodeError::exception(
                "ValueError",
                format!(
                    "node `{id}` recorded timing `{name}` as {seconds} s; expected seconds >= 0"
                ),
            )
        })?;
        out.record_timing(&name, sample);
    }
    timings
        .call_method0("clear")
        .map(drop)
        .map_err(|err| node_error(py, &err))
}

/// Converts one output and sends it downstream, without the GIL while it waits for room.
fn emit(
    py: Python<'_>,
    id: &str,
    output: &Bound<'_, PyAny>,
    out: &mut dyn Emitter,
) -> Result<(), NodeError> {
    let value = convert::from_python(output).map_err(|err| {
        let reason = err.value(py).to_string();
        NodeError::exception(
            "TypeError",
            format!("node `{id}` emitted an unsupported output: {reason}"),
        )
    })?;
    let pending = OnThisThread((out, value));
    py.detach(move || pending.send()).map_err(NodeError::from)
}

/// An emitter and its value, used on the very thread that holds them while the GIL is released.
/// PyO3 asks for `Send` there only to keep Python references out of GIL-free code; neither is one.
struct OnThisThread<'a>((&'a mut dyn Emitter, Value));

// SAFETY: `detach` runs its closure on the calling thread; nothing is sent to another thread.
unsafe impl Send for OnThisThread<'_> {}

impl OnThisThread<'_> {
    fn send(self) -> Result<(), Stopped> {
        let (out, value) = self.0;
        out.emit(value)
    }
}
