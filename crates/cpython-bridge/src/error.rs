//! Python exceptions as runtime [`NodeError`]s: type, message and the formatted traceback.

use pyo3::prelude::*;
use remotemedia_core::engine::NodeError;

use crate::helper;

/// The [`NodeError`] for an exception raised by a node's code (or the SDK on its behalf).
pub fn node_error(py: Python<'_>, err: &PyErr) -> NodeError {
    let value = err.value(py);
    let kind = value
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    let message = value
        .str()
        .map(|text| text.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("<unprintable {kind}>"));
    let error = NodeError::exception(kind, message);
    match helper::helper(py)
        // The traceback PyO3 fetched, not `value.__traceback__`: on the stable ABI of older
        // versions the latter lacks the outermost frames (the node's own method).
        .and_then(|helper| helper.call_method1("format_exception", (value, err.traceback(py))))
        .and_then(|text| text.extract::<String>())
    {
        Ok(traceback) => error.with_traceback(traceback.trim_end()),
        Err(_) => error,
    }
}
