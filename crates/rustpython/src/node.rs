//! One live Python node on its stage thread.
//!
//! The node object and the SDK's `NodeDriver` around it are created once and kept, with the bound
//! methods the executor calls, so each item costs one conversion in, one Python call and one
//! conversion per output — no attribute lookups, no source text, no JSON.
//!
//! A node with an interpreter of its own makes its calls on that interpreter's main VM, from the
//! stage thread that built it, and can be interrupted there (module `interrupt`); a node sharing
//! an interpreter enters it through a thread VM of its own, where nothing can interrupt it.

use std::sync::Arc;

use rustpython_vm::builtins::{PyBaseExceptionRef, PyFloat, PyListRef, PyStr, PyTuple};
use rustpython_vm::function::FuncArgs;
use rustpython_vm::protocol::{PyIter, PyIterReturn};
use rustpython_vm::vm::thread::ThreadedVirtualMachine;
use rustpython_vm::{PyObject, PyObjectRef, PyResult, VirtualMachine};

use super::interrupt::CallInterrupter;
use super::{PythonInterpreter, convert, exception};
use remotemedia_core::engine::{Emitter, Interrupt, NodeError, NodeInstance, NodeSpec};
use remotemedia_core::python_contract;
use remotemedia_core::value::Value;

/// A node running in the embedded interpreter, entered from its own OS thread — RustPython has no
/// GIL, so nodes on different stage threads run Python truly in parallel.
pub(super) struct RustPythonNode {
    /// The node id, which labels the node's `print`/`logging` lines and its errors.
    id: Arc<str>,
    /// Python objects, dropped inside the interpreter (see `Drop`).
    objects: Option<NodeObjects>,
    vm: NodeVm,
}

/// How the node enters its interpreter.
struct NodeVm {
    /// This thread's handle on the interpreter, for a shared one (or a node's own entered from
    /// another thread than its builder's); declared before it, so it is dropped first.
    thread: ThreadedVirtualMachine,
    /// The run's shared interpreter, or the node's own, which ends with the node.
    interpreter: Arc<PythonInterpreter>,
    /// For a node's own interpreter: raises into `process` and `flush` on its main VM.
    interrupter: Option<Arc<CallInterrupter>>,
}

impl NodeVm {
    /// Runs `f` in the interpreter: on its main VM where this thread may enter it.
    fn run<R>(&self, f: impl FnOnce(&VirtualMachine) -> R) -> R {
        if self.interpreter.main_vm_here() {
            self.interpreter.enter_main(f)
        } else {
            self.thread.run(f)
        }
    }

    /// [`run`](Self::run), interruptible where the node can be interrupted: for `process` and
    /// `flush`, never `cleanup`.
    fn run_interruptible<R>(&self, f: impl FnOnce(&VirtualMachine) -> R) -> R {
        match &self.interrupter {
            Some(interrupter) if self.interpreter.main_vm_here() => {
                interrupter.calls.run(|| self.interpreter.enter_main(f))
            }
            _ => self.run(f),
        }
    }
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
    /// `driver.outputs(result)`: the driver's one place that turns a lazy result into outputs.
    outputs: PyObjectRef,
    /// The contract's `flush_output`, called after `cleanup`.
    flush_output: PyObjectRef,
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
        let setting_up = super::setting_up();
        let vm = NodeVm {
            thread: interpreter.thread_handle(),
            interrupter: interpreter
                .signals
                .clone()
                .map(|signals| Arc::new(CallInterrupter::new(Arc::clone(&id), signals))),
            interpreter,
        };
        let sdk = vm.interpreter.sdk();
        let objects = vm.run(|vm| {
            let build = || -> PyResult<NodeObjects> {
                // Every call of this node is made on this thread: its output is labelled from now
                // on, a user module's top-level `print` included.
                sdk.set_node_label
                    .call((vm.ctx.new_str(spec.id.as_str()),), vm)?;
                let module = match &spec.module {
                    Some(module) => vm.ctx.new_str(module.as_str()).into(),
                    None => vm.ctx.none(),
                };
                let class = sdk
                    .load_node_class
                    .call((vm.ctx.new_str(spec.node_type.as_str()), module), vm)?;
                let kwargs = convert::to_kwargs(vm, spec);
                let node = class.call_with_args(FuncArgs::new(Vec::new(), kwargs), vm)?;
                let driver = sdk.node_driver.call((node.clone(),), vm)?;
                Ok(NodeObjects {
                    node,
                    private_method: sdk.private_method.clone(),
                    process: None,
                    outputs: driver.get_attr("outputs", vm)?,
                    flush_output: sdk.flush_output.clone(),
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
            vm,
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
        let _setting_up = super::setting_up();
        let objects = self
            .objects
            .as_mut()
            .expect("node objects live until the node is dropped");
        self.vm.run(|vm| {
            let mut initialize = || -> PyResult<()> {
                objects.initialize.call((), vm)?;
                objects.process = Some(objects.process_method(vm)?);
                Ok(())
            };
            initialize().map_err(|exc| exception::node_error(vm, &exc))
        })
    }

    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let objects = self
            .objects
            .as_mut()
            .expect("node objects live until the node is dropped");
        let id = &self.id;
        self.vm.run_interruptible(|vm| {
            if objects.process.is_none() {
                // `initialize` comes first in the executor's lifecycle; this is for other callers.
                let process = objects
                    .process_method(vm)
                    .map_err(|exc| exception::node_error(vm, &exc))?;
                objects.process = Some(process);
            }
            python_contract::process_item(&mut Calls { vm, id, objects }, item, out)
        })
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let objects = self.objects();
        let id = &self.id;
        self.vm.run_interruptible(|vm| {
            let outputs = objects
                .flush
                .call((), vm)
                .map_err(|exc| exception::node_error(vm, &exc))?;
            python_contract::flush_outputs(&mut Calls { vm, id, objects }, &outputs, out)
        })
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        let objects = self.objects();
        self.vm.run(|vm| {
            let cleaned = objects.cleanup.call((), vm).map(drop);
            // Whatever the node left unfinished on its last line, before its thread moves on.
            let flushed = objects.flush_output.call((), vm).map(drop);
            cleaned
                .and(flushed)
                .map_err(|exc| exception::node_error(vm, &exc))
        })
    }

    fn interrupter(&self) -> Option<Arc<dyn Interrupt>> {
        let interrupter = self.vm.interrupter.as_ref()?;
        Some(Arc::clone(interrupter) as Arc<dyn Interrupt>)
    }
}

impl Drop for RustPythonNode {
    fn drop(&mut self) {
        // Python objects may run `__del__` as they go, which needs the interpreter entered.
        if let Some(objects) = self.objects.take() {
            self.vm.run(|_| drop(objects));
        }
    }
}

/// This node's calls into the interpreter, for the per-item protocol both Python engines share.
struct Calls<'a> {
    vm: &'a VirtualMachine,
    id: &'a str,
    objects: &'a NodeObjects,
}

impl python_contract::NodeCalls for Calls<'_> {
    type Object = PyObjectRef;

    fn process(&mut self, item: Value) -> Result<PyObjectRef, NodeError> {
        let process = self
            .objects
            .process
            .as_ref()
            .expect("process is looked up before items flow");
        process
            .call((convert::to_python(self.vm, item),), self.vm)
            .map_err(|exc| exception::node_error(self.vm, &exc))
    }

    fn is_none(&self, result: &PyObjectRef) -> bool {
        self.vm.is_none(result)
    }

    fn is_lazy(&self, result: &PyObjectRef) -> Result<bool, NodeError> {
        Ok(convert::is_lazy_result(result))
    }

    fn outputs(&mut self, result: PyObjectRef) -> Result<PyObjectRef, NodeError> {
        self.objects
            .outputs
            .call((result,), self.vm)
            .map_err(|exc| exception::node_error(self.vm, &exc))
    }

    fn next(&mut self, outputs: &PyObjectRef) -> Result<Option<PyObjectRef>, NodeError> {
        match PyIter::new(outputs.clone()).next(self.vm) {
            Ok(PyIterReturn::Return(item)) => Ok(Some(item)),
            Ok(PyIterReturn::StopIteration(_)) => Ok(None),
            Err(exc) => Err(exception::node_error(self.vm, &exc)),
        }
    }

    fn close(&mut self, outputs: &PyObjectRef) {
        if let Ok(close) = outputs.get_attr("close", self.vm) {
            let _: Result<_, PyBaseExceptionRef> = close.call((), self.vm);
        }
    }

    fn emit(&mut self, output: &PyObjectRef, out: &mut dyn Emitter) -> Result<(), NodeError> {
        emit(self.vm, self.id, output, out)
    }

    fn take_timings(&mut self) -> Result<Vec<(String, f64)>, NodeError> {
        let timings = &self.objects.timings;
        if timings.borrow_vec().is_empty() {
            return Ok(Vec::new());
        }
        let samples = std::mem::take(&mut *timings.borrow_vec_mut());
        samples
            .iter()
            .map(|sample| {
                let parts = sample
                    .downcast_ref::<PyTuple>()
                    .map(|tuple| tuple.as_slice());
                let name = parts.and_then(|p| p.first()?.downcast_ref::<PyStr>()?.to_str());
                let seconds =
                    parts.and_then(|p| Some(p.get(1)?.downcast_ref::<PyFloat>()?.to_f64()));
                name.zip(seconds)
                    .map(|(name, seconds)| (name.to_owned(), seconds))
                    .ok_or_else(|| {
                        NodeError::exception(
                            "TypeError",
                            format!(
                                "node `{}` recorded a timing that is not a (name, seconds) pair",
                                self.id
                            ),
                        )
                    })
            })
            .collect()
    }

    fn node_id(&self) -> &str {
        self.id
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
