//! The RustPython engine: runs the SDK's pure-Python nodes inside this process, with no CPython.
//!
//! Interpreters are built per run, never per call or per item, with the standard library, the
//! SDK and its node catalogue frozen into the binary (module `frozen`), so nothing is
//! read from disk except the user's own modules on the [`RustPythonConfig::python_path`]. Each
//! node enters an interpreter from its own stage thread; RustPython has no GIL.
//!
//! Light nodes share one interpreter, so a run starts one interpreter and holds one heap. Threads
//! sharing an interpreter share its objects, though — module globals, constants, reference
//! counts — and two CPU-bound nodes writing the same cache lines from two cores run hardly faster
//! than one. So a node that declares `capabilities.cpu.cores` in its manifest (the SDK:
//! `Node.get_capabilities()`) gets an interpreter of its own, built on its own stage thread in
//! parallel with the others; [`InterpreterSharing`] overrides the rule for the whole run. Nodes in
//! different interpreters see different module objects: a module-level global one node changes is
//! not seen by a node in another interpreter.
//!
//! Nodes are found and driven by the SDK itself, through its one contract with the engines
//! (`remotemedia.engine_api`: `load_node_class`, `NodeDriver`, see
//! `remotemedia_core::python_contract`) — so what counts as a node and as an output is decided in
//! the same Python code as in CPython. Values cross directly between [`Value`](remotemedia_core::value::Value)
//! and Python objects (module `convert`); a Python exception becomes a
//! [`NodeError`] with its type and traceback; `print` and `logging` reach stderr labelled with the
//! node id.

mod convert;
mod exception;
mod frozen;
mod inspect;
mod interrupt;
mod node;
mod stdio;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;
use std::time::Instant;

use frozen::CuratedStdlib as _;
use rustpython_vm::builtins::{PyDict, PyStrRef};
use rustpython_vm::signal::UserSignalSender;
use rustpython_vm::vm::thread::ThreadedVirtualMachine;
use rustpython_vm::{Interpreter, PyObjectRef, PyResult, Settings, VirtualMachine};

use remotemedia_core::engine::{Engine, NodeError, NodeInstance, NodeSpec};
use remotemedia_core::placement::ClassProbe;
use remotemedia_core::python_contract;

/// What the engine needs to know beyond the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RustPythonConfig {
    /// Directories searched, in order, for modules of user-defined nodes and the pure-Python
    /// packages they import (e.g. one filled with `pip install --target DIR`). They are the whole
    /// `sys.path`: the standard library and the SDK are frozen into the binary.
    pub python_path: Vec<PathBuf>,
    /// Which nodes get an interpreter of their own.
    pub interpreters: InterpreterSharing,
}

/// Which nodes of a run get an interpreter of their own (`remotemedia run --interpreters`).
///
/// Only a node with an interpreter of its own can be interrupted while busy in `process` or
/// `flush` (a stop, `--node-timeout`, a gone client on `serve`), so that its `cleanup` runs:
/// RustPython delivers an exception into running code on an interpreter's main VM only, which
/// only that node enters (see the `interrupt` module).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum InterpreterSharing {
    /// A node that declares `capabilities.cpu.cores` — CPU-bound work that should run in
    /// parallel with the others — gets its own; the other nodes share one.
    #[default]
    Auto,
    /// Every node shares one interpreter (the least start-up time and memory).
    Shared,
    /// Every node gets its own.
    PerNode,
}

impl InterpreterSharing {
    /// Whether the node `spec` describes runs in an interpreter of its own.
    pub fn own_interpreter(self, spec: &NodeSpec) -> bool {
        match self {
            InterpreterSharing::Shared => false,
            InterpreterSharing::PerNode => true,
            InterpreterSharing::Auto => spec
                .capabilities
                .as_ref()
                .and_then(|capabilities| capabilities.cpu.as_ref())
                .is_some_and(|cpu| cpu.cores.is_some()),
        }
    }
}

impl RustPythonConfig {
    /// `dirs` (the `--python-path` options) followed by those of
    /// [`PYTHON_PATH`](remotemedia_core::env_vars::PYTHON_PATH); interpreters shared by the `Auto` rule.
    pub fn with_env(dirs: Vec<PathBuf>) -> Self {
        let mut python_path = dirs;
        if let Some(from_env) = std::env::var_os(remotemedia_core::env_vars::PYTHON_PATH) {
            python_path
                .extend(std::env::split_paths(&from_env).filter(|dir| !dir.as_os_str().is_empty()));
        }
        RustPythonConfig {
            python_path,
            interpreters: InterpreterSharing::default(),
        }
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

/// The SDK contract's functions ([`python_contract`]), looked up once per interpreter so `create`
/// looks nothing up, and the embedded set-up's `private_method`.
#[derive(Debug)]
struct SdkEntryPoints {
    load_node_class: PyObjectRef,
    node_driver: PyObjectRef,
    catalogue: PyObjectRef,
    class_engine: PyObjectRef,
    set_node_label: PyObjectRef,
    flush_output: PyObjectRef,
    private_method: PyObjectRef,
}

/// One embedded interpreter, ready to create nodes: built and set up by [`PythonInterpreter::start`]
/// alone, whether it is the run's shared one or a node's own.
struct PythonInterpreter {
    /// Only touched to hand each stage thread its own handle on the interpreter; `None` once a
    /// node's own interpreter has been finalized (see `Drop`).
    interpreter: Mutex<Option<Interpreter>>,
    /// Always `Some` until dropped (inside the interpreter, see `Drop`).
    sdk: Option<SdkEntryPoints>,
    /// The node it was built for, if it is that node's own.
    owner: Option<Arc<str>>,
    built_on: ThreadId,
    /// A node's own interpreter: the user-signal channel of its main VM, which the node enters
    /// from the thread that built it, so that it can be interrupted (module `interrupt`).
    signals: Option<UserSignalSender>,
}

impl PythonInterpreter {
    /// Builds an interpreter on this thread and imports the SDK: every interpreter, shared or a
    /// node's own, gets exactly this set-up.
    fn start(python_path: &[String], owner: Option<Arc<str>>) -> Result<Self, EngineError> {
        // The first start in the process runs alone: it builds the classes of the native modules
        // the set-up imports, which is not safe to do from two threads at once (see
        // [`setting_up`]). Later starts find them built and run in parallel.
        static FIRST_STARTED: Mutex<bool> = Mutex::new(false);
        let mut first = FIRST_STARTED.lock().unwrap_or_else(PoisonError::into_inner);
        if *first {
            drop(first);
            return Self::start_now(python_path, owner);
        }
        let interpreter = Self::start_now(python_path, owner)?;
        *first = true;
        Ok(interpreter)
    }

    fn start_now(python_path: &[String], owner: Option<Arc<str>>) -> Result<Self, EngineError> {
        let started = Instant::now();
        let mut builder = rustpython::InterpreterBuilder::new()
            .settings(embedded_settings())
            .init_curated_stdlib()
            .add_frozen_modules(frozen::sdk_modules())
            .add_frozen_modules(frozen::embedded_modules())
            // Last, so each shim replaces the frozen standard-library module it is named after.
            .add_frozen_modules(frozen::shim_modules());
        let mut signals = None;
        if owner.is_some() {
            let (sender, receiver) = rustpython_vm::signal::user_signal_channel();
            builder = builder.init_hook(move |vm| vm.set_user_signal_channel(receiver));
            signals = Some(sender);
        }
        let interpreter = builder.build();
        let built = started.elapsed();
        let sdk = interpreter
            .enter(|vm| prepare(vm, python_path).map_err(|exc| exception::node_error(vm, &exc)))
            .map_err(EngineError::Startup)?;
        let startup = started.elapsed();
        // One line per interpreter: the run's start-up is the slowest of those built in parallel.
        tracing::debug!(
            interpreter = owner.as_deref().unwrap_or("shared"),
            startup_ms = startup.as_secs_f64() * 1e3,
            interpreter_ms = built.as_secs_f64() * 1e3,
            sdk_import_ms = (startup - built).as_secs_f64() * 1e3,
            "embedded RustPython interpreter ready"
        );
        Ok(PythonInterpreter {
            interpreter: Mutex::new(Some(interpreter)),
            sdk: Some(sdk),
            owner,
            built_on: std::thread::current().id(),
            signals,
        })
    }

    /// Whether the calling thread enters the main VM: for a node's own interpreter, on the thread
    /// that built it — the node's stage thread, which makes every call of the node.
    fn main_vm_here(&self) -> bool {
        self.owner.is_some() && std::thread::current().id() == self.built_on
    }

    /// Runs `f` on the main VM; only where [`main_vm_here`](Self::main_vm_here). The lock is held
    /// for the call: no other thread uses a node's own interpreter meanwhile (only `thread_handle`
    /// takes it, which that node made at its creation).
    fn enter_main<R>(&self, f: impl FnOnce(&VirtualMachine) -> R) -> R {
        debug_assert!(self.main_vm_here());
        self.interpreter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .expect("the interpreter lives until it is dropped")
            .enter(f)
    }

    /// A handle for entering the interpreter from the calling thread. Never enter the main
    /// handle from another thread than the one that built it: its stack-depth guard is computed
    /// for that thread's stack and raises spurious `RecursionError`s elsewhere.
    fn thread_handle(&self) -> ThreadedVirtualMachine {
        // The lock is held only to make the handle.
        self.interpreter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .expect("the interpreter lives until it is dropped")
            .new_thread()
    }

    fn sdk(&self) -> &SdkEntryPoints {
        self.sdk
            .as_ref()
            .expect("the SDK entry points live until the interpreter is dropped")
    }
}

impl Drop for PythonInterpreter {
    fn drop(&mut self) {
        let sdk = self.sdk.take();
        let interpreter = self
            .interpreter
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(interpreter) = interpreter else {
            return;
        };
        if self.owner.is_some() && std::thread::current().id() == self.built_on {
            // A node's own interpreter ends with its node, as a process would end: `atexit`
            // handlers run and its modules are freed now, not left for a later collection. Only
            // on the thread that built it (see `thread_handle`) — the node's stage thread.
            interpreter.enter(|_| drop(sdk));
            interpreter.finalize(None);
        } else {
            interpreter.new_thread().run(|_| drop(sdk));
        }
    }
}

/// Held while a node is created and while it initializes: stage threads loading node classes
/// (or importing lazily in `initialize`) at the same time would import the same packages
/// concurrently, and Python's per-module import locks then detect a deadlock (a package's
/// `__init__` importing a submodule another thread is importing) — as they would in CPython
/// threads, and never in the SDK's single-threaded local run. Process-wide, not per
/// interpreter: RustPython builds a native module's classes once per process, on first import,
/// and two interpreters doing that at once can see a class before its methods are in place.
/// Both steps happen once per node before any data flows, so serializing them costs little.
/// Taken outside the interpreter, so a thread waiting here never holds up a collection.
fn setting_up() -> MutexGuard<'static, ()> {
    static SETUP: Mutex<()> = Mutex::new(());
    SETUP.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs catalogue and user nodes in embedded RustPython interpreters: one shared by the light
/// nodes, built when first needed, and one of its own for each node [`InterpreterSharing`] picks.
pub struct RustPythonEngine {
    python_path: Vec<String>,
    sharing: InterpreterSharing,
    /// `None` until a node (or the catalogue, or placement) first needs it; the lock is held while
    /// it is built, so it is built once.
    shared: Mutex<Option<Arc<PythonInterpreter>>>,
}

impl std::fmt::Debug for RustPythonEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustPythonEngine")
            .field("python_path", &self.python_path)
            .field("sharing", &self.sharing)
            .finish_non_exhaustive()
    }
}

impl RustPythonEngine {
    /// Checks the configuration. Call once per run: the nodes share the engine, and the shared
    /// interpreter is built when the first node that shares it is created (or at
    /// [`warm_up`](Engine::warm_up)), on that node's stage thread, in parallel with the
    /// interpreters of nodes that have their own.
    pub fn new(config: &RustPythonConfig) -> Result<Self, EngineError> {
        Ok(RustPythonEngine {
            python_path: checked_python_path(config)?,
            sharing: config.interpreters,
            shared: Mutex::new(None),
        })
    }

    /// The shared interpreter, built by the first caller.
    fn shared(&self) -> Result<Arc<PythonInterpreter>, EngineError> {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(interpreter) = shared.as_ref() {
            return Ok(Arc::clone(interpreter));
        }
        let interpreter = Arc::new(PythonInterpreter::start(&self.python_path, None)?);
        *shared = Some(Arc::clone(&interpreter));
        Ok(interpreter)
    }

    /// The frozen node catalogue: `(node type, module)` for every node a manifest can name by
    /// class name alone.
    pub fn catalogue(&self) -> Result<Vec<(String, String)>, NodeError> {
        let interpreter = self.shared().map_err(startup_failure)?;
        interpreter.thread_handle().run(|vm| {
            let read = || -> PyResult<Vec<(String, String)>> {
                let entries = interpreter.sdk().catalogue.call((), vm)?;
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
}

impl Engine for RustPythonEngine {
    fn name(&self) -> &str {
        "rustpython"
    }

    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        let interpreter = if self.sharing.own_interpreter(spec) {
            let owner: Arc<str> = Arc::from(spec.id.as_str());
            Arc::new(
                PythonInterpreter::start(&self.python_path, Some(owner))
                    .map_err(startup_failure)?,
            )
        } else {
            self.shared().map_err(startup_failure)?
        };
        Ok(Box::new(node::RustPythonNode::create(interpreter, spec)?))
    }

    /// Builds the shared interpreter now, if it is not built yet — unless every node has its own
    /// (`PerNode`): none would use it.
    fn warm_up(&self) -> Result<(), NodeError> {
        if self.sharing == InterpreterSharing::PerNode {
            return Ok(());
        }
        self.shared().map(drop).map_err(startup_failure)
    }

    fn class_probe(&self) -> Option<&dyn ClassProbe> {
        Some(self)
    }
}

/// A failed interpreter start-up, reported as the failure of the node that needed it.
fn startup_failure(error: EngineError) -> NodeError {
    match error {
        EngineError::Startup(error) => NodeError {
            message: format!(
                "the embedded Python interpreter failed to start: {}",
                error.message
            ),
            ..error
        },
        other => NodeError::new(other.to_string()),
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

/// Sets the import path, routes stdout/stderr to the runtime's stderr and looks up the SDK
/// contract every node is driven through.
fn prepare(vm: &VirtualMachine, python_path: &[String]) -> PyResult<SdkEntryPoints> {
    let path: Vec<PyObjectRef> = python_path
        .iter()
        .map(|dir| vm.ctx.new_str(dir.as_str()).into())
        .collect();
    let embedded = import_module(vm, "_remotemedia_embedded")?;
    vm.call_method(&embedded, "install", (vm.ctx.new_list(path),))?;
    // Registers `array.array`'s type, which typed arrays are converted into.
    import_module(vm, "array")?;
    let contract = import_module(vm, python_contract::MODULE)?;
    let write = vm.new_function("write", |lines: PyStrRef| {
        stdio::write_stderr(&lines.to_string_lossy())
    });
    vm.call_method(&contract, python_contract::CAPTURE_OUTPUT, (write,))?;
    let function = |name: &'static str| contract.get_attr(name, vm);
    Ok(SdkEntryPoints {
        private_method: embedded.get_attr("private_method", vm)?,
        load_node_class: function(python_contract::LOAD_NODE_CLASS)?,
        catalogue: function(python_contract::CATALOGUE)?,
        class_engine: function(python_contract::CLASS_ENGINE)?,
        node_driver: function(python_contract::NODE_DRIVER)?,
        set_node_label: function(python_contract::SET_NODE_LABEL)?,
        flush_output: function(python_contract::FLUSH_OUTPUT)?,
    })
}

/// `importlib.import_module(name)`: the module itself, not its top-level package.
fn import_module(vm: &VirtualMachine, name: &'static str) -> PyResult {
    vm.import(name, 0)?;
    let modules = vm.sys_module.get_attr("modules", vm)?;
    modules.get_item(name, vm)
}
