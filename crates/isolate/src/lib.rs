//! Process isolation and sandboxing for remotemedia nodes (public API, Linux).
//!
//! A node whose manifest says `"isolation": "process"` (or a run started with `--isolate`) runs in
//! a worker process of its own: the same executable, started with a hidden subcommand, which builds
//! the node's engine (RustPython or CPython) for that one node. A segfault, an abort, an
//! out-of-memory kill or a CPU limit in the node then ends that process only: the parent reports
//! the node's failure — how its worker ended and the last lines of its stderr — and the run stops
//! as it does after any node failure, cleaning every other node up and keeping the outputs already
//! produced.
//!
//! - [`IsolatedEngine`]: the parent's side, an [`Engine`](remotemedia_core::engine::Engine) like
//!   any other, so the executor measures and drives it as an in-process node.
//! - [`worker::run`]: the worker's side, given a way to build the engine it serves.
//! - The channel is a Unix socket pair; arrays and bytes of 64 KiB or more travel through shared
//!   memory (`shm`), one arena per direction, mapped once; arrays born in the parent's array pool
//!   are lent to a worker that is not sandboxed without any copy (`lend`).
//! - Workers die with their parent, also when it is killed with SIGKILL (the parent-death signal).
//! - `"isolation": "sandbox"` (`--sandbox`) adds kernel-enforced limits in the worker before any
//!   user code is imported: Landlock (read-only access to the Python path and the interpreter's
//!   own directories, no TCP), a seccomp filter (no sockets, no new processes, no ptrace or mounts),
//!   rlimits (memory, CPU time) and a cleaned environment. `docs/isolation.md` says precisely what
//!   is guaranteed, and on which kernels.

use std::path::PathBuf;

use remotemedia_core::manifest::{Capabilities, Isolation};
use serde::{Deserialize, Serialize};

mod engine;
mod spawn;

pub mod lend;
pub mod sandbox;
pub mod shm;
pub mod wire;
pub mod worker;

pub use engine::{IsolatedEngine, IsolatedNode};
pub use spawn::{WorkerCommand, set_worker_command, worker_command};

/// The executable's hidden subcommand that runs a worker.
pub const WORKER_SUBCOMMAND: &str = "__isolated-worker";

/// Resource limits of a worker process, applied as rlimits before its engine starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Address space, in MiB: allocations past it fail (Python's `MemoryError`).
    pub memory_mb: Option<u64>,
    /// CPU time, in seconds: past it the kernel ends the worker with SIGXCPU.
    pub cpu_seconds: Option<u64>,
}

impl Limits {
    /// A sandboxed node's memory limit when none is given, in MiB.
    pub const SANDBOX_MEMORY_MB: u64 = 4096;
    /// A sandboxed node's CPU time limit when none is given, in seconds.
    pub const SANDBOX_CPU_SECONDS: u64 = 3600;

    /// These limits, with the sandbox's defaults filling what is not set when `isolation` is
    /// `sandbox` (a merely isolated node has no limit unless one is given).
    pub fn or_defaults(self, isolation: Isolation) -> Limits {
        if isolation != Isolation::Sandbox {
            return self;
        }
        Limits {
            memory_mb: self.memory_mb.or(Some(Self::SANDBOX_MEMORY_MB)),
            cpu_seconds: self.cpu_seconds.or(Some(Self::SANDBOX_CPU_SECONDS)),
        }
    }
}

/// What a worker is told when it starts (the first message, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// The engine to build: `rustpython` or `cpython`.
    pub engine: String,
    /// The run's `--python-path` directories.
    pub python_path: Vec<PathBuf>,
    /// Enter the sandbox before the node is created.
    pub sandbox: bool,
    pub limits: Limits,
    pub node: NodeSetup,
}

/// The node a worker creates (its params travel as a value beside the JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSetup {
    pub id: String,
    pub node_type: String,
    pub module: Option<String>,
    pub capabilities: Option<Capabilities>,
}
