//! A node's `capabilities` as a Ray resource request, and the machine its worker is checked against.
//!
//! | manifest | Ray |
//! | --- | --- |
//! | `cpu.cores` (default 1) | `num_cpus` |
//! | a required `gpu` | `num_gpus: 1` |
//! | `gpu.type` (cuda, rocm, metal, vulkan) | custom resource `gpu_<type>: 1` |
//! | `gpu.min_memory_gb` | custom resource `gpu_memory_gb: <min>` |
//! | `memory_gb` | `memory` (bytes, 1 GB = 10⁹) |
//!
//! A machine offers the custom resources when its Ray node starts:
//! `ray start --num-gpus 1 --resources '{"gpu_cuda": 1, "gpu_memory_gb": 24}'`. GPU memory is a
//! quantity Ray counts down: two nodes asking 8 GB each share a 24 GB GPU, a third asking 16 GB
//! waits. A GPU the node can do without (`"required": false`) is not asked for. `cpu.arch` has no
//! Ray resource: the worker checks it against its own machine.

use std::collections::BTreeMap;
use std::fmt;

use remotemedia_core::manifest::{Capabilities, GpuKind};
use remotemedia_core::placement::gpu_kind_name;
use serde::Serialize;
use serde_json::json;

/// Bytes per GB, as placement counts them.
const BYTES_PER_GB: f64 = 1e9;

/// What Ray is asked for to run one node: the options its actor is created with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RayRequest {
    pub num_cpus: f64,
    pub num_gpus: f64,
    /// Bytes of memory; 0 asks for none.
    pub memory: f64,
    /// Custom resources (`gpu_cuda`, `gpu_memory_gb`), by name.
    pub resources: BTreeMap<String, f64>,
}

impl RayRequest {
    /// The request for a node with `capabilities`.
    pub fn for_node(capabilities: Option<&Capabilities>) -> RayRequest {
        let mut request = RayRequest {
            num_cpus: 1.0,
            num_gpus: 0.0,
            memory: 0.0,
            resources: BTreeMap::new(),
        };
        let Some(capabilities) = capabilities else {
            return request;
        };
        if let Some(cores) = capabilities.cpu.as_ref().and_then(|cpu| cpu.cores) {
            request.num_cpus = f64::from(cores.max(1));
        }
        if let Some(gpu) = capabilities.gpu.as_ref().filter(|gpu| gpu.required) {
            request.num_gpus = 1.0;
            if gpu.kind != GpuKind::Any {
                request
                    .resources
                    .insert(format!("gpu_{}", gpu_kind_name(gpu.kind)), 1.0);
            }
            if let Some(gb) = gpu.min_memory_gb {
                request.resources.insert("gpu_memory_gb".to_owned(), gb);
            }
        }
        if let Some(gb) = capabilities.memory_gb {
            request.memory = gb * BYTES_PER_GB;
        }
        request
    }

    /// The machine profile the node's worker checks it against: what Ray granted, not what the
    /// worker's machine has (the actor fills in the CPU it was given, and drops the GPU if none
    /// was granted). A GPU of kind `any` is shown as CUDA, the kind Ray counts as `GPU` by default.
    pub fn worker_profile(&self, capabilities: Option<&Capabilities>) -> serde_json::Value {
        let gpu = capabilities.and_then(|capabilities| capabilities.gpu.as_ref());
        let gpus = match gpu {
            Some(gpu) if self.num_gpus > 0.0 => {
                let kind = match gpu.kind {
                    GpuKind::Any => "cuda",
                    kind => gpu_kind_name(kind),
                };
                vec![json!({
                    "kind": kind,
                    "name": "granted by Ray",
                    "memory_gb": self.resources.get("gpu_memory_gb"),
                })]
            }
            _ => Vec::new(),
        };
        json!({
            "name": "ray worker",
            "cpu": {"cores": self.num_cpus, "arch": std::env::consts::ARCH},
            "memory": {"total_gb": self.memory / BYTES_PER_GB},
            "gpus": gpus,
            "engines": {"rustpython": true, "cpython": true},
        })
    }
}

impl fmt::Display for RayRequest {
    /// `num_cpus=1, num_gpus=1, gpu_cuda=1, gpu_memory_gb=4, memory=8 GB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "num_cpus={}", self.num_cpus)?;
        if self.num_gpus > 0.0 {
            write!(f, ", num_gpus={}", self.num_gpus)?;
        }
        for (name, amount) in &self.resources {
            write!(f, ", {name}={amount}")?;
        }
        if self.memory > 0.0 {
            write!(f, ", memory={} GB", self.memory / BYTES_PER_GB)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capabilities(json: &str) -> Capabilities {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_node_without_requirements_asks_for_one_cpu() {
        let request = RayRequest::for_node(None);
        assert_eq!(request.to_string(), "num_cpus=1");
    }

    #[test]
    fn capabilities_map_to_ray_resources() {
        let node = capabilities(
            r#"{"gpu": {"type": "cuda", "min_memory_gb": 4}, "cpu": {"cores": 2}, "memory_gb": 8}"#,
        );
        let request = RayRequest::for_node(Some(&node));
        assert_eq!(
            request.to_string(),
            "num_cpus=2, num_gpus=1, gpu_cuda=1, gpu_memory_gb=4, memory=8 GB"
        );
        let profile = request.worker_profile(Some(&node));
        assert_eq!(profile["gpus"][0]["kind"], "cuda");
        assert_eq!(profile["gpus"][0]["memory_gb"], 4.0);
        assert_eq!(profile["memory"]["total_gb"], 8.0);
    }

    #[test]
    fn an_optional_gpu_is_not_asked_for_and_any_gpu_has_no_kind_resource() {
        let optional = capabilities(r#"{"gpu": {"type": "cuda", "required": false}}"#);
        assert_eq!(
            RayRequest::for_node(Some(&optional)).to_string(),
            "num_cpus=1"
        );
        let any = capabilities(r#"{"gpu": {"type": "any"}}"#);
        assert_eq!(
            RayRequest::for_node(Some(&any)).to_string(),
            "num_cpus=1, num_gpus=1"
        );
    }
}
