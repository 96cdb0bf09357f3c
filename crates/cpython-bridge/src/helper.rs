//! The engine's Python-side helper module (`python/_remotemedia_cpython.py`), and the SDK sources
//! (crate `remotemedia-python-sdk`) served to the executable's interpreter.

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

const HELPER_SOURCE: &str = include_str!("../python/_remotemedia_cpython.py");

static HELPER: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The helper module, created once per process.
pub(crate) fn helper(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    HELPER
        .get_or_try_init(py, || {
            let source = CString::new(HELPER_SOURCE).expect("the helper has no NUL byte");
            PyModule::from_code(
                py,
                &source,
                c"_remotemedia_cpython.py",
                c"_remotemedia_cpython",
            )
            .map(Bound::unbind)
        })
        .map(|module| module.bind(py))
}

/// Makes `import remotemedia…` load the embedded SDK, ahead of any installed copy.
pub(crate) fn install_embedded_sdk(py: Python<'_>) -> PyResult<()> {
    let modules = PyDict::new(py);
    for module in remotemedia_python_sdk::MODULES {
        modules.set_item(module.name, (module.path, module.is_package, module.source))?;
    }
    helper(py)?.call_method1("install_sdk", (modules,))?;
    Ok(())
}
