//! Small native nodes for testing the executor, and an engine that records every lifecycle call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, ThreadId};

use remotemedia_core::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec};
use remotemedia_core::executor::PlannedNode;
use remotemedia_core::graph::Graph;
use remotemedia_core::manifest::{Manifest, ValidManifest};
use remotemedia_core::value::Value;

/// One lifecycle call a node received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub node: String,
    pub step: &'static str,
    pub thread: ThreadId,
}

/// Every lifecycle call of a run, in the order they happened.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Call>>>);

impl Log {
    fn push(&self, node: &str, step: &'static str) {
        self.lock().push(Call {
            node: node.to_owned(),
            step,
            thread: thread::current().id(),
        });
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Call>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().clone()
    }

    /// The steps `node` went through, with consecutive `process` calls collapsed into one.
    pub fn steps(&self, node: &str) -> Vec<&'static str> {
        let mut steps: Vec<&'static str> = Vec::new();
        for call in self.lock().iter().filter(|c| c.node == node) {
            if !(call.step == "process" && steps.last() == Some(&"process")) {
                steps.push(call.step);
            }
        }
        steps
    }

    pub fn count(&self, node: &str, step: &str) -> usize {
        self.lock()
            .iter()
            .filter(|c| c.node == node && c.step == step)
            .count()
    }
}

type Step<F> = Option<Box<F>>;
type ProcessFn = dyn FnMut(Value, &mut dyn Emitter) -> Result<(), NodeError>;
type FlushFn = dyn FnMut(&mut dyn Emitter) -> Result<(), NodeError>;
type PlainFn = dyn FnMut() -> Result<(), NodeError>;

/// A node made of closures; a missing `process` passes items through, other missing steps do nothing.
#[derive(Default)]
pub struct Script {
    initialize: Step<PlainFn>,
    process: Step<ProcessFn>,
    flush: Step<FlushFn>,
    /// For a node that keeps items in flight: called at end of input, before `flush`.
    settle: Step<FlushFn>,
    cleanup: Step<PlainFn>,
}

impl Script {
    pub fn pass() -> Script {
        Script::default()
    }

    pub fn on_initialize(
        mut self,
        step: impl FnMut() -> Result<(), NodeError> + 'static,
    ) -> Script {
        self.initialize = Some(Box::new(step));
        self
    }

    pub fn on_process(
        mut self,
        step: impl FnMut(Value, &mut dyn Emitter) -> Result<(), NodeError> + 'static,
    ) -> Script {
        self.process = Some(Box::new(step));
        self
    }

    pub fn on_flush(
        mut self,
        step: impl FnMut(&mut dyn Emitter) -> Result<(), NodeError> + 'static,
    ) -> Script {
        self.flush = Some(Box::new(step));
        self
    }

    pub fn on_settle(
        mut self,
        step: impl FnMut(&mut dyn Emitter) -> Result<(), NodeError> + 'static,
    ) -> Script {
        self.settle = Some(Box::new(step));
        self
    }

    pub fn on_cleanup(mut self, step: impl FnMut() -> Result<(), NodeError> + 'static) -> Script {
        self.cleanup = Some(Box::new(step));
        self
    }

    /// Emits one output per input: `map(input)`.
    pub fn map(map: impl Fn(i64) -> i64 + 'static) -> Script {
        Script::pass().on_process(move |item, out| Ok(out.emit(Value::Int(map(int(&item))))?))
    }

    /// For input `n`, emits `0..n` as fast as downstream takes them.
    pub fn counter() -> Script {
        Script::pass().on_process(|item, out| {
            for i in 0..int(&item) {
                out.emit(Value::Int(i))?;
            }
            Ok(())
        })
    }
}

/// An instance wrapped so every call lands in the log; it holds an `Rc` to be sure the executor
/// never needs instances to be `Send`.
struct Logged {
    node: String,
    script: Script,
    log: Log,
    _not_send: std::rc::Rc<()>,
}

impl NodeInstance for Logged {
    fn initialize(&mut self) -> Result<(), NodeError> {
        self.log.push(&self.node, "initialize");
        self.script
            .initialize
            .as_mut()
            .map_or(Ok(()), |step| step())
    }

    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.log.push(&self.node, "process");
        match self.script.process.as_mut() {
            Some(step) => step(item, out),
            None => Ok(out.emit(item)?),
        }
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.log.push(&self.node, "flush");
        self.script.flush.as_mut().map_or(Ok(()), |step| step(out))
    }

    fn settle(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.script.settle.as_mut().map_or(Ok(()), |step| step(out))
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        self.log.push(&self.node, "cleanup");
        self.script.cleanup.as_mut().map_or(Ok(()), |step| step())
    }
}

type Factory = Box<dyn Fn() -> Result<Script, NodeError> + Send + Sync>;

/// Creates each node (by id) from its factory, on the node's stage thread, and logs every call.
#[derive(Default)]
pub struct TestEngine {
    factories: HashMap<String, Factory>,
    log: Log,
}

impl TestEngine {
    pub fn new(log: &Log) -> TestEngine {
        TestEngine {
            factories: HashMap::new(),
            log: log.clone(),
        }
    }

    /// Node `id` runs the script `make` builds (called on the node's thread, as instances are not `Send`).
    pub fn node(self, id: &str, make: impl Fn() -> Script + Send + Sync + 'static) -> TestEngine {
        self.fallible_node(id, move || Ok(make()))
    }

    pub fn fallible_node(
        mut self,
        id: &str,
        make: impl Fn() -> Result<Script, NodeError> + Send + Sync + 'static,
    ) -> TestEngine {
        self.factories.insert(id.to_owned(), Box::new(make));
        self
    }
}

impl Engine for TestEngine {
    fn name(&self) -> &str {
        "test"
    }

    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        self.log.push(&spec.id, "create");
        let factory = self
            .factories
            .get(&spec.id)
            .ok_or_else(|| NodeError::new(format!("no test node `{}`", spec.id)))?;
        Ok(Box::new(Logged {
            node: spec.id.clone(),
            script: factory()?,
            log: self.log.clone(),
            _not_send: std::rc::Rc::new(()),
        }))
    }
}

/// A manifest with nodes `ids` (type `Test`) joined by `edges`.
pub fn manifest(ids: &[&str], edges: &[(&str, &str)]) -> ValidManifest {
    let nodes: Vec<_> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "node_type": "Test"}))
        .collect();
    let connections: Vec<_> = edges
        .iter()
        .map(|(from, to)| serde_json::json!({"from": from, "to": to}))
        .collect();
    Manifest::from_value(serde_json::json!({
        "version": "v1",
        "metadata": {"name": "test"},
        "nodes": nodes,
        "connections": connections,
    }))
    .expect("a valid test manifest")
}

/// The graph of `manifest`, every node planned on `engine`.
pub fn plan(manifest: &ValidManifest, engine: TestEngine) -> (Graph, Vec<PlannedNode>) {
    let graph = manifest.graph();
    let engine: Arc<dyn Engine> = Arc::new(engine);
    let nodes = manifest
        .nodes
        .iter()
        .map(|node| PlannedNode {
            spec: NodeSpec {
                id: node.id.clone(),
                node_type: node.node_type.clone(),
                module: None,
                params: Default::default(),
                capabilities: None,
            },
            engine: Arc::clone(&engine),
        })
        .collect();
    (graph, nodes)
}

pub fn int(value: &Value) -> i64 {
    match value {
        Value::Int(i) => *i,
        other => panic!("expected an int, got {other:?}"),
    }
}
