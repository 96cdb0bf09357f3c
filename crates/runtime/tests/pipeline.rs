//! The embedding API end to end: manifests loaded, planned and run on the embedded RustPython
//! engine, as a Rust application would.

use std::path::{Path, PathBuf};

use remotemedia_runtime::executor::{Inputs, Phase};
use remotemedia_runtime::manifest::{Manifest, ValidManifest};
use remotemedia_runtime::placement::{EngineKind, MachineCapabilities};
use remotemedia_runtime::{Config, LoadError, Pipeline, RunError, Value};

#[path = "../../../examples/embed.rs"]
mod embed_example;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest(json: serde_json::Value) -> ValidManifest {
    Manifest::from_value(json).expect("a valid manifest")
}

/// A fresh directory for files a test's Python nodes write.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("remotemedia-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn runs_and_pipelines_can_move_between_threads() {
    fn send_and_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_and_sync::<Pipeline>();
    send_and_sync::<remotemedia_runtime::RunHandle>();
    send::<remotemedia_runtime::Run>();
}

#[test]
fn the_embedding_example_runs() {
    embed_example::main().expect("examples/embed.rs runs");
}

#[test]
fn a_loaded_manifest_runs_on_rustpython_and_streams_its_outputs() {
    let pipeline = Pipeline::load(repo_root().join("examples/manifests/calculator.json")).unwrap();
    assert!(
        pipeline
            .plan()
            .nodes
            .iter()
            .all(|node| node.engine == EngineKind::Rustpython)
    );
    assert_eq!(pipeline.sinks(), ["results_4"]);

    let mut run = pipeline
        .run(vec![Value::Int(1), Value::Int(2), Value::Int(3)])
        .unwrap();
    let outputs: Vec<_> = run
        .by_ref()
        .map(|o| (o.sink.to_string(), o.value))
        .collect();
    let report = run.finish().unwrap();

    let expected: Vec<_> = [144, 196, 256]
        .map(|v| ("results_4".to_owned(), Value::Int(v)))
        .into();
    assert_eq!(outputs, expected);
    assert!(
        report
            .metrics
            .iter()
            .all(|m| (m.items_in, m.items_out) == (3, 3))
    );
}

#[test]
fn a_python_exception_fails_the_run_naming_node_phase_and_traceback() {
    let pipeline = Pipeline::new(
        manifest(serde_json::json!({
            "version": "v1", "metadata": {"name": "fails"},
            "nodes": [{"id": "plus", "node_type": "CalculatorNode", "params": {"operation": "add", "operand": 1}}],
        })),
        Config::default(),
    )
    .unwrap();
    let mut run = pipeline
        .run(vec![Value::Int(1), Value::from("two")])
        .unwrap();
    let outputs: Vec<_> = run.by_ref().map(|o| o.value).collect();

    let Err(RunError::Node { node, phase, error }) = run.finish() else {
        panic!("expected a node failure")
    };
    assert_eq!(outputs, [Value::Int(2)]);
    assert_eq!((node.as_str(), phase), ("plus", Phase::Process));
    assert!(error.message.contains("got str 'two'"), "{error}");
    assert!(error.traceback.is_some_and(|t| t.contains("Traceback")));
}

#[test]
fn cancelling_from_another_thread_cleans_up_python_nodes() {
    let dir = scratch_dir("cancel");
    std::fs::write(
        dir.join("marks.py"),
        "from remotemedia.core.node import Node\n\
         class Marks(Node):\n\
         \x20   def __init__(self, log, **kwargs):\n\
         \x20       super().__init__(**kwargs)\n\
         \x20       self.log = log\n\
         \x20   def process(self, data):\n\
         \x20       return data\n\
         \x20   def cleanup(self):\n\
         \x20       open(self.log, 'a').write('cleanup\\n')\n",
    )
    .unwrap();
    let log = dir.join("lifecycle.log");
    let config = Config {
        python_path: vec![dir.clone()],
        ..Config::default()
    };
    let pipeline = Pipeline::new(
        manifest(serde_json::json!({
            "version": "v1", "metadata": {"name": "endless"},
            "nodes": [
                {"id": "a", "node_type": "Marks", "module": "marks", "params": {"log": log}},
                {"id": "b", "node_type": "Marks", "module": "marks", "params": {"log": log}},
            ],
            "connections": [{"from": "a", "to": "b"}],
        })),
        config,
    )
    .unwrap();
    // Endless inputs: only cancellation ends this run.
    let mut run = pipeline.run(Inputs::new((0..).map(Value::Int))).unwrap();
    let handle = run.handle();
    let canceller = std::thread::spawn(move || handle.cancel());
    let received = run.by_ref().count();
    canceller.join().unwrap();
    let report = run.finish().unwrap();

    assert!(report.cancelled);
    assert!(report.metrics[1].items_out as usize == received);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "cleanup\ncleanup\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_required_gpu_with_no_host_fails_at_load_before_anything_runs() {
    let laptop = MachineCapabilities::from_json(
        r#"{"cpu": {"cores": 4, "arch": "x86_64"}, "memory": {"total_gb": 8}}"#,
        "laptop.json",
    )
    .unwrap();
    let config = Config {
        machine: Some(laptop),
        ..Config::default()
    };
    let result = Pipeline::new(
        manifest(serde_json::json!({
            "version": "v1", "metadata": {"name": "gpu"},
            "nodes": [{"id": "asr", "node_type": "PassThroughNode", "capabilities": {"gpu": {"type": "cuda"}}}],
        })),
        config,
    );

    let Err(LoadError::Plan(error)) = result else {
        panic!("expected a plan error")
    };
    assert!(error.to_string().contains("asr"), "{error}");
}
