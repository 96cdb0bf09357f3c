//! Options shared by the commands that run nodes (`run`, `serve`): process isolation and the
//! sandbox (docs/isolation.md).

use remotemedia_runtime::isolation::Limits;
use remotemedia_runtime::manifest::Isolation;

/// How user nodes are isolated.
#[derive(Debug, Clone, clap::Args)]
pub struct IsolationArgs {
    /// Run every node of user code (a `module`, or a `module:Class` type; with `serve`: every
    /// node) in a worker process of its own: a crash, an abort or an out-of-memory kill ends that
    /// node with an error naming it, not the whole process. Nodes can ask for it themselves with
    /// `"isolation": "process"`.
    #[arg(long)]
    isolate: bool,
    /// Like --isolate, and sandbox those workers: read-only Python path, no network, no new
    /// processes, memory and CPU limits, a cleaned environment (Linux with Landlock; refused
    /// elsewhere). Nodes can ask for it with `"isolation": "sandbox"`.
    #[arg(long)]
    sandbox: bool,
    /// Address-space limit of each isolated node's worker, in MiB (sandboxed ones: 4096 unless
    /// given); allocations past it fail with MemoryError.
    #[arg(long, value_name = "MIB")]
    memory_limit: Option<u64>,
    /// CPU-time limit of each isolated node's worker, in seconds (sandboxed ones: 3600 unless
    /// given); past it the worker is ended and the node fails.
    #[arg(long, value_name = "SECONDS")]
    cpu_limit: Option<u64>,
}

impl IsolationArgs {
    /// The isolation of user nodes.
    pub fn isolation(&self) -> Isolation {
        match (self.sandbox, self.isolate) {
            (true, _) => Isolation::Sandbox,
            (false, true) => Isolation::Process,
            (false, false) => Isolation::None,
        }
    }

    /// The limits of isolated nodes' workers.
    pub fn limits(&self) -> Limits {
        Limits {
            memory_mb: self.memory_limit,
            cpu_seconds: self.cpu_limit,
        }
    }
}
