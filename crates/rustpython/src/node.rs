//! One live Python node on its stage thread.
//!
//! The node object and the SDK's `NodeDriver` around it are created once and kept, with the bound
//! methods the executor calls, so each item costs one conversion in, one Python call and one
//! conversion per output — no attribute lookups, no source text, no JSON.

use std::sync::Arc;
use std::time::Duration;

use rustpython_vm::builtins::{PyBaseExceptionRef, PyFloat, PyListRef, PyStr, PyTuple};
use rustpython_vm::function::FuncArgs;
use rustpython_vm::protocol::{PyIter, PyIterReturn};
use rustpython_vm::vm::thread::ThreadedVirtualMachine;
use rustpython_vm::{PyObject, PyObjectRef, PyResult, VirtualMachine};

use super::{PythonInterpreter, convert, exception, stdio};
use remotemedia_core::engine::{Emitter, NodeError, NodeInstance, NodeSpec};
use remotemedia_core::value::Value;

/// A node running in the embedded interpreter, entered from its own OS thread — RustPython has no
/// GIL, so nodes on different stage threads run Python truly in parallel.
pub(super) struct RustPythonNode {
    /// The node id, which labels the node's `print`/`logging` lines and its errors.
    id: Arc<str>,
    /// Python objects, dropped inside the interpreter (see `Drop`).
    objects: Option<NodeObjects>,
    /// This thread's handle on the interpreter; declared before it, so it is dropped first.
    thread: ThreadedVirtualMachine,
    /// Held, not read: the run's shared interpreter, or the node's own, which ends with the node.
    _interpreter: Arc<PythonInterpreter>,
}

/// The node and the bound methods the executor calls, looked up once.
struct NodeObjects {
    node: PyObjectRef,
    /// `_remotemedia_embedded.private_method`.
    private_method: PyObjectRef,
    /// `node.process`, on a private copy of its code (see `private_method`: nodes of one class on
    /// parallel threads would otherwise slow each other down), looked up once the node has
    /// initialized — `initialize` may still replace it. Called directly; only lazy results
    /// (generators, coroutines, async generators) go through the driver, which is where their
    /// semantics live.
    process: Option<PyObjectRef>,
    /// `driver._outputs(result)`: the driver's one place that turns a lazy result into outputs.
    outputs: PyObjectRef,
    initialize: PyObjectRef,
    flush: PyObjectRef,
    cleanup: PyObjectRef,
    /// `driver.timings`: the `(name, seconds)` samples the node recorded (`Node.record_timing`),
    /// taken out after each call.
    timings: PyListRef,
}

impl NodeObjects {
    fn process_method(&self, vm: &VirtualMachine) -> PyResult {
        self.private_method
            .call((self.node.clone(), vm.ctx.new_str("process")), vm)
    }
}

impl std::fmt::Debug for RustPythonNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustPythonNode")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl RustPythonNode {
    /// Resolves the class with the SDK's `load_node_class`, builds it with `params` as keyword
    /// arguments and wraps it in a `NodeDriver`.
    pub(super) fn create(
        interpreter: Arc<PythonInterpreter>,
        spec: &NodeSpec,
    ) -> Result<Self, NodeError> {
        let id: Arc<str> = Arc::from(spec.id.as_str());
        stdio::set_label(&id);
        let setting_up = super::setting_up();
        let thread = interpreter.thread_handle();
        let sdk = interpreter.sdk();
        let objects = thread.run(|vm| {
            let build = || -> PyResult<NodeObjects> {
                let module = match &spec.module {
                    Some(module) => vm.ctx.new_str(module.as_str()).into(),
                    None => vm.ctx.none(),
                };
                let class = sdk
                    .load_node_class
                    .call((vm.ctx.new_str(spec.node_type.as_str()), module), vm)?;
                let kwargs = convert::to_kwargs(vm, &spec.id, &spec.params);
                let node = class.call_with_args(FuncArgs::new(Vec::new(), kwargs), vm)?;
                let driver = sdk.node_driver.call((node.clone(),), vm)?;
                Ok(NodeObjects {
                    node,
                    private_method: sdk.private_method.clone(),
                    process: None,
                    outputs: driver.get_attr("_outputs", vm)?,
                    initialize: driver.get_attr("initialize", vm)?,
                    flush: driver.get_attr("flush", vm)?,
                    cleanup: driver.get_attr("cleanup", vm)?,
                    timings: driver.get_attr("timings", vm)?.try_into_value(vm)?,
                })
            };
            build().map_err(|exc| exception::node_error(vm, &exc))
        })?;
        drop(setting_up);
        Ok(RustPythonNode {
            id,
            objects: Some(objects),
            thread,
            _interpreter: interpreter,
        })
    }

    fn objects(&self) -> &NodeObjects {
        self.objects
            .as_ref()
            .expect("node objects live until the node is dropped")
    }
}

impl NodeInstance for RustPythonNode {
    fn initialize(&mut self) -> Result<(), NodeError> {
        stdio::set_label(&self.id);
        let _setting_up = super::setting_up();
        let objects = self
            .objects
            .as_mut()
            .expect("node objects live until the node is dropped");
        self.thread.run(|vm| {
            let mut initialize = || -> PyResult<()> {
                objects.initialize.call((), vm)?;
                objects.process = Some(objects.process_method(vm)?);
                Ok(())
            };
            initialize().map_err(|exc| exception::node_error(vm, &exc))
        })
    }

    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        stdio::set_label(&self.id);
        let objects = self
            .objects
            .as_mut()
            .expect("node objects live until the node is dropped");
        let id = &self.id;
        self.thread.run(|vm| {
            let process = match &objects.process {
                Some(process) => process,
                // `initialize` comes first in the executor's lifecycle; this is for other callers.
                None => objects.process.insert(
                    objects
                        .process_method(vm)
                        .map_err(|exc| exception::node_error(vm, &exc))?,
                ),
            };
            let input = convert::to_python(vm, item);
            let result = process
                .call((input,), vm)
                .map_err(|exc| exception::node_error(vm, &exc))?;
            if vm.is_none(&result) {
                // Nothing emitted.
            } else if !convert::is_lazy_result(&result) {
                emit(vm, id, &result, out)?;
            } else {
                let outputs = objects
                    .outputs
                    .call((result,), vm)
                    .map_err(|exc| exception::node_error(vm, &exc))?;
                drain(vm, id, outputs, out)?;
            }
            report_timings(id, &objects.timings, out)
        })
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        stdio::set_label(&self.id);
        let objects = self.objects();
        let id = &self.id;
        self.thread.run(|vm| {
            let outputs = objects
                .flush
                .call((), vm)
                .map_err(|exc| exception::node_error(vm, &exc))?;
            drain(vm, id, outputs, out)?;
            report_timings(id, &objects.timings, out)
        })
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        stdio::set_label(&self.id);
        let objects = self.objects();
        let result = self.thread.run(|vm| {
            objects
                .cleanup
                .call((), vm)
                .map(drop)
                .map_err(|exc| exception::node_error(vm, &exc))
        });
        stdio::flush();
        result
    }
}

impl Drop for RustPythonNode {
    fn drop(&mut self) {
        // Python objects may run `__del__` as they go, which needs the interpreter entered.
        if let Some(objects) = self.objects.take() {
            self.thread.run(|_| drop(objects));
        }
    }
}

/// Emits every item of a Python iterator as it is produced. If the run stops meanwhile, the
/// iterator is closed so the node's `finally` blocks run.
fn drain(
    vm: &VirtualMachine,
    id: &str,
    outputs: PyObjectRef,
    out: &mut dyn Emitter,
) -> Result<(), NodeError> {
    let iterator = PyIter::new(outputs.clone());
    loop {
        match iterator.next(vm) {
            Ok(PyIterReturn::Return(item)) => {
                if let Err(err) = emit(vm, id, &item, out) {
                    close(vm, &outputs);
                    return Err(err);
                }
            }
            Ok(PyIterReturn::StopIteration(_)) => return Ok(()),
            Err(exc) => return Err(exception::node_error(vm, &exc)),
        }
    }
}

/// Converts one output and sends it downstream. The thread leaves the interpreter while it waits
/// on a full channel, so a collection or another node's stop-the-world never waits on it.
fn emit(
    vm: &VirtualMachine,
    id: &str,
    output: &PyObject,
    out: &mut dyn Emitter,
) -> Result<(), NodeError> {
    let value = convert::from_python(vm, output).map_err(|err| {
        NodeError::exception(
            "TypeError",
            format!("node `{id}` emitted an unsupported output: {err}"),
        )
    })?;
    vm.allow_threads(|| out.emit(value))
        .map_err(NodeError::from)
}

/// Hands the timing samples the node recorded during a call to the executor, emptying the list:
/// a length check when there are none.
fn report_timings(id: &str, timings: &PyListRef, out: &mut dyn Emitter) -> Result<(), NodeError> {
    if timings.borrow_vec().is_empty() {
        return Ok(());
    }
    let samples = std::mem::take(&mut *timings.borrow_vec_mut());
    for sample in samples {
        let parts = sample
            .downcast_ref::<PyTuple>()
            .map(|tuple| tuple.as_slice());
        let (Some(name), Some(seconds)) = (
            parts.and_then(|p| p.first()?.downcast_ref::<PyStr>()?.to_str()),
            parts.and_then(|p| Some(p.get(1)?.downcast_ref::<PyFloat>()?.to_f64())),
        ) else {
            return Err(NodeError::exception(
                "TypeError",
                format!("node `{id}` recorded a timing that is not a (name, seconds) pair"),
            ));
        };
        let sample = Duration::try_from_secs_f64(seconds).map_err(|_| {
            NodeError::exception(
                "ValueError",
                format!(
                    "node `{id}` recorded timing `{name}` as {seconds} s; expected seconds >= 0"
                ),
            )
        })?;
        out.record_timing(name, sample);
    }
    Ok(())
}

fn close(vm: &VirtualMachine, iterator: &PyObject) {
    if let Ok(close) = iterator.get_attr("close", vm) {
        // The run is already stopping; an error while closing has nobody left to tell.
        let _: Result<_, PyBaseExceptionRef> = close.call((), vm);
    }
}
