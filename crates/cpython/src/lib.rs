//! The CPython engine, loaded at run time: nodes that need C extensions (numpy, onnxruntime …)
//! run in a real CPython, while the `remotemedia` executable itself never links libpython.
//!
//! The engine's code lives in the `remotemedia-cpython-bridge` crate, which links PyO3. This crate
//! is the executable's side of the boundary and has no Python in it:
//!
//! 1. [`locate`] finds an interpreter: [`REMOTEMEDIA_PYTHON`](remotemedia_core::env_vars::PYTHON), else the
//!    active virtualenv's `python`, else `python3` on `PATH`. This is cheap (no process is started),
//!    so placement uses it to decide whether CPython is available at all.
//! 2. [`PythonInstallation::probe`] asks that interpreter where its shared libpython is and what
//!    its `sys.path` holds, so the packages installed there (numpy, onnxruntime …) import.
//! 3. [`start`] loads that libpython with `RTLD_GLOBAL`, then the bridge library
//!    (`libremotemedia_cpython_bridge.so`, built by the same `cargo build`, found next to the executable),
//!    and asks its one entry point for the engine.
//!
//! A process that *is* CPython — the `remotemedia._native` extension module — registers its own
//! engine with [`register_in_process`] instead: nodes then run in the calling interpreter and
//! nothing is loaded.
//!
//! The bridge is Rust code built from the same sources by the same compiler in the same build, so
//! the runtime's types cross the boundary as they are. [`bridge_abi`] makes that checkable: both
//! sides print the type identity of the entry point, which changes with any difference in the
//! runtime crate's build, and a mismatch is refused with a clear error instead of undefined
//! behaviour.

mod locate;
mod probe;

#[cfg(unix)]
mod load;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use remotemedia_core::engine::Engine;

pub use locate::{LocateError, locate};
pub use probe::{MIN_VERSION, ProbeError, PythonInstallation};

/// The symbol of the bridge's entry point, a [`BridgeEntry`].
pub const BRIDGE_ENTRY_SYMBOL: &str = "remotemedia_cpython_engine";
/// The symbol of the bridge's ABI fingerprint: `extern "C" fn() -> *const c_char`, the
/// NUL-terminated [`bridge_abi`] of the build that made it.
pub const BRIDGE_ABI_SYMBOL: &str = "remotemedia_cpython_abi";

/// The bridge's entry point: initializes CPython (once per process) and returns an engine.
pub type BridgeEntry = fn(BridgeConfig) -> Result<Arc<dyn Engine>, String>;

/// What the bridge needs to start CPython and the engine.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The interpreter whose libpython was loaded, and its import path.
    pub installation: PythonInstallation,
    /// The engine's settings.
    pub settings: CPythonSettings,
    /// The runtime's log subscriber, so the bridge's own `tracing` events reach it.
    pub dispatch: tracing::Dispatch,
}

/// Settings of one CPython engine, whichever way it is provided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CPythonSettings {
    /// Directories put in front of `sys.path`: the `--python-path` directories, where user-defined
    /// node modules live.
    pub python_path: Vec<PathBuf>,
    /// Send `print` output of nodes to stderr, labelled with the node id, because stdout carries
    /// the run's results (the CLI). An application embedding the runtime in its own Python process
    /// keeps its stdout as it is.
    pub capture_stdio: bool,
}

/// The fingerprint of this build of the engine interface: equal in the executable and the bridge
/// only when both were built from the same sources of this crate and the core (hashed by
/// `build.rs`: a bridge left from an older build of the same version differs) by the same compiler.
pub fn bridge_abi() -> String {
    format!(
        "remotemedia-core {} sources {} {:?}",
        env!("CARGO_PKG_VERSION"),
        env!("REMOTEMEDIA_BRIDGE_SOURCES"),
        std::any::TypeId::of::<BridgeEntry>()
    )
}

/// The bridge library's file name on this platform, e.g. `libremotemedia_cpython_bridge.so`.
pub fn bridge_file_name() -> String {
    format!(
        "{}remotemedia_cpython_bridge{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Makes an engine running in the calling CPython process.
pub type InProcessFactory =
    dyn Fn(&CPythonSettings) -> Result<Arc<dyn Engine>, String> + Send + Sync;

static IN_PROCESS: OnceLock<Box<InProcessFactory>> = OnceLock::new();

/// Makes nodes placed on CPython run in this process's own interpreter. Called once by a Python
/// extension module embedding the runtime; later calls are ignored.
pub fn register_in_process(factory: Box<InProcessFactory>) {
    let _ = IN_PROCESS.set(factory);
}

/// Whether this process runs inside CPython (an engine was registered with
/// [`register_in_process`]).
pub fn in_process() -> bool {
    IN_PROCESS.get().is_some()
}

/// Whether CPython nodes can run here: this process is CPython, or an interpreter was located.
/// Does not start anything; [`start`] still fails if the located interpreter is unusable.
pub fn available() -> bool {
    in_process() || locate().is_ok()
}

/// Why the CPython engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum CPythonError {
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("cannot load {}: {reason}", path.display())]
    LoadLibrary { path: PathBuf, reason: String },
    #[error(
        "the CPython bridge {file} is missing (looked in {}); it is built with the executable by `cargo build --release`, and must stay next to it",
        .searched.iter().map(|dir| dir.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    BridgeMissing {
        file: String,
        searched: Vec<PathBuf>,
    },
    #[error(
        "the CPython bridge {} was built separately from this executable ({found}, expected {expected}); rebuild both with one `cargo build --release`",
        path.display()
    )]
    AbiMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("CPython ({python}) did not start: {reason}")]
    Startup { python: String, reason: String },
    #[error("the CPython engine is not supported on this platform yet")]
    Unsupported,
}

/// Starts a CPython engine: in this process's interpreter when one is registered, otherwise by
/// locating an interpreter and loading its libpython and the bridge.
pub fn start(settings: &CPythonSettings) -> Result<Arc<dyn Engine>, CPythonError> {
    if let Some(factory) = IN_PROCESS.get() {
        return factory(settings).map_err(|reason| CPythonError::Startup {
            python: "this process".to_owned(),
            reason,
        });
    }
    start_bridge(settings)
}

/// The CPython installation [`start`] loaded into this process (none before, or when the process
/// is itself CPython): where its standard library and site-packages are, for a sandbox to allow.
pub fn loaded_installation() -> Option<PythonInstallation> {
    #[cfg(unix)]
    return load::loaded_installation();
    #[cfg(not(unix))]
    None
}

#[cfg(unix)]
fn start_bridge(settings: &CPythonSettings) -> Result<Arc<dyn Engine>, CPythonError> {
    let python = locate()?;
    let installation = PythonInstallation::probe(&python)?;
    load::start(installation, settings.clone())
}

#[cfg(not(unix))]
fn start_bridge(_settings: &CPythonSettings) -> Result<Arc<dyn Engine>, CPythonError> {
    Err(CPythonError::Unsupported)
}
