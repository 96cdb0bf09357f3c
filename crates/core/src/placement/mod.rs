//! Placement: which engine runs each node, decided before anything runs.
//!
//! A machine's [`MachineCapabilities`] come from [`detect()`] or from a JSON machine profile
//! ([`MachineCapabilities::from_path`], the CLI's `--capabilities FILE`). [`plan()`] checks every
//! node's `capabilities` against them and picks an [`EngineKind`] per node:
//!
//! - requirements met here → a local engine, even when the node names a `host` (local first);
//! - not met, and the node has a `host` → `remote { host }`;
//! - not met, no `host`: a missing *optional* GPU (`"required": false`) → local, on CPU;
//!   any other missing capability → [`PlanError::Unplaceable`], listing every such node.
//!
//! [`check_hosts`] then asks every host a node is placed on what it offers: a host that is
//! unreachable or lacks a requirement fails the plan ([`PlanError::HostsUnusable`]), or — when
//! the node can do without what is missing here — the node runs here, with a warning.
//! [`check_resolved`] last asks the engines that will create the nodes whether each node's type
//! resolves there ([`PlanError::Unresolved`], with the catalogue names closest to a mistyped one).
//!
//! Local Python nodes run in RustPython unless their `runtime_hint` (or the
//! [`REMOTEMEDIA_PYTHON_RUNTIME`](crate::env_vars::PYTHON_RUNTIME) override) asks for CPython, which
//! must then be available here. A node left to `auto` goes to CPython when its class says so
//! ([`plan_probed`] with a [`ClassProbe`]): the class declares `runtime_hint = "cpython"`, or its
//! module does not import in RustPython (it imports a compiled extension such as numpy).
//!
//! ```
//! use remotemedia_core::manifest::Manifest;
//! use remotemedia_core::placement::{self, EngineKind, MachineCapabilities};
//!
//! let manifest: Manifest = serde_json::from_str(r#"{
//!     "version": "v1", "metadata": {"name": "demo"},
//!     "nodes": [{"id": "asr", "node_type": "Whisper", "host": "gpu-box:50051",
//!                "capabilities": {"gpu": {"type": "cuda", "min_memory_gb": 8}}}]
//! }"#).unwrap();
//! let laptop = MachineCapabilities::from_json(
//!     r#"{"cpu": {"cores": 8, "arch": "aarch64"}, "memory": {"total_gb": 16}}"#,
//!     "laptop.json",
//! ).unwrap();
//!
//! let plan = placement::plan_with(&manifest, &laptop, &Default::default()).unwrap();
//! assert_eq!(plan.nodes[0].engine, EngineKind::Remote { host: "gpu-box:50051".into() });
//! println!("{}", plan.nodes[0].reason); // runs on gpu-box:50051, not locally: needs gpu cuda ≥ 8 GB — no cuda GPU
//! ```

mod cluster_check;
mod error;
mod host_check;
mod planner;
mod resolve;
mod types;

// Placement works on machines and asks engines about classes: their types, where plans use them.
pub use crate::engine::{ClassFinding, ClassProbe, NativeFinding, NoClassProbe};
pub use crate::machine::{
    CpuInfo, Engines, GpuInfo, MachineCapabilities, MemoryInfo, PROBE_TIMEOUT, ProfileError,
    detect, format_gb, gpu_kind_name,
};
pub use cluster_check::check_cluster;
pub use error::{HostProblem, PlanError, UnplaceableNode};
pub use host_check::check_hosts;
pub use planner::{PlanOptions, plan, plan_probed, plan_with};
pub use resolve::{NodeResolver, UnresolvedNode, check_resolved, closest_names};
pub use types::{EngineKind, NodePlan, Plan, PythonEngine, Requirement, Shortfall};
