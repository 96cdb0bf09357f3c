//! One live CPython node on its stage thread.
//!
//! The node and the SDK's `NodeDriver` around it are created once; their bound methods are kept,
//! so each item costs one conversion in, one Python call and one conversion per output.

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;
use pyo3::types::PyList;
use remotemedia_core::engine::{CallGate, Emitter, Interrupt, NodeError, NodeInstance, Stopped};
use remotemedia_core::python_contract;
use remotemedia_core::value::Value;

use crate::convert::{self, ArrayStyle};
use crate::error::node_error;

/// Bound methods, looked up once.
pub(crate) struct NodeObjects {
    /// `node.process`: called directly; only lazy results (generators, coroutines, async
    /// generators) go through the driver, which is where their semantics live.
    pub process: Py<PyAny>,
    /// `driver.outputs(result)`: the driver's one place that turns a lazy result into outputs.
    pub outputs: Py<PyAny>,
    pub initialize: Py<PyAny>,
    pub flush: Py<PyAny>,
    pub cleanup: Py<PyAny>,
    pub lazy_types: Py<PyAny>,
    /// The contract's `flush_output`, called after `cleanup`.
    pub flush_output: Py<PyAny>,
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
    /// Raises `KeyboardInterrupt` into this node's `process` or `flush` when the run stops.
    interrupter: Arc<CallInterrupter>,
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
            interrupter: Arc::new(CallInterrupter::for_this_thread()),
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
        self.interrupter.armed(|| {
            Python::attach(|py| {
                python_contract::process_item(&mut Calls { py, id, objects }, item, out)
            })
        })
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let objects = self.objects();
        let id = &self.id;
        self.interrupter.armed(|| {
            Python::attach(|py| {
                let outputs = objects
                    .flush
                    .bind(py)
                    .call0()
                    .map_err(|err| node_error(py, &err))?;
                python_contract::flush_outputs(&mut Calls { py, id, objects }, &outputs, out)
            })
        })
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        let objects = self.objects();
        Python::attach(|py| {
            let cleaned = objects.cleanup.call0(py).map(drop);
            // Whatever the node left unfinished on its last line.
            let flushed = objects.flush_output.call0(py).map(drop);
            cleaned.and(flushed).map_err(|err| node_error(py, &err))
        })
    }
    fn interrupter(&self) -> Option<Arc<dyn Interrupt>> {
        Some(Arc::clone(&self.interrupter) as Arc<dyn Interrupt>)
    }
}

/// Interrupts a stage thread's Python code with `PyThreadState_SetAsyncExc`, only while that
/// thread is inside `process` or `flush`, so that `cleanup` is never hit.
///
/// `interrupt` (any thread) raises with the gate locked, only while the call is armed; the stage
/// thread, once the call has returned and released the GIL, disarms and withdraws an exception
/// not yet delivered.
struct CallInterrupter {
    /// `PyThread_get_thread_ident()` of the stage thread.
    thread: std::ffi::c_ulong,
    calls: CallGate,
}

impl CallInterrupter {
    fn for_this_thread() -> Self {
        CallInterrupter {
            // SAFETY: reads the calling thread's id; needs no interpreter state.
            thread: unsafe { pyo3::ffi::PyThread_get_thread_ident() },
            calls: CallGate::default(),
        }
    }

    /// Runs `call` (which attaches to the interpreter itself) interruptible.
    fn armed<T>(&self, call: impl FnOnce() -> T) -> T {
        let result = self.calls.run(call);
        if self.calls.landed() {
            // Withdrawn, in case the call returned before it was delivered.
            self.set_async_exc(std::ptr::null_mut());
        }
        result
    }

    /// Sets the exception the stage thread raises at its next bytecode; NULL withdraws it.
    fn set_async_exc(&self, exception: *mut pyo3::ffi::PyObject) {
        // SAFETY: with the GIL held; the stage thread's state lives as long as the node
        // (`StageThreadState`), and this runs on that thread or while it is in a call.
        Python::attach(|_| unsafe {
            pyo3::ffi::PyThreadState_SetAsyncExc(self.thread as std::ffi::c_long, exception)
        });
    }
}

impl Interrupt for CallInterrupter {
    fn interrupt(&self) {
        if let Some(call) = self.calls.ask() {
            // SAFETY: reads the interpreter's exception class, set when it started.
            let exception = unsafe { pyo3::ffi::PyExc_KeyboardInterrupt };
            self.calls.land(call, || self.set_async_exc(exception));
        }
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

/// This node's calls into CPython, for the per-item protocol both Python engines share.
struct Calls<'a, 'py> {
    py: Python<'py>,
    id: &'a str,
    objects: &'a NodeObjects,
}

impl<'py> python_contract::NodeCalls for Calls<'_, 'py> {
    type Object = Bound<'py, PyAny>;

    fn process(&mut self, item: Value) -> Result<Self::Object, NodeError> {
        let py = self.py;
        let input = convert::to_python(py, item, ArrayStyle::NumpyIfAvailable)
            .map_err(|err| node_error(py, &err))?;
        self.objects
            .process
            .bind(py)
            .call1((input,))
            .map_err(|err| node_error(py, &err))
    }

    fn is_none(&self, result: &Self::Object) -> bool {
        result.is_none()
    }

    fn is_lazy(&self, result: &Self::Object) -> Result<bool, NodeError> {
        result
            .is_instance(self.objects.lazy_types.bind(self.py))
            .map_err(|err| node_error(self.py, &err))
    }

    fn outputs(&mut self, result: Self::Object) -> Result<Self::Object, NodeError> {
        self.objects
            .outputs
            .bind(self.py)
            .call1((result,))
            .map_err(|err| node_error(self.py, &err))
    }

    fn next(&mut self, outputs: &Self::Object) -> Result<Option<Self::Object>, NodeError> {
        let py = self.py;
        let mut iterator = outputs.try_iter().map_err(|err| node_error(py, &err))?;
        iterator
            .next()
            .transpose()
            .map_err(|err| node_error(py, &err))
    }

    fn close(&mut self, outputs: &Self::Object) {
        if let Ok(close) = outputs.getattr("close") {
            let _ = close.call0();
        }
    }

    fn emit(&mut self, output: &Self::Object, out: &mut dyn Emitter) -> Result<(), NodeError> {
        emit(self.py, self.id, output, out)
    }

    fn take_timings(&mut self) -> Result<Vec<(String, f64)>, NodeError> {
        let py = self.py;
        let timings = self.objects.timings.bind(py);
        if timings.is_empty() {
            return Ok(Vec::new());
        }
        let samples = timings
            .iter()
            .map(|sample| sample.extract::<(String, f64)>())
            .collect::<PyResult<Vec<_>>>();
        timings
            .call_method0("clear")
            .map_err(|err| node_error(py, &err))?;
        samples.map_err(|err| node_error(py, &err))
    }

    fn node_id(&self) -> &str {
        self.id
    }
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
