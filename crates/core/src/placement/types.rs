//! What a plan is made of: where each node runs, on which engine, and what it needs.

use std::fmt;

use serde::Serialize;

use crate::manifest::GpuKind;

use crate::machine::{format_gb_given, gpu_kind_name};

/// Where and on which engine every node of a manifest runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// One entry per node, in manifest order: `nodes[i]` is `manifest.nodes[i]`.
    pub nodes: Vec<NodePlan>,
}

impl Plan {
    /// The placement of the node with this id.
    pub fn node(&self, id: &str) -> Option<&NodePlan> {
        self.nodes.iter().find(|node| node.id == id)
    }
}

/// Where one node runs, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodePlan {
    pub id: String,
    pub node_type: String,
    pub engine: EngineKind,
    /// For people: where it runs and why, e.g. `runs locally: needs gpu cuda ≥ 4 GB (optional) — no
    /// cuda GPU here, runs on CPU; rustpython (runtime_hint auto)`.
    pub reason: String,
    /// The node's requirements this machine does not meet: why it is remote, or on CPU.
    pub unmet: Vec<Shortfall>,
}

/// The engine that runs a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EngineKind {
    /// In this process, as Rust: the native implementation of a catalogue node.
    Native,
    /// In this process, in the embedded RustPython interpreter.
    Rustpython,
    /// In this process, in CPython (for C extensions).
    Cpython,
    /// On another `remotemedia` instance.
    Remote { host: String },
    /// On a machine of the cluster the run is given (Ray), chosen when the run starts.
    Cluster,
}

impl EngineKind {
    /// `native`, `rustpython`, `cpython`, `remote` or `cluster`.
    pub fn name(&self) -> &'static str {
        match self {
            EngineKind::Native => "native",
            EngineKind::Rustpython => "rustpython",
            EngineKind::Cpython => "cpython",
            EngineKind::Remote { .. } => "remote",
            EngineKind::Cluster => "cluster",
        }
    }

    /// True for the engines of this process.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            EngineKind::Native | EngineKind::Rustpython | EngineKind::Cpython
        )
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineKind::Remote { host } => write!(f, "remote {host}"),
            local => f.write_str(local.name()),
        }
    }
}

/// A Python engine of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PythonEngine {
    Rustpython,
    Cpython,
}

impl PythonEngine {
    pub(super) fn engine_kind(self) -> EngineKind {
        match self {
            PythonEngine::Rustpython => EngineKind::Rustpython,
            PythonEngine::Cpython => EngineKind::Cpython,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            PythonEngine::Rustpython => "rustpython",
            PythonEngine::Cpython => "cpython",
        }
    }
}

impl fmt::Display for PythonEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One capability a node asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "capability", rename_all = "snake_case")]
pub enum Requirement {
    Gpu {
        kind: GpuKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        min_memory_gb: Option<f64>,
    },
    CpuCores {
        cores: u32,
    },
    CpuArch {
        arch: String,
    },
    /// Total system memory, in GB.
    Memory {
        gb: f64,
    },
    /// A Python engine in this process.
    Engine {
        engine: PythonEngine,
    },
    /// A native implementation of the node and its params (`runtime_hint: native`).
    Native,
    /// A cluster to run on (the node's `placement` is `cluster`).
    Cluster,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Gpu {
                kind,
                min_memory_gb,
            } => {
                write!(f, "gpu {}", gpu_kind_name(*kind))?;
                if let Some(gb) = min_memory_gb {
                    write!(f, " ≥ {}", format_gb_given(*gb))?;
                }
                Ok(())
            }
            Requirement::CpuCores { cores: 1 } => f.write_str("≥ 1 cpu core"),
            Requirement::CpuCores { cores } => write!(f, "≥ {cores} cpu cores"),
            Requirement::CpuArch { arch } => write!(f, "cpu arch {arch}"),
            Requirement::Memory { gb } => write!(f, "≥ {} memory", format_gb_given(*gb)),
            Requirement::Engine {
                engine: PythonEngine::Rustpython,
            } => f.write_str("the RustPython engine"),
            Requirement::Engine {
                engine: PythonEngine::Cpython,
            } => f.write_str("the CPython engine"),
            Requirement::Native => f.write_str("a native implementation"),
            Requirement::Cluster => f.write_str("a cluster (placement: cluster)"),
        }
    }
}

/// A requirement the machine does not meet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shortfall {
    pub requirement: Requirement,
    /// False for an optional GPU (`"required": false`): the node can run without it, on CPU.
    pub required: bool,
    /// What the machine has instead, e.g. `no cuda GPU`, `only 2 GB total`.
    pub found: String,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "needs {}", self.requirement)?;
        if !self.required {
            f.write_str(" (optional)")?;
        }
        write!(f, " — {}", self.found)
    }
}
