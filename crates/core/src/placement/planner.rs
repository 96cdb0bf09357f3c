//! The planner: each node's requirements against a machine's capabilities → an engine per node.

use crate::env_vars;
use crate::manifest::{Capabilities, GpuKind, Manifest, NodeManifest, Placement, RuntimeHint};

use super::error::{PlanError, UnplaceableNode};
use super::types::{EngineKind, NodePlan, Plan, PythonEngine, Requirement, Shortfall};
use crate::engine::{ClassFinding, ClassProbe, NativeFinding, NoClassProbe};
use crate::machine::{MachineCapabilities, format_gb_short_of, gpu_kind_name};

/// Choices that come from outside the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Forces the engine of every locally placed Python node, over its `runtime_hint`.
    /// `None` follows the hints.
    pub python_runtime: Option<PythonEngine>,
    /// The planning process is a CPython interpreter that holds node classes RustPython cannot
    /// find (the caller's own code, e.g. `Pipeline.run()` from Python): an `auto` node whose class
    /// RustPython cannot load runs there instead of failing.
    pub cpython_holds_unfound_classes: bool,
    /// A cluster is given (`--cluster`): nodes this machine cannot run, and no `host` takes, go
    /// there, and so do nodes whose `placement` is `cluster`.
    pub cluster: bool,
}

impl PlanOptions {
    /// Whether placing `node` needs its class probed: it is left to `auto` and nothing overrides.
    pub fn needs_probe(&self, node: &NodeManifest) -> bool {
        self.python_runtime.is_none() && node.runtime_hint.unwrap_or_default() == RuntimeHint::Auto
    }

    /// Whether placing `node` asks for a native implementation: it is left to `auto` or hinted
    /// `native`, and no Python engine is forced.
    pub fn asks_native(&self, node: &NodeManifest) -> bool {
        self.python_runtime.is_none()
            && matches!(
                node.runtime_hint.unwrap_or_default(),
                RuntimeHint::Auto | RuntimeHint::Native
            )
    }

    /// What `probe` finds about `node`: native first, its class only when it is not native.
    pub fn findings(
        &self,
        node: &NodeManifest,
        probe: &dyn ClassProbe,
    ) -> (NativeFinding, ClassFinding) {
        let native = if self.asks_native(node) {
            probe.native(node)
        } else {
            NativeFinding::NotImplemented
        };
        let class = if native != NativeFinding::Supported && self.needs_probe(node) {
            probe.probe(node)
        } else {
            ClassFinding::Unknown
        };
        (native, class)
    }
}

impl PlanOptions {
    /// Options from the environment: [`env_vars::PYTHON_RUNTIME`].
    pub fn from_env() -> Result<Self, PlanError> {
        match std::env::var_os(env_vars::PYTHON_RUNTIME) {
            None => Ok(PlanOptions::default()),
            Some(value) => Self::with_python_runtime(&value.to_string_lossy()),
        }
    }

    /// Options with the Python runtime override spelled as in the environment variable:
    /// `auto` (or empty) follows the hints, `rustpython` or `cpython` forces that engine.
    pub fn with_python_runtime(value: &str) -> Result<Self, PlanError> {
        let python_runtime = match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => None,
            "rustpython" => Some(PythonEngine::Rustpython),
            "cpython" => Some(PythonEngine::Cpython),
            _ => {
                return Err(PlanError::InvalidRuntimeOverride {
                    value: value.to_owned(),
                });
            }
        };
        Ok(PlanOptions {
            python_runtime,
            ..PlanOptions::default()
        })
    }
}

/// Places every node of `manifest` on `machine`, honouring [`env_vars::PYTHON_RUNTIME`].
///
/// A node runs locally when the machine meets its requirements (even when it names a `host`:
/// local first); otherwise on its `host`; otherwise locally on CPU when only an optional GPU is
/// missing. Any other node is an error, and the error lists all of them.
pub fn plan(manifest: &Manifest, machine: &MachineCapabilities) -> Result<Plan, PlanError> {
    plan_with(manifest, machine, &PlanOptions::from_env()?)
}

/// [`plan`] with explicit options instead of the environment.
pub fn plan_with(
    manifest: &Manifest,
    machine: &MachineCapabilities,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    plan_probed(manifest, machine, options, &NoClassProbe)
}

/// [`plan_with`], asking `probe` what the classes of `auto` nodes need: a class that declares
/// `runtime_hint`, or whose module does not import in RustPython, decides the node's engine.
pub fn plan_probed(
    manifest: &Manifest,
    machine: &MachineCapabilities,
    options: &PlanOptions,
    probe: &dyn ClassProbe,
) -> Result<Plan, PlanError> {
    let mut nodes = Vec::with_capacity(manifest.nodes.len());
    let mut unplaceable = Vec::new();
    for node in &manifest.nodes {
        let (native, finding) = options.findings(node, probe);
        match place(node, machine, options, &native, &finding) {
            Ok(placed) => nodes.push(placed),
            Err(missing) => unplaceable.push(UnplaceableNode {
                node_id: node.id.clone(),
                missing,
            }),
        }
    }
    if unplaceable.is_empty() {
        Ok(Plan { nodes })
    } else {
        Err(PlanError::Unplaceable(unplaceable))
    }
}

/// One node's placement, or the required capabilities it lacks with nowhere else to go. The
/// reason ends with how loading rewrote the node, if it did.
pub(super) fn place(
    node: &NodeManifest,
    machine: &MachineCapabilities,
    options: &PlanOptions,
    native: &NativeFinding,
    finding: &ClassFinding,
) -> Result<NodePlan, Vec<Shortfall>> {
    let mut placed = place_by_requirements(node, machine, options, native, finding)?;
    if let Some(note) = &node.rewritten_from {
        placed.reason = format!("{}; {note}", placed.reason);
    }
    Ok(placed)
}

fn place_by_requirements(
    node: &NodeManifest,
    machine: &MachineCapabilities,
    options: &PlanOptions,
    native: &NativeFinding,
    finding: &ClassFinding,
) -> Result<NodePlan, Vec<Shortfall>> {
    let requirements = requirements_of(node.capabilities.as_ref());
    let (engine, engine_why) = choose_engine(node.runtime_hint, options, native, finding);
    let mut unmet: Vec<Shortfall> = requirements
        .iter()
        .filter_map(|(requirement, required)| {
            shortfall(requirement, machine).map(|found| Shortfall {
                requirement: requirement.clone(),
                required: *required,
                found,
            })
        })
        .collect();
    match engine {
        Chosen::Python(engine) => {
            let present = match engine {
                PythonEngine::Rustpython => machine.engines.rustpython,
                PythonEngine::Cpython => machine.engines.cpython,
            };
            if !present {
                unmet.push(Shortfall {
                    requirement: Requirement::Engine { engine },
                    required: true,
                    found: missing_engine_help(engine, machine),
                });
            }
        }
        Chosen::Native => {}
        Chosen::NoNative(ref why) => unmet.push(Shortfall {
            requirement: Requirement::Native,
            required: true,
            found: why.clone(),
        }),
    }
    let local = |location: String, unmet: Vec<Shortfall>| NodePlan {
        id: node.id.clone(),
        node_type: node.node_type.clone(),
        engine: engine.engine_kind(),
        reason: format!("{location}; {engine} ({engine_why})"),
        unmet,
    };

    let on_cluster = |why: String, unmet: Vec<Shortfall>| NodePlan {
        id: node.id.clone(),
        node_type: node.node_type.clone(),
        engine: EngineKind::Cluster,
        reason: format!("runs on the cluster: {why}"),
        unmet,
    };
    if node.placement == Some(Placement::Cluster) {
        if options.cluster {
            return Ok(on_cluster("its placement is `cluster`".to_owned(), unmet));
        }
        return Err(vec![Shortfall {
            requirement: Requirement::Cluster,
            required: true,
            found: "no cluster given (--cluster ray://HOST:PORT, or RAY_ADDRESS)".to_owned(),
        }]);
    }

    if unmet.is_empty() {
        let met = if requirements.is_empty() {
            "no requirements".to_owned()
        } else {
            let names: Vec<String> = requirements.iter().map(|(r, _)| r.to_string()).collect();
            format!("requirements met ({})", names.join(", "))
        };
        let location = match &node.host {
            Some(host) => {
                format!("runs locally: {met}, so host {host} is not needed (local first)")
            }
            None => format!("runs locally: {met}"),
        };
        return Ok(local(location, unmet));
    }
    if let Some(host) = &node.host {
        let why: Vec<String> = unmet.iter().map(Shortfall::to_string).collect();
        return Ok(NodePlan {
            id: node.id.clone(),
            node_type: node.node_type.clone(),
            engine: EngineKind::Remote { host: host.clone() },
            reason: format!("runs on {host}, not locally: {}", why.join("; ")),
            unmet,
        });
    }
    if options.cluster && unmet.iter().any(|shortfall| shortfall.required) {
        let why: Vec<String> = unmet.iter().map(Shortfall::to_string).collect();
        return Ok(on_cluster(
            format!("not locally: {}", why.join("; ")),
            unmet,
        ));
    }
    if unmet.iter().any(|shortfall| shortfall.required) {
        return Err(unmet
            .into_iter()
            .filter(|shortfall| shortfall.required)
            .collect());
    }
    // Only optional requirements (a GPU the node can do without) are missing.
    let why: Vec<String> = unmet.iter().map(Shortfall::to_string).collect();
    Ok(local(
        format!("runs locally: {}, runs on CPU", why.join("; ")),
        unmet,
    ))
}

/// The node's capability requirements, each with whether it is required.
fn requirements_of(capabilities: Option<&Capabilities>) -> Vec<(Requirement, bool)> {
    let Some(capabilities) = capabilities else {
        return Vec::new();
    };
    let mut requirements = Vec::new();
    if let Some(gpu) = &capabilities.gpu {
        requirements.push((
            Requirement::Gpu {
                kind: gpu.kind,
                min_memory_gb: gpu.min_memory_gb,
            },
            gpu.required,
        ));
    }
    if let Some(cpu) = &capabilities.cpu {
        if let Some(cores) = cpu.cores {
            requirements.push((Requirement::CpuCores { cores }, true));
        }
        if let Some(arch) = &cpu.arch {
            requirements.push((Requirement::CpuArch { arch: arch.clone() }, true));
        }
    }
    if let Some(gb) = capabilities.memory_gb {
        requirements.push((Requirement::Memory { gb }, true));
    }
    requirements
}

/// What the machine has instead of `requirement`, or `None` when it meets it.
fn shortfall(requirement: &Requirement, machine: &MachineCapabilities) -> Option<String> {
    match requirement {
        Requirement::Gpu {
            kind,
            min_memory_gb,
        } => gpu_shortfall(*kind, *min_memory_gb, machine),
        Requirement::CpuCores { cores } => {
            (machine.cpu.cores < *cores).then(|| match machine.cpu.cores {
                1 => "only 1 core".to_owned(),
                n => format!("only {n} cores"),
            })
        }
        Requirement::CpuArch { arch } => (canonical_arch(arch)
            != canonical_arch(&machine.cpu.arch))
        .then(|| format!("cpu is {}", machine.cpu.arch)),
        Requirement::Memory { gb } => (machine.memory.total_gb < *gb).then(|| {
            format!(
                "only {} total",
                format_gb_short_of(machine.memory.total_gb, *gb)
            )
        }),
        Requirement::Engine { .. } | Requirement::Native | Requirement::Cluster => None,
    }
}

fn gpu_shortfall(
    kind: GpuKind,
    min_memory_gb: Option<f64>,
    machine: &MachineCapabilities,
) -> Option<String> {
    let candidates: Vec<_> = machine
        .gpus
        .iter()
        .filter(|gpu| kind == GpuKind::Any || gpu.kind == kind)
        .collect();
    let kind_name = match kind {
        GpuKind::Any => String::new(),
        kind => format!("{} ", gpu_kind_name(kind)),
    };
    if candidates.is_empty() {
        return Some(format!("no {kind_name}GPU"));
    }
    let min = min_memory_gb?;
    if candidates
        .iter()
        .any(|gpu| gpu.memory_gb.is_some_and(|gb| gb >= min))
    {
        return None;
    }
    let largest = candidates
        .iter()
        .filter_map(|gpu| gpu.memory_gb)
        .fold(None, |largest: Option<f64>, gb| {
            Some(largest.map_or(gb, |l| l.max(gb)))
        });
    Some(match largest {
        Some(gb) => format!("largest {kind_name}GPU has {}", format_gb_short_of(gb, min)),
        None => format!("{kind_name}GPU memory unknown"),
    })
}

/// One spelling per architecture, so `arm64` matches `aarch64` and `amd64` matches `x86_64`.
fn canonical_arch(arch: &str) -> String {
    let arch = arch.trim().to_ascii_lowercase();
    match arch.as_str() {
        "amd64" | "x64" | "x86-64" => "x86_64".to_owned(),
        "arm64" => "aarch64".to_owned(),
        "i386" | "i486" | "i586" | "i686" => "x86".to_owned(),
        _ => arch,
    }
}

/// The engine placement picked for a local node.
#[derive(Debug, Clone, PartialEq)]
enum Chosen {
    Native,
    Python(PythonEngine),
    /// `runtime_hint: native` without a native implementation here: why not.
    NoNative(String),
}

impl Chosen {
    fn engine_kind(&self) -> EngineKind {
        match self {
            Chosen::Native | Chosen::NoNative(_) => EngineKind::Native,
            Chosen::Python(engine) => engine.engine_kind(),
        }
    }
}

impl std::fmt::Display for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chosen::Native | Chosen::NoNative(_) => f.write_str("native"),
            Chosen::Python(engine) => engine.fmt(f),
        }
    }
}

/// The engine for a locally placed node, and why: native when it has a native implementation
/// (and is left to `auto`, or hinted `native`), else a Python engine.
fn choose_engine(
    hint: Option<RuntimeHint>,
    options: &PlanOptions,
    native: &NativeFinding,
    finding: &ClassFinding,
) -> (Chosen, String) {
    let var = env_vars::PYTHON_RUNTIME;
    let hint = hint.unwrap_or_default();
    if let Some(forced) = options.python_runtime {
        let why = match hint_engine(hint) {
            Some(hinted) if hinted != forced => {
                format!("{var}={forced} overrides runtime_hint {hinted}")
            }
            _ if hint == RuntimeHint::Native => {
                format!("{var}={forced} overrides runtime_hint native")
            }
            _ => format!("{var}={forced}"),
        };
        return (Chosen::Python(forced), why);
    }
    if hint == RuntimeHint::Native {
        let why = "runtime_hint native".to_owned();
        return match native {
            NativeFinding::Supported => (Chosen::Native, why),
            NativeFinding::NotImplemented => (
                Chosen::NoNative("no native implementation of this node type".to_owned()),
                why,
            ),
            NativeFinding::Unsupported(reason) => (Chosen::NoNative(reason.clone()), why),
        };
    }
    if let Some(engine) = hint_engine(hint) {
        return (Chosen::Python(engine), format!("runtime_hint {engine}"));
    }
    let not_native = match native {
        NativeFinding::Supported => {
            return (
                Chosen::Native,
                "runtime_hint auto; a native implementation exists".to_owned(),
            );
        }
        NativeFinding::NotImplemented => String::new(),
        NativeFinding::Unsupported(why) => format!("; not native: {why}"),
    };
    let (engine, why) = match finding {
        ClassFinding::Declares(declared) => {
            let engine = hint_engine(*declared).unwrap_or(PythonEngine::Rustpython);
            (
                engine,
                format!("runtime_hint auto{not_native}; its class declares runtime_hint {engine}"),
            )
        }
        ClassFinding::ImportFails { error } => (
            PythonEngine::Cpython,
            format!(
                "runtime_hint auto{not_native}; its module does not import in RustPython: {error}"
            ),
        ),
        ClassFinding::NotFound { error } if options.cpython_holds_unfound_classes => (
            PythonEngine::Cpython,
            format!(
                "runtime_hint auto{not_native}; its class is only in the calling interpreter ({error})"
            ),
        ),
        ClassFinding::Unknown | ClassFinding::Pure | ClassFinding::NotFound { .. } => (
            PythonEngine::Rustpython,
            format!("runtime_hint auto{not_native}"),
        ),
    };
    (Chosen::Python(engine), why)
}

fn hint_engine(hint: RuntimeHint) -> Option<PythonEngine> {
    match hint {
        RuntimeHint::Auto | RuntimeHint::Native => None,
        RuntimeHint::Rustpython => Some(PythonEngine::Rustpython),
        RuntimeHint::Cpython => Some(PythonEngine::Cpython),
    }
}

fn missing_engine_help(engine: PythonEngine, machine: &MachineCapabilities) -> String {
    match engine {
        PythonEngine::Cpython => {
            let mut help = format!(
                "no usable CPython here (install python3, or point {} at a python executable)",
                env_vars::PYTHON
            );
            // A set-but-wrong REMOTEMEDIA_PYTHON is the likeliest cause; say so.
            if let Some(problem) = &machine.engines.cpython_problem {
                help = format!("{help}: {problem}");
            }
            help
        }
        PythonEngine::Rustpython => "this machine has no RustPython engine".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_aliases_match() {
        assert_eq!(canonical_arch("arm64"), canonical_arch("aarch64"));
        assert_eq!(canonical_arch("AMD64"), canonical_arch("x86_64"));
        assert_ne!(canonical_arch("aarch64"), canonical_arch("x86_64"));
    }

    #[test]
    fn override_values() {
        assert_eq!(
            PlanOptions::with_python_runtime("auto")
                .unwrap()
                .python_runtime,
            None
        );
        assert_eq!(
            PlanOptions::with_python_runtime("").unwrap().python_runtime,
            None
        );
        assert_eq!(
            PlanOptions::with_python_runtime("CPython")
                .unwrap()
                .python_runtime,
            Some(PythonEngine::Cpython)
        );
        let err = PlanOptions::with_python_runtime("pypy").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable REMOTEMEDIA_PYTHON_RUNTIME is `pypy`; expected auto, rustpython or cpython"
        );
    }

    #[test]
    fn requirements_read_as_people_write_them() {
        let gpu = Requirement::Gpu {
            kind: GpuKind::Cuda,
            min_memory_gb: Some(4.0),
        };
        assert_eq!(gpu.to_string(), "gpu cuda ≥ 4 GB");
        assert_eq!(
            Requirement::CpuCores { cores: 8 }.to_string(),
            "≥ 8 cpu cores"
        );
        assert_eq!(
            Requirement::Memory { gb: 1.5 }.to_string(),
            "≥ 1.5 GB memory"
        );
    }
}
