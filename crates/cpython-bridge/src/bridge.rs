//! The bridge's two exported symbols, called by the `remotemedia` executable after it loaded a
//! libpython with `RTLD_GLOBAL` (see `remotemedia_cpython`).

use std::ffi::{CString, c_char};
use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use remotemedia_core::engine::Engine;
use remotemedia_cpython::{BridgeConfig, PythonInstallation, bridge_abi};

use crate::engine::CPythonEngine;
use crate::helper;

/// This build's fingerprint (`remotemedia_cpython::bridge_abi`), which the
/// executable compares with its own before calling [`remotemedia_cpython_engine`].
#[unsafe(no_mangle)]
pub extern "C" fn remotemedia_cpython_abi() -> *const c_char {
    static ABI: OnceLock<CString> = OnceLock::new();
    ABI.get_or_init(|| CString::new(bridge_abi()).expect("the fingerprint has no NUL byte"))
        .as_ptr()
}

/// Starts CPython (once per process) from the installation the executable probed, then makes an
/// engine. Its type is `remotemedia_cpython::BridgeEntry`.
#[unsafe(no_mangle)]
pub fn remotemedia_cpython_engine(config: BridgeConfig) -> Result<Arc<dyn Engine>, String> {
    // Only the first call sets it; the bridge's `tracing` is a copy of its own.
    let _ = tracing::dispatcher::set_global_default(config.dispatch.clone());
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED
        .get_or_init(|| start_interpreter(&config.installation))
        .clone()?;
    Python::attach(|py| {
        CPythonEngine::new(py, &config.settings)
            .map(|engine| Arc::new(engine) as Arc<dyn Engine>)
            .map_err(|err| {
                let error = crate::error::node_error(py, &err);
                error.traceback.unwrap_or(error.message)
            })
    })
}

/// Initializes the interpreter as `installation` describes it: its standard library (home), its
/// import path and prefixes, and the SDK embedded in this library.
fn start_interpreter(installation: &PythonInstallation) -> Result<(), String> {
    let home = c_path(&installation.home)?;
    let program = c_path(&installation.executable)?;
    // SAFETY: these functions may be called before initialization. The wide strings they are
    // given must outlive the interpreter, so they are never freed; a null one is not passed on.
    unsafe {
        if pyo3::ffi::Py_IsInitialized() == 0 {
            let home = pyo3::ffi::Py_DecodeLocale(home.as_ptr(), std::ptr::null_mut());
            let program = pyo3::ffi::Py_DecodeLocale(program.as_ptr(), std::ptr::null_mut());
            if home.is_null() || program.is_null() {
                return Err(format!(
                    "cannot decode the paths {} and {}",
                    installation.home.display(),
                    installation.executable.display()
                ));
            }
            pyo3::ffi::Py_SetProgramName(program);
            pyo3::ffi::Py_SetPythonHome(home);
        }
    }
    // Without signal handlers: SIGINT belongs to the runtime, which stops the run gracefully.
    Python::initialize();
    Python::attach(|py| -> PyResult<()> {
        let path: Vec<String> = installation
            .path
            .iter()
            .map(|dir| dir.to_string_lossy().into_owned())
            .collect();
        helper::helper(py)?.call_method1(
            "use_installation",
            (
                path,
                installation.prefix.to_string_lossy(),
                installation.exec_prefix.to_string_lossy(),
                installation.executable.to_string_lossy(),
            ),
        )?;
        helper::install_embedded_sdk(py)
    })
    .map_err(|err| Python::attach(|py| crate::error::node_error(py, &err).to_string()))?;
    tracing::debug!(python = %installation.describe(), "CPython started");
    Ok(())
}

/// A C string for `Py_DecodeLocale`.
fn c_path(path: &std::path::Path) -> Result<CString, String> {
    CString::new(path.to_string_lossy().into_owned())
        .map_err(|_| format!("path `{}` holds a NUL byte", path.display()))
}
