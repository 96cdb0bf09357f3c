//! Loading libpython and the bridge library into this process.

use std::ffi::{CStr, c_char};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_LOCAL, RTLD_NOW, Symbol};

use super::{
    BRIDGE_ABI_SYMBOL, BRIDGE_ENTRY_SYMBOL, BridgeConfig, BridgeEntry, CPythonError,
    CPythonSettings, PythonInstallation, bridge_abi, bridge_file_name,
};
use remotemedia_core::engine::Engine;

/// What one process has loaded. Libraries are never unloaded: engines hold code and Python
/// objects from them, and CPython cannot be re-initialized after finalizing.
struct Loaded {
    installation: PythonInstallation,
    entry: BridgeEntry,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

/// Loads (once per process) the installation's libpython and the bridge, then starts an engine.
/// A later call reuses the first interpreter loaded, whatever `installation` says: one process
/// holds one CPython.
pub(super) fn start(
    installation: PythonInstallation,
    settings: CPythonSettings,
) -> Result<Arc<dyn Engine>, CPythonError> {
    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    if loaded.is_none() {
        *loaded = Some(load(installation)?);
    }
    let loaded = loaded.as_ref().expect("loaded above");
    let config = BridgeConfig {
        installation: loaded.installation.clone(),
        settings,
        dispatch: tracing::dispatcher::get_default(Clone::clone),
    };
    (loaded.entry)(config).map_err(|reason| CPythonError::Startup {
        python: loaded.installation.describe(),
        reason,
    })
}

/// The installation this process loaded, if it loaded one.
pub(super) fn loaded_installation() -> Option<PythonInstallation> {
    let loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    loaded.as_ref().map(|loaded| loaded.installation.clone())
}

fn load(installation: PythonInstallation) -> Result<Loaded, CPythonError> {
    let bridge_path = find_bridge()?;
    let load_error = |path: &PathBuf, err: libloading::Error| CPythonError::LoadLibrary {
        path: path.clone(),
        reason: err.to_string(),
    };
    // SAFETY: loading libpython runs no Python code; its symbols become global so that the bridge
    // (built without linking libpython) and C extensions loaded later resolve against it.
    let libpython = unsafe { Library::open(Some(&installation.library), RTLD_NOW | RTLD_GLOBAL) }
        .map_err(|err| load_error(&installation.library, err))?;
    // SAFETY: the bridge has no initialisers beyond Rust statics.
    let bridge = unsafe { Library::open(Some(&bridge_path), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|err| load_error(&bridge_path, err))?;
    // SAFETY: the symbol is the bridge's `extern "C" fn() -> *const c_char`, returning a static
    // NUL-terminated string.
    let found = unsafe {
        let abi: Symbol<extern "C" fn() -> *const c_char> = bridge
            .get(BRIDGE_ABI_SYMBOL.as_bytes())
            .map_err(|err| load_error(&bridge_path, err))?;
        CStr::from_ptr(abi()).to_string_lossy().into_owned()
    };
    let expected = bridge_abi();
    if found != expected {
        return Err(CPythonError::AbiMismatch {
            path: bridge_path,
            found,
            expected,
        });
    }
    // SAFETY: the fingerprint above proves the bridge was built from the same sources of this
    // crate and the core by the same compiler, so the symbol has exactly the `BridgeEntry` type.
    let entry: BridgeEntry = unsafe {
        *bridge
            .get::<BridgeEntry>(BRIDGE_ENTRY_SYMBOL.as_bytes())
            .map_err(|err| load_error(&bridge_path, err))?
    };
    tracing::debug!(
        libpython = %installation.library.display(),
        bridge = %bridge_path.display(),
        "CPython engine loaded"
    );
    // Never unloaded (see `Loaded`).
    std::mem::forget(libpython);
    std::mem::forget(bridge);
    Ok(Loaded {
        installation,
        entry,
    })
}

/// The bridge next to the executable — or one directory up, for the examples and test binaries
/// cargo puts in `target/release/examples` and `target/release/deps` — unless
/// [`CPYTHON_BRIDGE`](remotemedia_core::env_vars::CPYTHON_BRIDGE) names it.
fn find_bridge() -> Result<PathBuf, CPythonError> {
    if let Some(explicit) = std::env::var_os(remotemedia_core::env_vars::CPYTHON_BRIDGE) {
        return Ok(PathBuf::from(explicit));
    }
    let file = bridge_file_name();
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .unwrap_or_default();
    let searched: Vec<PathBuf> = exe.ancestors().skip(1).take(2).map(PathBuf::from).collect();
    searched
        .iter()
        .map(|dir| dir.join(&file))
        .find(|candidate| candidate.is_file())
        .ok_or(CPythonError::BridgeMissing { file, searched })
}
