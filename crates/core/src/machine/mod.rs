//! What a machine offers — CPU, memory, GPUs, engines — detected ([`detect`]) or read from a
//! machine profile (`--capabilities FILE`). Placement checks node requirements against it.

mod detect;

pub use detect::{PROBE_TIMEOUT, detect};

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::GpuKind;

/// What one machine offers to nodes: CPU, memory, GPUs and the Python engines of this process.
///
/// This is also the JSON machine profile read by `--capabilities FILE`, which replaces detection
/// (to test placement, or to plan for another machine). Sizes are in GB of 10^9 bytes.
///
/// ```json
/// {
///   "name": "gpu-box",
///   "cpu": {"cores": 16, "arch": "x86_64"},
///   "memory": {"total_gb": 64, "available_gb": 48},
///   "gpus": [{"kind": "cuda", "name": "NVIDIA RTX 4090", "memory_gb": 24}],
///   "engines": {"rustpython": true, "cpython": true}
/// }
/// ```
///
/// `name`, `memory.available_gb`, `gpus`, `engines` and a GPU's `memory_gb` may be left out;
/// unknown fields are errors, so a typo is reported rather than ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineCapabilities {
    /// A label for the machine, shown by `plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    /// Every GPU, in the order the system lists them.
    #[serde(default)]
    pub gpus: Vec<GpuInfo>,
    #[serde(default)]
    pub engines: Engines,
}

/// The CPU as this process may use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuInfo {
    /// Cores this process may run on (affinity and quotas included), at least 1.
    pub cores: u32,
    /// As Rust names it: `x86_64`, `aarch64`, …
    pub arch: String,
}

/// System memory, in GB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryInfo {
    /// What node `memory_gb` requirements are checked against.
    pub total_gb: f64,
    /// Free for new allocations now; unknown when planning for another machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_gb: Option<f64>,
}

/// One GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuInfo {
    /// `cuda`, `rocm`, `metal` or `vulkan` (`any` only exists in requirements).
    pub kind: GpuKind,
    pub name: String,
    /// Its own memory in GB; unknown when the system does not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<f64>,
}

/// The Python engines available to locally placed nodes. Remote engines are per host, not here.
///
/// Placement never starts an engine to find out: whoever detects the machine (the runtime, which
/// knows the engines it was built with) fills this in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Engines {
    /// The embedded interpreter: built into every `remotemedia` binary.
    #[serde(default = "default_true")]
    pub rustpython: bool,
    /// A usable CPython for nodes that need C extensions.
    #[serde(default)]
    pub cpython: bool,
    /// Why CPython is not usable, when the detector knows more than "none found" (e.g. a
    /// `REMOTEMEDIA_PYTHON` that is not executable); shown where a node needs it.
    #[serde(skip)]
    pub cpython_problem: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Default for Engines {
    fn default() -> Self {
        Engines {
            rustpython: true,
            cpython: false,
            cpython_problem: None,
        }
    }
}

/// A machine profile that cannot be used, with the file and the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("failed to read machine profile `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid machine profile `{}`: {}", origin.display(), describe_field(field, message))]
    Invalid {
        /// The file (or other origin) of the profile.
        origin: PathBuf,
        /// Where in the document, as a dotted path (`cpu.cores`, `gpus[0].kind`); empty for the
        /// document as a whole.
        field: String,
        message: String,
    },
}

fn describe_field(field: &str, message: &str) -> String {
    if field.is_empty() {
        message.to_owned()
    } else {
        format!("field `{field}`: {message}")
    }
}

impl MachineCapabilities {
    /// Reads and checks a JSON machine profile.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Parses and checks a JSON machine profile; `origin` names it in errors.
    pub fn from_json(text: &str, origin: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let origin = origin.as_ref();
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let machine: MachineCapabilities = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|err| {
                // The document as a whole prints as `.`; keep field paths for fields.
                let field = err.path().to_string();
                ProfileError::Invalid {
                    origin: origin.to_owned(),
                    field: if field == "." { String::new() } else { field },
                    message: err.into_inner().to_string(),
                }
            })?;
        deserializer.end().map_err(|err| ProfileError::Invalid {
            origin: origin.to_owned(),
            field: String::new(),
            message: err.to_string(),
        })?;
        machine
            .check()
            .map_err(|(field, message)| ProfileError::Invalid {
                origin: origin.to_owned(),
                field,
                message,
            })?;
        Ok(machine)
    }

    /// The rules serde cannot express: positive counts, sizes that are real numbers.
    fn check(&self) -> Result<(), (String, String)> {
        if self.cpu.cores == 0 {
            return Err(("cpu.cores".into(), "must be at least 1".into()));
        }
        if self.cpu.arch.trim().is_empty() {
            return Err(("cpu.arch".into(), "must not be empty".into()));
        }
        check_size("memory.total_gb", self.memory.total_gb)?;
        if let Some(available) = self.memory.available_gb {
            check_size("memory.available_gb", available)?;
            if available > self.memory.total_gb {
                return Err((
                    "memory.available_gb".into(),
                    format!(
                        "{} is more than memory.total_gb ({})",
                        format_gb(available),
                        format_gb(self.memory.total_gb)
                    ),
                ));
            }
        }
        for (index, gpu) in self.gpus.iter().enumerate() {
            if gpu.kind == GpuKind::Any {
                return Err((
                    format!("gpus[{index}].kind"),
                    "`any` is only for requirements; a GPU is cuda, rocm, metal or vulkan".into(),
                ));
            }
            if let Some(memory) = gpu.memory_gb {
                check_size(&format!("gpus[{index}].memory_gb"), memory)?;
            }
        }
        Ok(())
    }
}

fn check_size(field: &str, gb: f64) -> Result<(), (String, String)> {
    if gb.is_finite() && gb >= 0.0 {
        Ok(())
    } else {
        Err((
            field.to_owned(),
            format!("must be a size in GB, at least 0 (got {gb})"),
        ))
    }
}

/// The machine in one line: `8 cores x86_64, 16 GB memory (12 GB available), no GPU, engines: rustpython`.
impl fmt::Display for MachineCapabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cores = self.cpu.cores;
        let plural = if cores == 1 { "" } else { "s" };
        write!(
            f,
            "{cores} core{plural} {}, {} memory",
            self.cpu.arch,
            format_gb(self.memory.total_gb)
        )?;
        if let Some(available) = self.memory.available_gb {
            write!(f, " ({} available)", format_gb(available))?;
        }
        if self.gpus.is_empty() {
            f.write_str(", no GPU")?;
        } else {
            let gpus: Vec<String> = self.gpus.iter().map(GpuInfo::to_string).collect();
            write!(f, ", GPUs: {}", gpus.join("; "))?;
        }
        write!(f, ", engines: {}", self.engines)
    }
}

impl fmt::Display for GpuInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", gpu_kind_name(self.kind), self.name)?;
        match self.memory_gb {
            Some(memory) => write!(f, " ({})", format_gb(memory)),
            None => f.write_str(" (memory unknown)"),
        }
    }
}

impl fmt::Display for Engines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [("rustpython", self.rustpython), ("cpython", self.cpython)]
            .into_iter()
            .filter_map(|(name, present)| present.then_some(name))
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// The manifest spelling of a GPU kind: `cuda`, `rocm`, `metal`, `vulkan`, `any`.
pub fn gpu_kind_name(kind: GpuKind) -> &'static str {
    match kind {
        GpuKind::Cuda => "cuda",
        GpuKind::Rocm => "rocm",
        GpuKind::Metal => "metal",
        GpuKind::Vulkan => "vulkan",
        GpuKind::Any => "any",
    }
}

/// `8 GB`, `7.5 GB`: whole numbers without decimals, others to one decimal.
pub fn format_gb(gb: f64) -> String {
    let rounded = (gb * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0} GB")
    } else {
        format!("{rounded:.1} GB")
    }
}

/// A machine's `have` GB that fall short of `need`, as [`format_gb`] shows them unless that would
/// read as enough (`has 8.6 GB` against `≥ 8.58 GB`): then rounded down, to two decimals.
pub fn format_gb_short_of(have: f64, need: f64) -> String {
    if have >= need || (have * 10.0).round() / 10.0 < need {
        return format_gb(have);
    }
    let floor = (have * 100.0).floor() / 100.0;
    format!("{floor} GB")
}

/// A figure a user gave (a requirement), as given: `8 GB`, `8.001 GB` — rounding it could make
/// a machine that falls short look as if it had enough.
pub fn format_gb_given(gb: f64) -> String {
    format!("{gb} GB")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(text: &str) -> (String, String) {
        match MachineCapabilities::from_json(text, "m.json") {
            Err(ProfileError::Invalid { field, message, .. }) => (field, message),
            other => panic!("expected an invalid profile, got {other:?}"),
        }
    }

    #[test]
    fn minimal_profile_takes_defaults() {
        let machine = MachineCapabilities::from_json(
            r#"{"cpu": {"cores": 2, "arch": "aarch64"}, "memory": {"total_gb": 4}}"#,
            "m.json",
        )
        .unwrap();
        assert!(machine.gpus.is_empty());
        assert_eq!(machine.engines, Engines::default());
        assert_eq!(machine.memory.available_gb, None);
        assert_eq!(
            machine.to_string(),
            "2 cores aarch64, 4 GB memory, no GPU, engines: rustpython"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let (field, message) =
            invalid(r#"{"cpu": {"cores": "8", "arch": "x86_64"}, "memory": {"total_gb": 4}}"#);
        assert_eq!(field, "cpu.cores");
        assert!(message.contains("invalid type"), "{message}");

        let (field, message) =
            invalid(r#"{"cpu": {"core": 8, "arch": "x86_64"}, "memory": {"total_gb": 4}}"#);
        assert_eq!(field, "cpu.core");
        assert!(message.contains("unknown field `core`"), "{message}");

        let (field, _) = invalid(
            r#"{"cpu": {"cores": 8, "arch": "x86_64"}, "memory": {"total_gb": 4},
                "gpus": [{"kind": "cuda", "name": "a"}, {"kind": "opencl", "name": "b"}]}"#,
        );
        assert_eq!(field, "gpus[1].kind");

        let (field, message) =
            invalid(r#"{"cpu": {"cores": 0, "arch": "x86_64"}, "memory": {"total_gb": 4}}"#);
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("cpu.cores", "must be at least 1")
        );

        let (field, _) = invalid(
            r#"{"cpu": {"cores": 1, "arch": "x86_64"}, "memory": {"total_gb": 4, "available_gb": 5}}"#,
        );
        assert_eq!(field, "memory.available_gb");

        let (field, _) =
            invalid(r#"{"cpu": {"cores": 1, "arch": "x86_64"}, "memory": {"total_gb": -1}}"#);
        assert_eq!(field, "memory.total_gb");

        let (field, message) = invalid(r#"{"cpu": {"cores": 1, "arch": "x86_64"}}"#);
        assert_eq!(field, "");
        assert!(message.contains("missing field `memory`"), "{message}");
    }

    #[test]
    fn formats_sizes_readably() {
        assert_eq!(format_gb(8.0), "8 GB");
        assert_eq!(format_gb(7.54), "7.5 GB");
        assert_eq!(format_gb(0.04), "0 GB");
        assert_eq!(format_gb_given(8.0), "8 GB");
        assert_eq!(format_gb_given(8.001), "8.001 GB");
        assert_eq!(format_gb_short_of(8.0, 8.001), "8 GB");
        assert_eq!(format_gb_short_of(8.56, 8.58), "8.56 GB");
        assert_eq!(format_gb_short_of(8.589_934_592, 16.0), "8.6 GB");
    }
}
