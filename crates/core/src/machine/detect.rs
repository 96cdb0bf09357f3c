//! Detecting what the local machine offers.
//!
//! Every probe is best-effort: a missing tool, a tool that fails or one that hangs (each is given
//! [`PROBE_TIMEOUT`]) means "none of that kind", logged at debug level, never a failed run.

use std::process::Command;
use std::time::Duration;

use crate::manifest::GpuKind;

use super::{CpuInfo, Engines, GpuInfo, MachineCapabilities, MemoryInfo};

/// How long one external probe (`nvidia-smi`, `rocm-smi`, …) may take before it is abandoned.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

const BYTES_PER_GB: f64 = 1e9;
const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

/// The capabilities of this machine, as this process can use them, with the Python `engines` the
/// caller knows it has.
pub fn detect(engines: Engines) -> MachineCapabilities {
    let memory = detect_memory();
    let gpus = detect_gpus(memory.total_gb);
    MachineCapabilities {
        name: None,
        cpu: CpuInfo {
            cores: detect_cores(),
            arch: std::env::consts::ARCH.to_owned(),
        },
        memory,
        gpus,
        engines,
    }
}

/// Cores this process may use: affinity masks and cgroup CPU quotas included.
fn detect_cores() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}

fn detect_memory() -> MemoryInfo {
    use sysinfo::{MemoryRefreshKind, System};
    let Ok(mut system) = System::new() else {
        tracing::debug!("memory size unavailable on this system");
        return MemoryInfo {
            total_gb: 0.0,
            available_gb: None,
        };
    };
    system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
    let mut total = system.total_memory();
    let mut available = system.available_memory();
    // In a container the cgroup limit, not the host's RAM, is what the process can have.
    if let Some(limits) = system.cgroup_limits()
        && limits.total_memory > 0
        && limits.total_memory < total
    {
        total = limits.total_memory;
        available = available.min(limits.free_memory);
    }
    MemoryInfo {
        total_gb: total as f64 / BYTES_PER_GB,
        available_gb: Some(available.min(total) as f64 / BYTES_PER_GB),
    }
}

fn detect_gpus(system_memory_gb: f64) -> Vec<GpuInfo> {
    let mut gpus = Vec::new();
    if let Some(out) = run_probe(
        "nvidia-smi",
        &[
            "--query-gpu=name,memory.total",
            "--format=csv,noheader,nounits",
        ],
    ) {
        gpus.extend(parse_nvidia_smi(&out));
    }
    if let Some(out) = run_probe(
        "rocm-smi",
        &["--showproductname", "--showmeminfo", "vram", "--json"],
    ) {
        gpus.extend(parse_rocm_smi(&out));
    }
    gpus.extend(metal_gpus(system_memory_gb));
    gpus
}

#[cfg(target_os = "macos")]
fn metal_gpus(system_memory_gb: f64) -> Vec<GpuInfo> {
    let listed = run_probe("system_profiler", &["SPDisplaysDataType", "-json"])
        .map(|out| parse_system_profiler(&out, system_memory_gb))
        .unwrap_or_default();
    if listed.is_empty() && cfg!(target_arch = "aarch64") {
        // Every Apple silicon Mac has a Metal GPU sharing system memory, even when the profiler fails.
        return vec![GpuInfo {
            kind: GpuKind::Metal,
            name: "Apple GPU".into(),
            memory_gb: Some(system_memory_gb),
        }];
    }
    listed
}

#[cfg(not(target_os = "macos"))]
fn metal_gpus(_system_memory_gb: f64) -> Vec<GpuInfo> {
    Vec::new()
}

/// Runs `program args`, returning its stdout when it exits successfully within [`PROBE_TIMEOUT`].
fn run_probe(program: &str, args: &[&str]) -> Option<String> {
    crate::process::output_within(Command::new(program).args(args), PROBE_TIMEOUT)
        .map_err(|why| tracing::debug!("probe `{program}`: {why}; assuming none"))
        .ok()
}

/// Parses `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`: one
/// `name, MiB` line per GPU.
pub(crate) fn parse_nvidia_smi(output: &str) -> Vec<GpuInfo> {
    output
        .lines()
        .filter_map(|line| {
            let (name, memory) = line.trim().rsplit_once(',')?;
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            // `[N/A]` or `[Not Supported]` on some devices: the GPU exists, its memory is unknown.
            let memory_gb = memory
                .trim()
                .parse::<f64>()
                .ok()
                .map(|mib| mib * BYTES_PER_MIB / BYTES_PER_GB);
            Some(GpuInfo {
                kind: GpuKind::Cuda,
                name: name.to_owned(),
                memory_gb,
            })
        })
        .collect()
}

/// Parses `rocm-smi --showproductname --showmeminfo vram --json`: `{"card0": {...}, ...}`, whose
/// key spelling changed across ROCm releases (`Card series` / `Card Series`).
pub(crate) fn parse_rocm_smi(output: &str) -> Vec<GpuInfo> {
    let Ok(serde_json::Value::Object(cards)) = serde_json::from_str::<serde_json::Value>(output)
    else {
        return Vec::new();
    };
    cards
        .iter()
        .filter(|(key, _)| key.to_ascii_lowercase().starts_with("card"))
        .filter_map(|(key, fields)| {
            let fields = fields.as_object()?;
            let field = |wanted: &str| {
                fields
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                    .and_then(|(_, value)| value.as_str())
                    .map(str::trim)
                    .filter(|value| !value.is_empty())
            };
            let name = field("Card Series")
                .or_else(|| field("Card Model"))
                .unwrap_or(key.as_str());
            let memory_gb = field("VRAM Total Memory (B)")
                .and_then(|bytes| bytes.parse::<f64>().ok())
                .map(|bytes| bytes / BYTES_PER_GB);
            Some(GpuInfo {
                kind: GpuKind::Rocm,
                name: name.to_owned(),
                memory_gb,
            })
        })
        .collect()
}

/// Parses `system_profiler SPDisplaysDataType -json`, keeping the Metal-capable GPUs. A GPU without
/// its own VRAM (Apple silicon) shares system memory, so it gets `system_memory_gb`.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub(crate) fn parse_system_profiler(output: &str, system_memory_gb: f64) -> Vec<GpuInfo> {
    let Ok(document) = serde_json::from_str::<serde_json::Value>(output) else {
        return Vec::new();
    };
    let Some(displays) = document
        .get("SPDisplaysDataType")
        .and_then(|v| v.as_array())
    else {
        return Vec::new();
    };
    displays
        .iter()
        .filter(|gpu| {
            gpu.as_object().is_some_and(|fields| {
                fields.keys().any(|key| {
                    key.starts_with("spdisplays_mtlgpufamilysupport") || key == "spdisplays_metal"
                })
            })
        })
        .map(|gpu| {
            let text = |key: &str| gpu.get(key).and_then(|v| v.as_str());
            let name = text("sppci_model")
                .or_else(|| text("_name"))
                .unwrap_or("Metal GPU");
            let memory_gb = text("spdisplays_vram")
                .and_then(parse_size_gb)
                .unwrap_or(system_memory_gb);
            GpuInfo {
                kind: GpuKind::Metal,
                name: name.to_owned(),
                memory_gb: Some(memory_gb),
            }
        })
        .collect()
}

/// `"8 GB"` or `"1536 MB"` as macOS prints them (binary units) → GB.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn parse_size_gb(text: &str) -> Option<f64> {
    let (number, unit) = text.trim().split_once(' ')?;
    let number: f64 = number.parse().ok()?;
    let mib = match unit.trim() {
        "GB" => number * 1024.0,
        "MB" => number,
        _ => return None,
    };
    Some(mib * BYTES_PER_MIB / BYTES_PER_GB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nvidia_smi_lines() {
        let gpus =
            parse_nvidia_smi("NVIDIA GeForce RTX 3070, 8192\nTesla T4, 15360\nOdd, [N/A]\n\n");
        assert_eq!(gpus.len(), 3);
        assert_eq!(gpus[0].name, "NVIDIA GeForce RTX 3070");
        assert!((gpus[0].memory_gb.unwrap() - 8.589934592).abs() < 1e-9);
        assert_eq!(gpus[1].name, "Tesla T4");
        assert_eq!(gpus[2].memory_gb, None);
        assert!(gpus.iter().all(|gpu| gpu.kind == GpuKind::Cuda));
    }

    #[test]
    fn reads_rocm_smi_json_in_either_spelling() {
        let new = r#"{"card0": {"Card Series": "Instinct MI210", "VRAM Total Memory (B)": "68702699520"},
                      "system": {"Driver version": "6.2"}}"#;
        let old = r#"{"card1": {"Card series": "Radeon RX 6800", "VRAM Total Memory (B)": "17163091968"}}"#;
        let gpus = parse_rocm_smi(new);
        assert_eq!(gpus.len(), 1);
        assert_eq!(gpus[0].name, "Instinct MI210");
        assert!((gpus[0].memory_gb.unwrap() - 68.70269952).abs() < 1e-9);
        assert_eq!(parse_rocm_smi(old)[0].name, "Radeon RX 6800");
        assert!(parse_rocm_smi("not json").is_empty());
    }

    #[test]
    fn reads_metal_gpus_from_system_profiler() {
        let out = r#"{"SPDisplaysDataType": [
            {"_name": "Apple M2", "sppci_model": "Apple M2", "spdisplays_mtlgpufamilysupport": "spdisplays_metal3"},
            {"_name": "Radeon Pro 5500M", "sppci_model": "AMD Radeon Pro 5500M", "spdisplays_vram": "8 GB",
             "spdisplays_mtlgpufamilysupport": "spdisplays_metal3"},
            {"_name": "Old", "sppci_model": "No Metal"}]}"#;
        let gpus = parse_system_profiler(out, 16.0);
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[0].memory_gb, Some(16.0));
        assert_eq!(gpus[1].name, "AMD Radeon Pro 5500M");
        assert!((gpus[1].memory_gb.unwrap() - 8.589934592).abs() < 1e-9);
    }

    #[test]
    fn a_missing_tool_is_no_answer() {
        assert_eq!(run_probe("remotemedia-no-such-tool", &[]), None);
    }

    #[test]
    fn a_failing_tool_is_no_answer() {
        assert_eq!(run_probe("false", &[]), None);
        assert_eq!(run_probe("echo", &["ok"]).as_deref(), Some("ok\n"));
    }
}
