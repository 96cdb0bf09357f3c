//! The manifest's data model: serde types mirroring `schemas/manifest.v1.json`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A pipeline manifest, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `"v1"` for this format.
    pub version: String,
    pub metadata: Metadata,
    pub nodes: Vec<NodeManifest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<Connection>,
}

/// Who the pipeline is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// RFC 3339 timestamp: UTC ending in `Z` (what the SDK writes), or with an offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// One node of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeManifest {
    pub id: String,
    pub node_type: String,
    /// The Python module defining `node_type`, for user-defined nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Constructor keyword arguments, as JSON.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// A remote remotemedia instance, `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_hint: Option<RuntimeHint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_streaming: Option<bool>,
    /// Where placement may put the node; by default local first (see [`Placement`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Whether the node runs in a worker process of its own (see [`Isolation`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    /// The longest one `process` (or `flush`) call may take, in seconds; overrides the run's
    /// [`node_timeout`](crate::executor::RunOptions::node_timeout) for this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// How loading rewrote this node, for people (`plan` shows it): set when the manifest wrote
    /// it in the upstream SDK's `RemoteExecutionNode` form. Not part of the JSON.
    #[serde(skip)]
    pub rewritten_from: Option<String>,
}

/// Where a node may run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Here when this machine meets its requirements; otherwise on its `host`, otherwise on the
    /// cluster the run is given.
    #[default]
    LocalFirst,
    /// On the cluster the run is given, whatever this machine offers (a run without a cluster
    /// cannot place it).
    Cluster,
}

impl NodeManifest {
    /// Whether the node's class is named by a module (a `module`, or a `module:Class` type): user
    /// code, rather than a catalogue name.
    pub fn names_a_module(&self) -> bool {
        self.module.is_some() || self.node_type.contains(':')
    }
}

/// What a node needs from the machine it runs on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuRequirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuRequirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<f64>,
}

/// A GPU the node wants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuRequirement {
    #[serde(rename = "type")]
    pub kind: GpuKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_memory_gb: Option<f64>,
    /// When false, the node can run without the GPU (on CPU).
    #[serde(default = "default_true")]
    pub required: bool,
}

fn default_true() -> bool {
    true
}

/// GPU families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuKind {
    Cuda,
    Rocm,
    Metal,
    Vulkan,
    Any,
}

/// CPU requirements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuRequirement {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_cores"
    )]
    pub cores: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

/// JSON Schema counts `2.0` as an integer, so the runtime accepts it as one too.
fn whole_cores<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = match number.as_u64() {
        Some(integer) => u32::try_from(integer).ok(),
        None => number
            .as_f64()
            .filter(|float| float.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(float))
            .map(|float| float as u32),
    };
    whole.map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "cores must be a whole number up to {}, got {number}",
            u32::MAX
        ))
    })
}

/// Which engine should run a node: its native implementation, or a Python engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeHint {
    #[default]
    Auto,
    /// The node's native (Rust) implementation: no Python at all.
    Native,
    Rustpython,
    Cpython,
}

/// Where a node's code runs, from the runtime's point of view: a node in a worker process of its
/// own cannot take the run down when it crashes; a sandboxed one cannot reach the machine either.
///
/// Ordered from the loosest to the strictest, so a run-wide switch can take the stricter of its
/// own choice and a node's (`max`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// In the runtime's process (the default).
    #[default]
    None,
    /// In a worker process of its own.
    Process,
    /// In a sandboxed worker process of its own.
    Sandbox,
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Isolation::None => "none",
            Isolation::Process => "process",
            Isolation::Sandbox => "sandbox",
        })
    }
}

/// A directed edge: every output of `from` is an input of `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub from: String,
    pub to: String,
}
