//! Placement's question to RustPython: what does a node's class need? (see [`ClassProbe`]).
//! Answered by the SDK contract's `class_engine`, in this very interpreter, so the modules it
//! imports are already loaded when the run creates the node.

use rustpython_vm::PyResult;
use rustpython_vm::builtins::PyTuple;

use super::{RustPythonEngine, exception};
use remotemedia_core::engine::{ClassFinding, ClassProbe};
use remotemedia_core::manifest::NodeManifest;

impl ClassProbe for RustPythonEngine {
    fn probe(&self, node: &NodeManifest) -> ClassFinding {
        // Asked of the shared interpreter: an `auto` node placed on RustPython is most often one
        // of the light nodes that share it.
        let interpreter = match self.shared() {
            Ok(interpreter) => interpreter,
            Err(err) => {
                tracing::warn!(node = %node.id, "cannot inspect the node's class: {err}");
                return ClassFinding::Unknown;
            }
        };
        // Loading the class imports its module: one import at a time, as when nodes are set up.
        let _setting_up = super::setting_up();
        let answer = interpreter.thread_handle().run(|vm| {
            let ask = || -> PyResult<(String, String)> {
                let module = match &node.module {
                    Some(module) => vm.ctx.new_str(module.as_str()).into(),
                    None => vm.ctx.none(),
                };
                let answer = interpreter
                    .sdk()
                    .class_engine
                    .call((vm.ctx.new_str(node.node_type.as_str()), module), vm)?;
                let answer = answer
                    .downcast::<PyTuple>()
                    .map_err(|_| vm.new_type_error("class_engine() must return a tuple"))?;
                let text = |index: usize| -> PyResult<String> {
                    Ok(answer.as_slice()[index]
                        .str(vm)?
                        .to_string_lossy()
                        .into_owned())
                };
                Ok((text(0)?, text(1)?))
            };
            ask().map_err(|exc| exception::node_error(vm, &exc))
        });
        match answer {
            Ok((verdict, detail)) => ClassFinding::from_verdict(&verdict, detail),
            Err(err) => {
                tracing::warn!(node = %node.id, "cannot inspect the node's class: {err}");
                ClassFinding::Unknown
            }
        }
    }
}
