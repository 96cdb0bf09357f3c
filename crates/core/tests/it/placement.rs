//! Placement over a matrix of node requirements × machine profiles (the files in tests/profiles/).

use std::path::{Path, PathBuf};

use remotemedia_core::manifest::{Manifest, ValidManifest};
use remotemedia_core::placement::{
    self, EngineKind, MachineCapabilities, Plan, PlanError, PlanOptions, ProfileError, PythonEngine,
};
use serde_json::{Value, json};

const HOST: &str = "gpu-box:50051";

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn profile_path(name: &str) -> PathBuf {
    repo_root()
        .join("tests/profiles")
        .join(format!("{name}.json"))
}

fn profile(name: &str) -> MachineCapabilities {
    let path = profile_path(name);
    MachineCapabilities::from_path(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A validated manifest of `nodes`, as `remotemedia plan` would load it.
fn manifest(nodes: Value) -> ValidManifest {
    Manifest::from_value(
        json!({"version": "v1", "metadata": {"name": "placement-test"}, "nodes": nodes}),
    )
    .unwrap_or_else(|errors| panic!("test manifests are valid: {errors}"))
}

fn node(id: &str, capabilities: &Value) -> Value {
    let mut node = json!({"id": id, "node_type": "PassThroughNode"});
    if !capabilities.is_null() {
        node["capabilities"] = capabilities.clone();
    }
    node
}

fn with(mut node: Value, key: &str, value: &str) -> Value {
    node[key] = json!(value);
    node
}

fn plan(manifest: &Manifest, machine: &MachineCapabilities) -> Result<Plan, PlanError> {
    placement::plan_with(manifest, machine, &PlanOptions::default())
}

fn unplaceable(err: PlanError) -> Vec<placement::UnplaceableNode> {
    match err {
        PlanError::Unplaceable(nodes) => nodes,
        other => panic!("expected unplaceable nodes, got {other}"),
    }
}

/// What one requirement does on one machine.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Requirements met: local, RustPython.
    Local,
    /// Only an optional GPU is missing: local, on CPU.
    LocalOnCpu,
    /// A required capability is missing: plan error naming it (as `Requirement` displays it).
    Missing(&'static str),
}
use Expect::{Local, LocalOnCpu, Missing};

const PROFILES: [&str; 4] = ["no-gpu", "cuda-8gb", "small-memory-2gb", "one-core"];

fn matrix() -> Vec<(Value, [Expect; 4])> {
    vec![
        (Value::Null, [Local, Local, Local, Local]),
        (
            json!({"gpu": {"type": "cuda"}}),
            [
                Missing("gpu cuda"),
                Local,
                Missing("gpu cuda"),
                Missing("gpu cuda"),
            ],
        ),
        (
            json!({"gpu": {"type": "cuda", "min_memory_gb": 4}}),
            [
                Missing("gpu cuda ≥ 4 GB"),
                Local,
                Missing("gpu cuda ≥ 4 GB"),
                Missing("gpu cuda ≥ 4 GB"),
            ],
        ),
        (
            json!({"gpu": {"type": "cuda", "min_memory_gb": 16}}),
            [Missing("gpu cuda ≥ 16 GB"); 4],
        ),
        (
            json!({"gpu": {"type": "cuda", "min_memory_gb": 4, "required": false}}),
            [LocalOnCpu, Local, LocalOnCpu, LocalOnCpu],
        ),
        (json!({"gpu": {"type": "rocm"}}), [Missing("gpu rocm"); 4]),
        (
            json!({"gpu": {"type": "any"}}),
            [
                Missing("gpu any"),
                Local,
                Missing("gpu any"),
                Missing("gpu any"),
            ],
        ),
        (
            json!({"memory_gb": 4}),
            [Local, Local, Missing("≥ 4 GB memory"), Local],
        ),
        (
            json!({"cpu": {"cores": 2}}),
            [Local, Local, Local, Missing("≥ 2 cpu cores")],
        ),
        (
            json!({"cpu": {"arch": "arm64"}}),
            [
                Missing("cpu arch arm64"),
                Missing("cpu arch arm64"),
                Local,
                Missing("cpu arch arm64"),
            ],
        ),
    ]
}

#[test]
fn requirement_by_profile_matrix_without_host() {
    for (capabilities, expectations) in matrix() {
        for (profile_name, expect) in PROFILES.iter().zip(expectations) {
            let context = format!("{capabilities} on {profile_name}");
            let machine = profile(profile_name);
            let result = plan(&manifest(json!([node("n", &capabilities)])), &machine);
            match expect {
                Local => {
                    let placed = &result
                        .unwrap_or_else(|err| panic!("{context}: {err}"))
                        .nodes[0];
                    assert_eq!(placed.engine, EngineKind::Rustpython, "{context}");
                    assert!(placed.unmet.is_empty(), "{context}: {:?}", placed.unmet);
                    assert!(
                        placed.reason.starts_with("runs locally"),
                        "{context}: {}",
                        placed.reason
                    );
                }
                LocalOnCpu => {
                    let placed = &result
                        .unwrap_or_else(|err| panic!("{context}: {err}"))
                        .nodes[0];
                    assert_eq!(placed.engine, EngineKind::Rustpython, "{context}");
                    assert!(
                        placed.reason.contains("(optional)"),
                        "{context}: {}",
                        placed.reason
                    );
                    assert!(
                        placed.reason.contains("runs on CPU"),
                        "{context}: {}",
                        placed.reason
                    );
                    assert!(placed.unmet.iter().all(|s| !s.required), "{context}");
                }
                Missing(capability) => {
                    let err = result.expect_err(&context);
                    let message = err.to_string();
                    let nodes = unplaceable(err);
                    assert_eq!(nodes.len(), 1, "{context}");
                    assert_eq!(nodes[0].node_id, "n", "{context}");
                    let missing: Vec<String> = nodes[0]
                        .missing
                        .iter()
                        .map(|s| s.requirement.to_string())
                        .collect();
                    assert_eq!(missing, [capability], "{context}");
                    assert!(message.contains("node `n`"), "{context}: {message}");
                    assert!(message.contains(capability), "{context}: {message}");
                }
            }
        }
    }
}

#[test]
fn requirement_by_profile_matrix_with_host() {
    for (capabilities, expectations) in matrix() {
        for (profile_name, expect) in PROFILES.iter().zip(expectations) {
            let context = format!("{capabilities} on {profile_name} with host");
            let machine = profile(profile_name);
            let manifest = manifest(json!([with(node("n", &capabilities), "host", HOST)]));
            let placed = &plan(&manifest, &machine)
                .unwrap_or_else(|err| panic!("{context}: {err}"))
                .nodes[0];
            match expect {
                // Local first: a host is only used when this machine falls short.
                Local => {
                    assert_eq!(placed.engine, EngineKind::Rustpython, "{context}");
                    assert!(
                        placed.reason.contains("not needed (local first)"),
                        "{context}: {}",
                        placed.reason
                    );
                }
                // Falling short, even of an optional GPU, sends the node to its host.
                LocalOnCpu | Missing(_) => {
                    assert_eq!(
                        placed.engine,
                        EngineKind::Remote { host: HOST.into() },
                        "{context}"
                    );
                    assert!(
                        placed.reason.starts_with(&format!("runs on {HOST}")),
                        "{context}: {}",
                        placed.reason
                    );
                    assert!(!placed.unmet.is_empty(), "{context}");
                }
            }
        }
    }
}

#[test]
fn every_unplaceable_node_is_reported_with_every_missing_capability() {
    let manifest = manifest(json!([
        node("source", &Value::Null),
        node(
            "asr",
            &json!({"gpu": {"type": "cuda", "min_memory_gb": 4}, "memory_gb": 8})
        ),
        node("tts", &json!({"gpu": {"type": "cuda", "required": false}})),
        node("llm", &json!({"cpu": {"cores": 4}, "memory_gb": 64})),
    ]));
    let err = plan(&manifest, &profile("small-memory-2gb")).unwrap_err();
    let message = err.to_string();
    let nodes = unplaceable(err);
    let ids: Vec<&str> = nodes.iter().map(|n| n.node_id.as_str()).collect();
    assert_eq!(ids, ["asr", "llm"]);
    let asr: Vec<String> = nodes[0]
        .missing
        .iter()
        .map(|s| s.requirement.to_string())
        .collect();
    assert_eq!(asr, ["gpu cuda ≥ 4 GB", "≥ 8 GB memory"]);
    let llm: Vec<String> = nodes[1]
        .missing
        .iter()
        .map(|s| s.requirement.to_string())
        .collect();
    assert_eq!(llm, ["≥ 64 GB memory"]);
    assert!(
        message.starts_with("2 nodes cannot be placed:"),
        "{message}"
    );
    assert!(
        message.contains(
            "node `asr` needs gpu cuda ≥ 4 GB — no cuda GPU; needs ≥ 8 GB memory — only 2 GB total"
        ),
        "{message}"
    );
    assert!(
        message.contains("node `llm` needs ≥ 64 GB memory — only 2 GB total"),
        "{message}"
    );
    assert!(
        !message.contains("`tts`"),
        "an optional GPU is no reason to fail: {message}"
    );
}

#[test]
fn gpu_memory_is_checked_per_gpu() {
    let manifest = manifest(json!([node(
        "big",
        &json!({"gpu": {"type": "cuda", "min_memory_gb": 10}})
    )]));
    let err = plan(&manifest, &profile("cuda-8gb"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node `big` needs gpu cuda ≥ 10 GB — largest cuda GPU has 8 GB"),
        "{err}"
    );
}

#[test]
fn runtime_hint_picks_the_python_engine() {
    let nodes = json!([
        with(node("auto", &Value::Null), "runtime_hint", "auto"),
        with(node("pure", &Value::Null), "runtime_hint", "rustpython"),
        with(node("numpy", &Value::Null), "runtime_hint", "cpython"),
        node("unhinted", &Value::Null),
    ]);
    let placed = plan(&manifest(nodes), &profile("with-cpython")).unwrap();
    let engines: Vec<&EngineKind> = placed.nodes.iter().map(|n| &n.engine).collect();
    assert_eq!(
        engines,
        [
            &EngineKind::Rustpython,
            &EngineKind::Rustpython,
            &EngineKind::Cpython,
            &EngineKind::Rustpython
        ]
    );
    assert!(
        placed.nodes[2]
            .reason
            .ends_with("cpython (runtime_hint cpython)"),
        "{}",
        placed.nodes[2].reason
    );
}

#[test]
fn cpython_hint_without_cpython_fails_naming_the_node_and_the_fix() {
    let manifest = manifest(json!([
        node("pure", &Value::Null),
        with(node("numpy", &Value::Null), "runtime_hint", "cpython"),
    ]));
    let err = plan(&manifest, &profile("no-gpu")).unwrap_err();
    let message = err.to_string();
    let nodes = unplaceable(err);
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].node_id, "numpy");
    assert_eq!(
        nodes[0].missing[0].requirement.to_string(),
        "the CPython engine"
    );
    assert!(
        message.contains("node `numpy` needs the CPython engine"),
        "{message}"
    );
    assert!(message.contains("REMOTEMEDIA_PYTHON"), "{message}");
}

#[test]
fn cpython_node_with_host_goes_there_when_cpython_is_missing() {
    let manifest = manifest(json!([with(
        with(node("numpy", &Value::Null), "runtime_hint", "cpython"),
        "host",
        HOST
    )]));
    let placed = plan(&manifest, &profile("no-gpu")).unwrap();
    assert_eq!(
        placed.nodes[0].engine,
        EngineKind::Remote { host: HOST.into() }
    );
    assert!(
        placed.nodes[0].reason.contains("the CPython engine"),
        "{}",
        placed.nodes[0].reason
    );
}

#[test]
fn the_runtime_override_beats_runtime_hints() {
    let manifest = manifest(json!([
        with(node("numpy", &Value::Null), "runtime_hint", "cpython"),
        node("plain", &Value::Null),
    ]));
    let machine = profile("no-gpu");

    let rustpython = PlanOptions::with_python_runtime("rustpython").unwrap();
    let placed = placement::plan_with(&manifest, &machine, &rustpython).unwrap();
    assert!(
        placed
            .nodes
            .iter()
            .all(|n| n.engine == EngineKind::Rustpython)
    );
    assert!(
        placed.nodes[0]
            .reason
            .contains("REMOTEMEDIA_PYTHON_RUNTIME=rustpython overrides runtime_hint cpython"),
        "{}",
        placed.nodes[0].reason
    );

    // Forcing CPython where there is none names every node it strands.
    let cpython = PlanOptions::with_python_runtime("cpython").unwrap();
    let stranded = unplaceable(placement::plan_with(&manifest, &machine, &cpython).unwrap_err());
    let ids: Vec<&str> = stranded.iter().map(|n| n.node_id.as_str()).collect();
    assert_eq!(ids, ["numpy", "plain"]);

    let placed = placement::plan_with(&manifest, &profile("with-cpython"), &cpython).unwrap();
    assert!(placed.nodes.iter().all(|n| n.engine == EngineKind::Cpython));

    // `auto` leaves the hints in charge.
    let auto = PlanOptions::with_python_runtime("auto").unwrap();
    assert_eq!(auto.python_runtime, None);
    let placed = placement::plan_with(&manifest, &profile("with-cpython"), &auto).unwrap();
    assert_eq!(placed.nodes[0].engine, EngineKind::Cpython);
    assert_eq!(placed.nodes[1].engine, EngineKind::Rustpython);

    let err = PlanOptions::with_python_runtime("jython")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("REMOTEMEDIA_PYTHON_RUNTIME") && err.contains("`jython`"),
        "{err}"
    );
    assert_eq!(rustpython.python_runtime, Some(PythonEngine::Rustpython));
}

#[test]
fn plan_entries_follow_manifest_order() {
    let manifest = manifest(json!([
        node("c", &Value::Null),
        with(node("a", &json!({"gpu": {"type": "cuda"}})), "host", HOST),
        node("b", &Value::Null),
    ]));
    let placed = plan(&manifest, &profile("no-gpu")).unwrap();
    let ids: Vec<&str> = placed.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["c", "a", "b"]);
    assert_eq!(
        placed.node("a").unwrap().engine.to_string(),
        format!("remote {HOST}")
    );
    assert!(placed.node("zzz").is_none());
}

#[test]
fn a_bad_profile_names_the_file_and_the_field() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("placement-profiles");
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "typo.json",
            r#"{"cpu": {"cores": 4, "arch": "x86_64"}, "memory": {"total_gb": 8, "availble_gb": 4}}"#,
            "memory.availble_gb",
        ),
        (
            "type.json",
            r#"{"cpu": {"cores": "four", "arch": "x86_64"}, "memory": {"total_gb": 8}}"#,
            "cpu.cores",
        ),
        (
            "kind.json",
            r#"{"cpu": {"cores": 4, "arch": "x86_64"}, "memory": {"total_gb": 8}, "gpus": [{"kind": "tpu", "name": "x"}]}"#,
            "gpus[0].kind",
        ),
        (
            "zero.json",
            r#"{"cpu": {"cores": 0, "arch": "x86_64"}, "memory": {"total_gb": 8}}"#,
            "cpu.cores",
        ),
    ];
    for (file, text, field) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        let err = MachineCapabilities::from_path(&path).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(&format!("field `{field}`")), "{message}");
        assert!(
            matches!(err, ProfileError::Invalid { field: ref f, .. } if f == field),
            "{err:?}"
        );
    }
    let path = dir.join("absent.json");
    let err = MachineCapabilities::from_path(&path).unwrap_err();
    assert!(matches!(err, ProfileError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.json"), "{err}");
}

#[test]
fn example_and_test_profiles_are_valid() {
    for dir in ["examples/profiles", "tests/profiles"] {
        let mut seen = 0;
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "json") {
                MachineCapabilities::from_path(&path).unwrap_or_else(|err| panic!("{err}"));
                seen += 1;
            }
        }
        assert!(seen >= 2, "{dir} has {seen} profiles");
    }
}

#[test]
fn detection_describes_this_machine() {
    let machine = placement::detect(placement::Engines::default());
    assert!(machine.cpu.cores >= 1);
    assert_eq!(machine.cpu.arch, std::env::consts::ARCH);
    assert!(machine.memory.total_gb > 0.0, "{machine:?}");
    let available = machine
        .memory
        .available_gb
        .expect("detection reports available memory");
    assert!(available <= machine.memory.total_gb, "{machine:?}");
    assert!(machine.engines.rustpython);
    // Detection output is itself a valid profile: what `plan` prints can be saved and reused.
    let text = serde_json::to_string(&machine).unwrap();
    assert_eq!(
        MachineCapabilities::from_json(&text, "detected.json").unwrap(),
        machine
    );
}

#[test]
fn the_plan_says_when_a_node_was_written_in_the_upstream_remote_form() {
    let manifest = manifest(json!([
        {"id": "calc", "node_type": "RemoteExecutionNode", "host": HOST,
         "params": {"node_to_execute": "CalculatorNode", "node_config": {"operand": 2}}},
        {"id": "asr", "node_type": "RemoteExecutionNode", "host": HOST,
         "params": {"node_to_execute": "WhisperTranscriptionNode"},
         "capabilities": {"gpu": {"type": "cuda"}}}
    ]));
    let plan = plan(&manifest, &profile("no-gpu")).expect("placeable");
    let note = "written as RemoteExecutionNode (the upstream SDK's remote form), runs as";
    assert_eq!(plan.nodes[0].engine, EngineKind::Rustpython);
    assert!(
        plan.nodes[0]
            .reason
            .ends_with(&format!("{note} CalculatorNode")),
        "{}",
        plan.nodes[0].reason
    );
    assert_eq!(plan.nodes[0].node_type, "CalculatorNode");
    assert_eq!(
        plan.nodes[1].engine,
        EngineKind::Remote { host: HOST.into() }
    );
    assert!(
        plan.nodes[1]
            .reason
            .ends_with(&format!("{note} WhisperTranscriptionNode")),
        "{}",
        plan.nodes[1].reason
    );
}

/// Answers as an engine would for a catalogue of three names, a module `my_nodes` with one class,
/// and remote hosts that resolve their own nodes.
struct FakeEngines;

impl placement::NodeResolver for FakeEngines {
    fn unresolved(
        &self,
        node: &remotemedia_core::manifest::NodeManifest,
        engine: &EngineKind,
    ) -> Option<String> {
        if !engine.is_local() {
            return None;
        }
        let (module, class) = match node.node_type.split_once(':') {
            Some((module, class)) => (Some(module), class),
            None => (node.module.as_deref(), node.node_type.as_str()),
        };
        match (module, class) {
            (None, "PassThroughNode" | "CalculatorNode" | "WhisperTranscriptionNode") => None,
            (None, other) => Some(format!("ConfigurationError: unknown node type '{other}'")),
            (Some("my_nodes"), "Echo") => None,
            (Some("my_nodes"), class) => Some(format!("module 'my_nodes' has no class '{class}'")),
            (Some(module), _) => Some(format!("ModuleNotFoundError: No module named '{module}'")),
        }
    }

    fn catalogue(&self) -> Vec<String> {
        [
            "PassThroughNode",
            "CalculatorNode",
            "WhisperTranscriptionNode",
        ]
        .map(String::from)
        .to_vec()
    }
}

#[test]
fn every_node_whose_type_does_not_resolve_is_named_with_the_closest_catalogue_names() {
    let manifest = manifest(json!([
        {"id": "ok", "node_type": "CalculatorNode"},
        {"id": "typo", "node_type": "CalculaterNode"},
        {"id": "asr", "node_type": "WhisperNode"},
        {"id": "stranger", "node_type": "AudioTransform"},
        {"id": "mine", "node_type": "Echo", "module": "my_nodes"},
        {"id": "missing_class", "node_type": "my_nodes:Ecko"},
        {"id": "missing_module", "node_type": "Echo", "module": "not_there"},
        {"id": "far", "node_type": "OnlyOnTheHost", "host": HOST,
         "capabilities": {"gpu": {"type": "cuda"}}}
    ]));
    let placed = plan(&manifest, &profile("no-gpu")).expect("placeable");
    let err = placement::check_resolved(&manifest, &placed, &FakeEngines).unwrap_err();
    let PlanError::Unresolved(nodes) = &err else {
        panic!("expected unresolved nodes, got {err}")
    };
    let summary: Vec<(&str, &[String])> = nodes
        .iter()
        .map(|node| (node.node_id.as_str(), node.closest.as_slice()))
        .collect();
    assert_eq!(
        summary,
        [
            ("typo", &["CalculatorNode".to_owned()][..]),
            ("asr", &["WhisperTranscriptionNode".to_owned()][..]),
            ("stranger", &[][..]),
            ("missing_class", &[][..]),
            ("missing_module", &[][..]),
        ]
    );
    let text = err.to_string();
    assert!(
        text.starts_with("5 nodes' types do not resolve:\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "node `typo` (CalculaterNode): not in the node catalogue, and no `module` says where else \
             to look; closest catalogue names: CalculatorNode"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "node `missing_class` (my_nodes:Ecko): module 'my_nodes' has no class 'Ecko'"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "node `missing_module` (Echo): ModuleNotFoundError: No module named 'not_there'"
        ),
        "{text}"
    );

    let fine = manifest_of_resolvable_nodes();
    let fine_plan = plan(&fine, &profile("no-gpu")).expect("placeable");
    placement::check_resolved(&fine, &fine_plan, &FakeEngines).expect("all resolve");
}

fn manifest_of_resolvable_nodes() -> ValidManifest {
    manifest(json!([
        {"id": "a", "node_type": "PassThroughNode"},
        {"id": "b", "node_type": "Echo", "module": "my_nodes"}
    ]))
}

#[test]
fn closest_names_ignore_case_and_keep_the_three_best() {
    let catalogue: Vec<String> = [
        "AddNode",
        "BufferNode",
        "GainNode",
        "MixDownNode",
        "EnergyVADNode",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(placement::closest_names("addnode", &catalogue), ["AddNode"]);
    assert_eq!(
        placement::closest_names("BufNode", &catalogue),
        ["BufferNode"]
    );
    let many: Vec<String> = [
        "DataSourceNode",
        "DataSinkNode",
        "DataSourceNodes",
        "DataSourceNod",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        placement::closest_names("DataSource", &many),
        ["DataSourceNod", "DataSourceNode", "DataSourceNodes"]
    );
    assert!(placement::closest_names("Whisper", &catalogue).is_empty());
    // A name held whole by catalogue names suggests them before names merely spelled alike.
    let vads: Vec<String> = ["AddNode", "EnergyVADNode", "SileroVADNode", "WebRTCVADNode"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        placement::closest_names("VADNode", &vads),
        ["EnergyVADNode", "SileroVADNode", "WebRTCVADNode"]
    );
    // `Node` alone is held by every name, and suggests none of them for that.
    assert!(placement::closest_names("Node", &vads).is_empty());
}
