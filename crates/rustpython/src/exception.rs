//! Python exceptions as runtime [`NodeError`]s: exception type, message and formatted traceback.

use rustpython_vm::builtins::PyBaseExceptionRef;
use rustpython_vm::{AsObject, VirtualMachine};

use remotemedia_core::engine::NodeError;

/// The [`NodeError`] for an exception a node's code (or the SDK on its behalf) raised.
pub(super) fn node_error(vm: &VirtualMachine, exc: &PyBaseExceptionRef) -> NodeError {
    let class = exc.class();
    let kind = class.name().to_string();
    let message = if class.fast_issubclass(vm.ctx.exceptions.syntax_error) {
        syntax_error_message(vm, exc)
    } else {
        text_of(vm, exc.as_object())
    };
    let mut traceback = String::new();
    // Writing into a String cannot fail.
    let _ = vm.write_exception(&mut traceback, exc);
    NodeError::exception(kind, message).with_traceback(traceback.trim_end())
}

/// `msg (path/to/file.py, line N)` with the full path, where Python's own `str()` keeps only the
/// file's base name — a user with several `nodes.py` needs to know which one.
fn syntax_error_message(vm: &VirtualMachine, exc: &PyBaseExceptionRef) -> String {
    let attr = |name: &'static str| {
        exc.as_object()
            .get_attr(name, vm)
            .ok()
            .filter(|value| !vm.is_none(value))
            .map(|value| text_of(vm, &value))
    };
    let msg = attr("msg").unwrap_or_else(|| text_of(vm, exc.as_object()));
    match (attr("filename"), attr("lineno")) {
        (Some(file), Some(line)) => format!("{msg} ({file}, line {line})"),
        (Some(file), None) => format!("{msg} ({file})"),
        _ => msg,
    }
}

fn text_of(vm: &VirtualMachine, obj: &rustpython_vm::PyObject) -> String {
    obj.str(vm)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("<unprintable {}>", obj.class().name()))
}
