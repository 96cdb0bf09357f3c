//! The embedded RustPython engine, driven through the engine interface the executor uses: the
//! SDK's real catalogue nodes and user modules written to a temporary `--python-path` directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use num_bigint::BigInt;
use remotemedia_core::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec, Stopped};
use remotemedia_core::value::{Array, Value};
use remotemedia_rustpython::{EngineError, InterpreterSharing, RustPythonConfig, RustPythonEngine};
use serde_json::json;

/// Collects a node's outputs.
#[derive(Debug, Default)]
struct Collect(Vec<Value>);

impl Emitter for Collect {
    fn emit(&mut self, item: Value) -> Result<(), Stopped> {
        self.0.push(item);
        Ok(())
    }
}

/// Accepts `limit` outputs, then reports that the run is stopping.
#[derive(Debug)]
struct StopAfter {
    limit: usize,
    seen: Vec<Value>,
}

impl Emitter for StopAfter {
    fn emit(&mut self, item: Value) -> Result<(), Stopped> {
        if self.seen.len() == self.limit {
            return Err(Stopped);
        }
        self.seen.push(item);
        Ok(())
    }
}

/// One engine for the catalogue-only tests: it is built once per run in the product too.
fn catalogue_engine() -> &'static RustPythonEngine {
    static ENGINE: OnceLock<RustPythonEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        RustPythonEngine::new(&RustPythonConfig::default()).expect("interpreter starts")
    })
}

/// A fresh directory with the given Python modules, and an engine that imports from it.
fn engine_with_modules(modules: &[(&str, &str)]) -> (RustPythonEngine, PathBuf) {
    let dir = scratch_dir();
    for (name, source) in modules {
        std::fs::write(dir.join(name), source).unwrap();
    }
    let config = RustPythonConfig {
        python_path: vec![dir.clone()],
        ..RustPythonConfig::default()
    };
    (
        RustPythonEngine::new(&config).expect("interpreter starts"),
        dir,
    )
}

fn scratch_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "remotemedia-it-rustpython-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spec(node_type: &str, params: serde_json::Value) -> NodeSpec {
    let params = match Value::from_json(params).unwrap() {
        Value::Map(map) => map,
        other => panic!("params must be an object, got {other:?}"),
    };
    NodeSpec {
        id: "node_1".into(),
        node_type: node_type.into(),
        module: None,
        params,
        capabilities: None,
    }
}

fn create(
    engine: &RustPythonEngine,
    node_type: &str,
    params: serde_json::Value,
) -> Box<dyn NodeInstance> {
    let mut node = engine
        .create(&spec(node_type, params))
        .unwrap_or_else(|err| panic!("creating {node_type}: {err:?}"));
    node.initialize().unwrap();
    node
}

/// Runs `inputs` through one node, as the executor does: process each, flush, clean up.
fn run_node(node: &mut dyn NodeInstance, inputs: Vec<Value>) -> Vec<Value> {
    let mut out = Collect::default();
    for input in inputs {
        node.process(input, &mut out).unwrap();
    }
    node.flush(&mut out).unwrap();
    node.cleanup().unwrap();
    out.0
}

fn create_err(engine: &RustPythonEngine, node_type: &str, params: serde_json::Value) -> NodeError {
    match engine.create(&spec(node_type, params)) {
        Ok(_) => panic!("creating {node_type} should fail"),
        Err(err) => err,
    }
}

fn process_err(engine: &RustPythonEngine, node_type: &str, input: Value) -> NodeError {
    let mut node = create(engine, node_type, json!({}));
    let err = node
        .process(input, &mut Collect::default())
        .expect_err("the node should fail");
    node.cleanup().unwrap();
    err
}

#[test]
fn calculator_adds_its_operand() {
    let mut node = create(
        catalogue_engine(),
        "CalculatorNode",
        json!({"operation": "add", "operand": 5}),
    );
    assert_eq!(
        run_node(&mut *node, vec![Value::Int(10), Value::Float(0.5)]),
        vec![Value::Int(15), Value::Float(5.5)]
    );
}

#[test]
fn node_state_persists_across_items_and_flush_emits_the_rest() {
    let mut node = create(catalogue_engine(), "BufferNode", json!({"size": 2}));
    let outputs = run_node(&mut *node, (1..=5).map(Value::Int).collect());
    let batch = |items: &[i64]| Value::List(items.iter().copied().map(Value::Int).collect());
    assert_eq!(outputs, vec![batch(&[1, 2]), batch(&[3, 4]), batch(&[5])]);
}

#[test]
fn every_value_kind_crosses_unchanged() {
    let big: BigInt = "-123456789012345678901234567890".parse().unwrap();
    let mut nested = IndexMap::new();
    nested.insert("zero".to_owned(), Value::Int(0));
    nested.insert(
        "list".to_owned(),
        Value::List(vec![
            Value::Null,
            Value::Bool(false),
            Value::Str("é✓".into()),
        ]),
    );
    // Not None: a node returning None emits nothing (the SDK's filter rule).
    let values = vec![
        Value::Bool(true),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::BigInt(Arc::new(big)),
        Value::Float(-0.1),
        Value::Float(f64::INFINITY),
        Value::Str("".into()),
        Value::Bytes(vec![0u8, 255, 10].into()),
        Value::List(vec![]),
        Value::Map(nested),
        Value::Array(Array::I16(vec![i16::MIN, 0, i16::MAX].into())),
        Value::Array(Array::I32(vec![i32::MIN, 7].into())),
        Value::Array(Array::I64(vec![i64::MAX].into())),
        Value::Array(Array::F32(vec![0.25f32, -1.5, f32::MIN_POSITIVE].into())),
        Value::Array(Array::F64(vec![1e300, -0.0].into())),
    ];
    let mut node = create(catalogue_engine(), "PassThroughNode", json!({}));
    assert_eq!(run_node(&mut *node, values.clone()), values);
}

const CONVERSIONS: &str = r#"
import array
from remotemedia.core.node import Node

def _self_containing():
    items = []
    items.append(items)
    return items

OUTPUTS = {
    "tuple": lambda: (1, (2, "three")),
    "bytearray": lambda: bytearray(b"ab"),
    "memoryview": lambda: memoryview(b"cd"),
    "set": lambda: {1},
    "int_key": lambda: {"ok": {1: "x"}},
    "unsigned_array": lambda: array.array("B", [1]),
    "self_containing": _self_containing,
}

class Outputs(Node):
    """Returns the object the input names, so each Python-side conversion can be checked."""
    def process(self, what):
        return OUTPUTS[what]()

class Named(Node):
    def process(self, data):
        return self.name

class Describe(Node):
    """Names the Python type of every element, to check what values arrive as."""
    def process(self, items):
        return [type(item).__name__ + (":" + item.typecode if type(item).__name__ == "array" else "") for item in items]
"#;

#[test]
fn python_results_convert_to_runtime_values() {
    let (engine, _dir) = engine_with_modules(&[("conversions.py", CONVERSIONS)]);
    let mut node = create(&engine, "conversions:Outputs", json!({}));
    let out = run_node(
        &mut *node,
        vec![
            Value::from("tuple"),
            Value::from("bytearray"),
            Value::from("memoryview"),
        ],
    );
    assert_eq!(
        out,
        vec![
            Value::List(vec![
                Value::Int(1),
                Value::List(vec![Value::Int(2), Value::from("three")])
            ]),
            Value::Bytes(b"ab".to_vec().into()),
            Value::Bytes(b"cd".to_vec().into()),
        ]
    );
}

#[test]
fn a_node_is_named_by_its_id_unless_its_params_name_it() {
    let (engine, _dir) = engine_with_modules(&[("conversions.py", CONVERSIONS)]);
    let mut node = create(&engine, "conversions:Named", json!({}));
    assert_eq!(
        run_node(&mut *node, vec![Value::Null]),
        vec![Value::from("node_1")]
    );
    let mut node = create(&engine, "conversions:Named", json!({"name": "chosen"}));
    assert_eq!(
        run_node(&mut *node, vec![Value::Null]),
        vec![Value::from("chosen")]
    );
}

#[test]
fn runtime_values_arrive_as_the_python_types_nodes_expect() {
    let (engine, _dir) = engine_with_modules(&[("conversions.py", CONVERSIONS)]);
    let mut node = create(&engine, "conversions:Describe", json!({}));
    let input = Value::List(vec![
        Value::Null,
        Value::Bool(false),
        Value::Int(1),
        Value::BigInt(Arc::new(BigInt::from(u64::MAX))),
        Value::Float(1.0),
        Value::from("s"),
        Value::Bytes(vec![1u8].into()),
        Value::List(vec![]),
        Value::Map(IndexMap::new()),
        Value::Array(Array::I16(vec![1i16].into())),
        Value::Array(Array::F32(vec![1.0f32].into())),
        Value::Array(Array::F64(vec![1.0].into())),
    ]);
    let names = [
        "NoneType", "bool", "int", "int", "float", "str", "bytes", "list", "dict", "array:h",
        "array:f", "array:d",
    ];
    assert_eq!(
        run_node(&mut *node, vec![input]),
        vec![Value::List(names.iter().map(|&n| Value::from(n)).collect())]
    );
}

#[test]
fn unconvertible_outputs_name_the_python_type_and_the_node() {
    let (engine, _dir) = engine_with_modules(&[("conversions.py", CONVERSIONS)]);
    for (what, expected) in [
        ("set", "a set cannot flow between nodes"),
        ("int_key", "dict key 1 is a int"),
        ("unsigned_array", "typecode 'B'"),
        ("self_containing", "does it contain itself?"),
    ] {
        let err = process_err(&engine, "conversions:Outputs", Value::from(what));
        assert!(err.message.contains("node `node_1`"), "{what}: {err:?}");
        assert!(err.message.contains(expected), "{what}: {err:?}");
    }
}

#[test]
fn an_exception_becomes_a_node_error_with_type_message_and_traceback() {
    let mut node = create(
        catalogue_engine(),
        "CalculatorNode",
        json!({"operation": "divide", "operand": 0}),
    );
    let err = node
        .process(Value::Int(1), &mut Collect::default())
        .unwrap_err();
    node.cleanup().unwrap();
    assert_eq!(err.kind.as_deref(), Some("NodeError"));
    assert!(err.message.contains("division by zero"), "{err:?}");
    let traceback = err.traceback.expect("a traceback");
    assert!(
        traceback.starts_with("Traceback (most recent call last):"),
        "{traceback}"
    );
    // The chain keeps the original ZeroDivisionError the node converted.
    assert!(traceback.contains("ZeroDivisionError"), "{traceback}");
    assert!(traceback.contains("calculator"), "{traceback}");
}

#[test]
fn bad_params_and_unknown_types_fail_at_creation_with_the_sdk_message() {
    let engine = catalogue_engine();
    let err = create_err(engine, "CalculatorNode", json!({"operation": "sqrt"}));
    assert_eq!(err.kind.as_deref(), Some("ConfigurationError"));
    assert!(err.message.contains("unknown operation 'sqrt'"), "{err:?}");

    let err = create_err(engine, "CalculatorNod", json!({}));
    assert!(
        err.message.contains("Did you mean CalculatorNode"),
        "{err:?}"
    );

    let err = create_err(engine, "BufferNode", json!({"size": 2, "typo": 1}));
    assert!(err.message.contains("typo"), "{err:?}");
}

const METHOD_SHAPES: &str = r#"
import functools
from remotemedia.core.node import Node

SCALE = 10

class Base(Node):
    def process(self, data):
        return data + 0.5

class UsesSuper(Base):
    """Zero-argument super() needs the method's `__class__` cell to survive the copy."""
    def process(self, data, extra=1, *, keyword=2):
        return [super().process(data), extra, keyword, (1.5, "s", b"b", -7, 2**70), SCALE * data]

def logged(function):
    @functools.wraps(function)
    def wrapper(self, data):
        return ["wrapped", function(self, data)]
    return wrapper

class Decorated(Node):
    @logged
    def process(self, data):
        return data * 2

class Static(Node):
    @staticmethod
    def process(data):
        return -data

class PerInstance(Node):
    def initialize(self):
        self.process = lambda data: data * 3

    def process(self, data):
        raise AssertionError("the instance attribute wins, as in CPython")

class Slotted(Node):
    __slots__ = ()
    def process(self, data):
        return [x * 0.25 for x in range(data)] + list(x + 1 for x in range(data))

class Yields(Node):
    def process(self, data):
        yield from (data, data * 1.5)
"#;

#[test]
fn nodes_behave_as_in_cpython_whatever_shape_their_process_method_has() {
    let (engine, _dir) = engine_with_modules(&[("shapes.py", METHOD_SHAPES)]);
    let outputs = |node_type: &str| {
        let mut node = create(&engine, node_type, json!({}));
        let out = run_node(&mut *node, vec![Value::Int(2)]);
        serde_json::to_string(&out).unwrap()
    };
    assert_eq!(
        outputs("shapes:UsesSuper"),
        r#"[[2.5,1,2,[1.5,"s",{"$bytes":"Yg=="},-7,1180591620717411303424],20]]"#
    );
    assert_eq!(outputs("shapes:Decorated"), r#"[["wrapped",4]]"#);
    assert_eq!(outputs("shapes:Static"), "[-2]");
    assert_eq!(outputs("shapes:PerInstance"), "[6]");
    assert_eq!(outputs("shapes:Slotted"), "[[0.0,0.25,1,2]]");
    assert_eq!(outputs("shapes:Yields"), "[2,3.0]");
}

const BROKEN: &str = "from remotemedia.core.node import Node\n\nclass Broken(Node)\n    pass\n";

#[test]
fn a_syntax_error_in_a_user_module_names_the_file_and_line() {
    let (engine, dir) = engine_with_modules(&[("broken.py", BROKEN)]);
    let err = create_err(&engine, "broken:Broken", json!({}));
    assert_eq!(err.kind.as_deref(), Some("SyntaxError"));
    let file = std::path::absolute(dir.join("broken.py")).unwrap();
    assert!(
        err.message.contains(&format!("{}, line 3", file.display())),
        "{err:?}"
    );
}

const STREAMING: &str = r#"
import asyncio
from remotemedia.core.node import Node

class Counter(Node):
    """Yields 0..n-1, writing how many it has produced before each yield and on close."""
    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def _mark(self, text):
        with open(self.log, "a") as f:
            f.write(text + "\n")

    def process(self, n):
        try:
            for i in range(n):
                self._mark(f"produced {i}")
                yield i
        finally:
            self._mark("closed")

class AsyncCounter(Counter):
    async def process(self, n):
        try:
            for i in range(n):
                await asyncio.sleep(0)
                self._mark(f"produced {i}")
                yield i
        finally:
            self._mark("closed")

class AsyncDouble(Node):
    async def initialize(self):
        await asyncio.sleep(0)
        self.ready = True

    async def process(self, x):
        await asyncio.sleep(0)
        return 2 * x if self.ready else None

class OddsOnly(Node):
    def process(self, x):
        return x if x % 2 else None
"#;

/// Checks, at each output, that the node has produced exactly that many items so far: outputs
/// flow one by one as they are yielded, not after the generator finishes.
#[derive(Debug)]
struct CheckStreaming {
    log: PathBuf,
    seen: usize,
}

impl Emitter for CheckStreaming {
    fn emit(&mut self, item: Value) -> Result<(), Stopped> {
        assert_eq!(item, Value::Int(self.seen as i64));
        let produced = produced_lines(&self.log);
        assert_eq!(
            produced,
            self.seen + 1,
            "item {} arrived after {produced} were produced",
            self.seen
        );
        self.seen += 1;
        Ok(())
    }
}

fn produced_lines(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("produced"))
        .count()
}

#[test]
fn generators_and_async_generators_stream_each_item_as_it_is_yielded() {
    let (engine, dir) = engine_with_modules(&[("streaming.py", STREAMING)]);
    for node_type in ["streaming:Counter", "streaming:AsyncCounter"] {
        let log = dir.join(format!("{node_type}.log"));
        let mut node = create(&engine, node_type, json!({"log": log.to_str().unwrap()}));
        let mut out = CheckStreaming {
            log: log.clone(),
            seen: 0,
        };
        node.process(Value::Int(4), &mut out).unwrap();
        node.cleanup().unwrap();
        assert_eq!(out.seen, 4, "{node_type}");
    }
}

#[test]
fn a_stopping_run_closes_the_generator_so_its_finally_runs() {
    let (engine, dir) = engine_with_modules(&[("streaming.py", STREAMING)]);
    for node_type in ["streaming:Counter", "streaming:AsyncCounter"] {
        let log = dir.join(format!("{node_type}.stop.log"));
        let mut node = create(&engine, node_type, json!({"log": log.to_str().unwrap()}));
        let mut out = StopAfter {
            limit: 2,
            seen: Vec::new(),
        };
        let err = node.process(Value::Int(100), &mut out).unwrap_err();
        assert_eq!(err, NodeError::from(Stopped));
        node.cleanup().unwrap();
        assert_eq!(out.seen, vec![Value::Int(0), Value::Int(1)]);
        let log_text = std::fs::read_to_string(&log).unwrap();
        assert!(log_text.ends_with("closed\n"), "{node_type}: {log_text}");
        assert_eq!(
            produced_lines(&log),
            3,
            "{node_type} went on producing: {log_text}"
        );
    }
}

#[test]
fn async_methods_and_none_filtering_follow_the_sdk_driver() {
    let (engine, _dir) = engine_with_modules(&[("streaming.py", STREAMING)]);
    let mut node = create(&engine, "streaming:AsyncDouble", json!({}));
    assert_eq!(
        run_node(&mut *node, vec![Value::Int(2), Value::Int(5)]),
        vec![Value::Int(4), Value::Int(10)]
    );
    let mut node = create(&engine, "streaming:OddsOnly", json!({}));
    assert_eq!(
        run_node(&mut *node, (1..=5).map(Value::Int).collect()),
        vec![Value::Int(1), Value::Int(3), Value::Int(5)]
    );
}

#[test]
fn nodes_on_separate_threads_share_the_interpreter() {
    let engine = catalogue_engine();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                scope.spawn(move || {
                    let mut node = create(
                        engine,
                        "CalculatorNode",
                        json!({"operation": "multiply", "operand": t}),
                    );
                    run_node(&mut *node, (0..200).map(Value::Int).collect())
                })
            })
            .collect();
        for (t, worker) in workers.into_iter().enumerate() {
            let expected: Vec<Value> = (0..200).map(|i| Value::Int(i * t as i64)).collect();
            assert_eq!(worker.join().unwrap(), expected);
        }
    });
}

#[test]
fn a_missing_python_path_directory_is_an_error() {
    let missing = scratch_dir().join("missing");
    let err = RustPythonEngine::new(&RustPythonConfig {
        python_path: vec![missing.clone()],
        ..RustPythonConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, EngineError::NotADirectory { ref path } if *path == missing),
        "{err}"
    );
}

#[test]
fn the_catalogue_lists_the_sdk_nodes_with_their_modules() {
    let catalogue = catalogue_engine().catalogue().unwrap();
    assert!(
        catalogue.contains(&(
            "CalculatorNode".to_owned(),
            "remotemedia.nodes.calculator".to_owned()
        )),
        "{catalogue:?}"
    );
    assert!(
        catalogue.contains(&(
            "PassThroughNode".to_owned(),
            "remotemedia.nodes.base".to_owned()
        )),
        "{catalogue:?}"
    );
}

/// Nodes that spin in `process` or `flush` until interrupted (or, so that a test fails instead
/// of hanging, for `GIVE_UP_S`), writing what they do to `log`; `cleanup` spins too, for
/// `cleanup_s`, and must not be interrupted.
const SPIN: &str = r#"
import time
from pathlib import Path
from remotemedia.core.node import Node

GIVE_UP_S = 20

class Spin(Node):
    def __init__(self, log, cleanup_s=0.0, **kwargs):
        super().__init__(**kwargs)
        self.log = Path(log)
        self.cleanup_s = cleanup_s

    def note(self, line):
        with self.log.open("a") as log:
            log.write(line + "\n")

    def spin(self, seconds):
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            pass

    def process(self, data):
        self.note("busy")
        self.spin(GIVE_UP_S)

    def flush(self):
        self.note("flushing")
        self.spin(GIVE_UP_S)
        return []

    def cleanup(self):
        self.note("cleaning up")
        self.spin(self.cleanup_s)
        self.note("cleaned up")
"#;

/// How long an interruption may take to land in a spinning node.
const INTERRUPT_BOUND: Duration = Duration::from_secs(5);

fn spin_engine(sharing: InterpreterSharing) -> (RustPythonEngine, PathBuf) {
    let dir = scratch_dir();
    std::fs::write(dir.join("spin_nodes.py"), SPIN).unwrap();
    let config = RustPythonConfig {
        python_path: vec![dir.clone()],
        interpreters: sharing,
    };
    (RustPythonEngine::new(&config).unwrap(), dir)
}

fn spin_spec(id: &str, log: &Path, cleanup_s: f64) -> NodeSpec {
    NodeSpec {
        id: id.into(),
        module: Some("spin_nodes".into()),
        ..spec(
            "Spin",
            json!({"log": log.to_str().unwrap(), "cleanup_s": cleanup_s}),
        )
    }
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until `log` has `line`.
fn wait_for_line(log: &Path, line: &str) {
    let started = Instant::now();
    while !log_lines(log).iter().any(|logged| logged == line) {
        assert!(started.elapsed() < INTERRUPT_BOUND, "never logged {line}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Interrupts `node` from another thread once `log` says it is busy; the call must then end in a
/// `KeyboardInterrupt`, well within the bound.
fn interrupted_call(
    node: &mut dyn NodeInstance,
    log: &Path,
    busy: &str,
    call: impl FnOnce(&mut dyn NodeInstance) -> Result<(), NodeError>,
) -> NodeError {
    let interrupter = node.interrupter().expect("a node of its own interpreter");
    let started = Instant::now();
    let error = std::thread::scope(|scope| {
        scope.spawn(|| {
            wait_for_line(log, busy);
            interrupter.interrupt();
        });
        call(node).expect_err("the call ends interrupted")
    });
    assert_interrupted(&error, started);
    error
}

/// `error` is the `KeyboardInterrupt` of an interruption asked at `asked`, which landed in time.
fn assert_interrupted(error: &NodeError, asked: Instant) {
    assert!(asked.elapsed() < INTERRUPT_BOUND, "{:?}", asked.elapsed());
    assert_eq!(
        error.kind.as_deref(),
        Some("KeyboardInterrupt"),
        "{error:?}"
    );
}

#[test]
fn a_node_of_its_own_interpreter_is_interrupted_in_process_and_in_flush_never_in_cleanup() {
    let (engine, dir) = spin_engine(InterpreterSharing::PerNode);
    let log = dir.join("spin.log");
    let mut node = engine.create(&spin_spec("spin", &log, 0.3)).unwrap();
    node.initialize().unwrap();
    interrupted_call(&mut *node, &log, "busy", |node| {
        node.process(Value::Int(1), &mut Collect::default())
    });
    interrupted_call(&mut *node, &log, "flushing", |node| {
        node.flush(&mut Collect::default())
    });
    // Interruptions asked during `cleanup` (the run stopping meanwhile) do nothing.
    let interrupter = node.interrupter().unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            wait_for_line(&log, "cleaning up");
            for _ in 0..20 {
                interrupter.interrupt();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        node.cleanup().expect("cleanup is not interrupted");
    });
    assert_eq!(
        log_lines(&log),
        ["busy", "flushing", "cleaning up", "cleaned up"]
    );
}

#[test]
fn an_interruption_reaches_its_node_while_other_interpreters_run_and_only_its_node() {
    // The eval-breaker flag that announces an interruption is one for the process: the other
    // node's interpreter, spinning too, may see it first. The interruption must still land, and
    // in the node it was meant for only.
    let (engine, dir) = spin_engine(InterpreterSharing::PerNode);
    let (engine, dir) = (&engine, &dir);
    std::thread::scope(|scope| {
        let spinning = |id: &'static str| {
            let log = dir.join(format!("{id}.log"));
            let (handing, interrupter) = std::sync::mpsc::channel();
            let thread = scope.spawn({
                let log = log.clone();
                move || {
                    let mut node = engine.create(&spin_spec(id, &log, 0.0)).unwrap();
                    node.initialize().unwrap();
                    let own = node.interrupter().expect("a node of its own interpreter");
                    handing.send(own).unwrap();
                    let error = node.process(Value::Int(1), &mut Collect::default());
                    node.cleanup().unwrap();
                    error.expect_err("interrupted")
                }
            });
            let interrupter = interrupter.recv().unwrap();
            wait_for_line(&log, "busy");
            (thread, interrupter)
        };
        let (other, interrupt_other) = spinning("other");
        let (first, interrupt_first) = spinning("first");
        let started = Instant::now();
        interrupt_first.interrupt();
        assert_interrupted(&first.join().unwrap(), started);
        std::thread::sleep(Duration::from_millis(200));
        assert!(!other.is_finished(), "the other node was interrupted too");
        let started = Instant::now();
        interrupt_other.interrupt();
        assert_interrupted(&other.join().unwrap(), started);
    });
}

#[test]
fn only_a_node_of_its_own_interpreter_can_be_interrupted() {
    // Under `Auto`, a node that declares a core gets an interpreter of its own; the others share
    // one, entered through thread VMs, which RustPython cannot interrupt.
    let (engine, dir) = spin_engine(InterpreterSharing::Auto);
    let log = dir.join("spin.log");
    let sharing = engine.create(&spin_spec("sharing", &log, 0.0)).unwrap();
    assert!(sharing.interrupter().is_none());
    let mut declares_a_core = spin_spec("declares_a_core", &log, 0.0);
    declares_a_core.capabilities =
        Some(serde_json::from_value(json!({"cpu": {"cores": 1}})).unwrap());
    assert!(
        engine
            .create(&declares_a_core)
            .unwrap()
            .interrupter()
            .is_some()
    );
    let (engine, dir) = spin_engine(InterpreterSharing::Shared);
    let shared = engine
        .create(&spin_spec("shared", &dir.join("spin.log"), 0.0))
        .unwrap();
    assert!(shared.interrupter().is_none());
}
