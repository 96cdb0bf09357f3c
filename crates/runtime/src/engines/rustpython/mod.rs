//! The RustPython engine: runs the SDK's pure-Python nodes inside this process, with no CPython.
//!
//! One interpreter is built per run ([`RustPythonEngine::new`]), with the standard library, the
//! SDK and its node catalogue frozen into the binary (crate `remotemedia-pynodes`), so nothing is
//! read from disk except the user's own modules on the [`RustPythonConfig::python_path`]. Each node
//! enters that interpreter from its own stage thread; RustPython has no GIL, so the nodes of a
//! pipeline run Python in parallel.
//!
//! Nodes are found and driven by the SDK itself — `remotemedia.nodes.load_node_class` and
//! `remotemedia.core.driver.NodeDriver` — so what counts as a node and as an output is decided in
//! the same Python code as in CPython. Values cross directly between [`Value`](crate::value::Value)
//! and Python objects (module `convert`); a Python exception becomes a
//! [`NodeError`] with its type and traceback; `print` and `logging` reach stderr labelled with the
//! node id.

mod convert;
mod exception;
mod inspect;
mod node;
mod stdio;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use remotemedia_pynodes::CuratedStdlib as _;
use rustpython_vm::builtins::{PyDict, PyStrRef};
use rustpython_vm::vm::thread::ThreadedVirtualMachine;
use rustpython_vm::{Interpreter, PyObjectRef, PyResult, Settings, VirtualMachine};

use crate::engine::{Engine, NodeError, NodeInstance, NodeSpec};

/// What the engine needs to know beyond the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RustPythonConfig {
    /// Directories searched, in order, for modules of user-defined nodes and the pure-Python
    /// packages they import (e.g. one filled with `pip install --target DIR`). They are the whole
    /// `sys.path`: the standard library and the SDK are frozen into the binary.
    pub python_path: Vec<PathBuf>,
}

impl RustPythonConfig {
    /// `dirs` (the `--python-path` options) followed by those of
    /// [`PYTHON_PATH`](crate::env_vars::PYTHON_PATH).
    pub fn with_env(dirs: Vec<PathBuf>) -> Self {
        let mut python_path = dirs;
        if let Some(from_env) = std::env::var_os(crate::env_vars::PYTHON_PATH) {
            python_path
                .extend(std::env::split_paths(&from_env).filter(|dir| !dir.as_os_str().is_empty()));
        }
        RustPythonConfig { python_path }
    }
}

/// The interpreter could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Python path entry `{}` is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("Python path entry `{}` is not valid UTF-8", path.display())]
    NonUtf8Path { path: PathBuf },
    #[error("the embedded Python interpreter failed to start: {0}")]
    Startup(NodeError),
}

/// The SDK functions every node is created through; kept so `create` looks nothing up.
#[derive(Debug)]
struct SdkEntryPoints {
    load_node_class: PyObjectRef,
    node_driver: PyObjectRef,
    catalogue: PyObjectRef,
    private_method: PyObjectRef,
}

/// Runs catalogue and user nodes in one embedded RustPython interpreter.
pub struct RustPythonEngine {
    /// Only touched to hand each stage thread its own handle on the interpreter.
    interpreter: Mutex<Interpreter>,
    /// Held while a node is created and while it initializes: stage threads loading node classes
    /// (or importing lazily in `initialize`) at the same time would import the same packages
    /// concurrently, and Python's per-module import locks then detect a deadlock (a package's
    /// `__init__` importing a submodule another thread is importing) — as they would in CPython
    /// threads, and never in the SDK's single-threaded local run. Both steps happen once per node
    /// before any data flows, so serializing them costs little.
    setup: Arc<Mutex<()>>,
    /// Always `Some` until dropped (inside the interpreter, see `Drop`).
    sdk: Option<SdkEntryPoints>,
    startup: Duration,
}

impl std::fmt::Debug for RustPythonEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustPythonEngine")
            .field("startup", &self.startup)
            .finish_non_exhaustive()
    }
}

impl RustPythonEngine {
    /// Builds the interpreter and imports the SDK. Call once per run: every node shares it.
    pub fn new(config: &RustPythonConfig) -> Result<Self, EngineError> {
        let python_path = checked_python_path(config)?;
        let started = Instant::now();
        let interpreter = rustpython::InterpreterBuilder::new()
            .settings(embedded_settings())
            .init_curated_stdlib()
            .add_frozen_modules(remotemedia_pynodes::sdk_modules())
            .add_frozen_modules(remotemedia_pynodes::embedded_modules())
            // Last, so each shim replaces the frozen standard-library module it is named after.
            .add_frozen_modules(remotemedia_pynodes::shim_modules())
            .build();
        let built = started.elapsed();
        let sdk = interpreter
            .enter(|vm| prepare(vm, &python_path).map_err(|exc| exception::node_error(vm, &exc)))
            .map_err(EngineError::Startup)?;
        let startup = started.elapsed();
        tracing::debug!(
            startup_ms = startup.as_secs_f64() * 1e3,
            interpreter_ms = built.as_secs_f64() * 1e3,
            sdk_import_ms = (startup - built).as_secs_f64() * 1e3,
            "embedded RustPython interpreter ready"
        );
        Ok(RustPythonEngine {
            interpreter: Mutex::new(interpreter),
            setup: Arc::new(Mutex::new(())),
            sdk: Some(sdk),
            startup,
        })
    }

    /// How long building the interpreter and importing the SDK took.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The frozen node catalogue: `(node type, module)` for every node a manifest can name by
    /// class name alone.
    pub fn catalogue(&self) -> Result<Vec<(String, String)>, NodeError> {
        self.thread_handle().run(|vm| {
            let read = || -> PyResult<Vec<(String, String)>> {
                let entries = self.sdk().catalogue.call((), vm)?;
                let entries = entries
                    .downcast::<PyDict>()
                    .map_err(|_| vm.new_type_error("catalogue() must return a dict"))?;
                let text = |obj: PyObjectRef| -> PyResult<String> {
                    Ok(obj.str(vm)?.to_string_lossy().into_owned())
                };
                let mut catalogue = Vec::new();
                for (name, module) in &entries {
                    catalogue.push((text(name)?, text(module)?));
                }
                Ok(catalogue)
            };
            read().map_err(|exc| exception::node_error(vm, &exc))
        })
    }

    /// A handle for entering the interpreter from the calling thread. Never enter the main
    /// handle from another thread than the one that built it: its stack-depth guard is computed
    /// for that thread's stack and raises spurious `RecursionError`s elsewhere.
    fn thread_handle(&self) -> ThreadedVirtualMachine {
        // The lock is held only to make the handle.
        self.interpreter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .new_thread()
    }

    fn sdk(&self) -> &SdkEntryPoints {
        self.sdk
            .as_ref()
            .expect("the SDK entry points live until the engine is dropped")
    }
}

impl Engine for RustPythonEngine {
    fn name(&self) -> &str {
        "rustpython"
    }

    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        // Taken outside the interpreter, so a thread waiting here never holds up a collection.
        let _setting_up = self.setup.lock().unwrap_or_else(PoisonError::into_inner);
        let node = node::RustPythonNode::create(
            self.thread_handle(),
            self.sdk(),
            spec,
            Arc::clone(&self.setup),
        )?;
        Ok(Box::new(node))
    }
}

impl Drop for RustPythonEngine {
    fn drop(&mut self) {
        if let Some(sdk) = self.sdk.take() {
            self.thread_handle().run(|_| drop(sdk));
        }
    }
}

/// An interpreter for embedding: it reads no environment variable (a `PYTHONPATH` meant for
/// CPython must not change what runs), imports no `site`, writes no bytecode next to user modules
/// and leaves signals to the runtime.
fn embedded_settings() -> Settings {
    let mut settings = Settings::default();
    settings.ignore_environment = true;
    settings.import_site = false;
    settings.user_site_directory = false;
    settings.write_bytecode = false;
    settings.install_signal_handlers = false;
    settings.safe_path = true;
    settings.utf8_mode = 1;
    settings
}

fn checked_python_path(config: &RustPythonConfig) -> Result<Vec<String>, EngineError> {
    config
        .python_path
        .iter()
        .map(|dir| {
            if !dir.is_dir() {
                return Err(EngineError::NotADirectory { path: dir.clone() });
            }
            let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            absolute
                .into_os_string()
                .into_string()
                .map_err(|_| EngineError::NonUtf8Path { path: dir.clone() })
        })
        .collect()
}

/// Routes stdout/stderr, sets the import path and imports what every node needs.
fn prepare(vm: &VirtualMachine, python_path: &[String]) -> PyResult<SdkEntryPoints> {
    let write = vm.new_function("write", |text: PyStrRef| {
        stdio::write(&text.to_string_lossy())
    });
    let flush = vm.new_function("flush", stdio::flush);
    let path: Vec<PyObjectRef> = python_path
        .iter()
        .map(|dir| vm.ctx.new_str(dir.as_str()).into())
        .collect();
    let embedded = import_module(vm, "_remotemedia_embedded")?;
    vm.call_method(&embedded, "install", (write, flush, vm.ctx.new_list(path)))?;
    // Registers `array.array`'s type, which typed arrays are converted into.
    import_module(vm, "array")?;
    let nodes = import_module(vm, "remotemedia.nodes")?;
    let driver = import_module(vm, "remotemedia.core.driver")?;
    Ok(SdkEntryPoints {
        private_method: embedded.get_attr("private_method", vm)?,
        load_node_class: nodes.get_attr("load_node_class", vm)?,
        catalogue: nodes.get_attr("catalogue", vm)?,
        node_driver: driver.get_attr("NodeDriver", vm)?,
    })
}

/// `importlib.import_module(name)`: the module itself, not its top-level package.
fn import_module(vm: &VirtualMachine, name: &'static str) -> PyResult {
    vm.import(name, 0)?;
    let modules = vm.sys_module.get_attr("modules", vm)?;
    modules.get_item(name, vm)
}
