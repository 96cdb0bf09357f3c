//! The interface between the executor and whatever runs a node's code.
//!
//! The executor knows nothing about Python: it asks an [`Engine`] for a [`NodeInstance`] and drives its
//! lifecycle. Each instance is created, used and dropped on one stage thread, so instances need not be
//! `Send`; engines are shared by all stage threads of a run.

use crossbeam_channel::Receiver;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indexmap::IndexMap;

use crate::manifest::{Capabilities, NodeManifest, RuntimeHint};
use crate::value::{Value, ValueError, excerpt};

/// What an engine needs to know to create one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// The node's id in the manifest.
    pub id: String,
    /// A catalogue class name, or `module:Class`.
    pub node_type: String,
    /// The Python module defining `node_type`, for user-defined nodes.
    pub module: Option<String>,
    /// Constructor keyword arguments.
    pub params: IndexMap<String, Value>,
    /// What the node declared it needs from the machine (the manifest's `capabilities`). Engines
    /// may size what they give the node by it: the RustPython engine gives a node that declares
    /// `cpu.cores` an interpreter of its own.
    pub capabilities: Option<Capabilities>,
}

impl NodeSpec {
    /// The spec of a manifest node whose params are already values (a remote host receives them
    /// decoded from its protocol).
    pub fn new(node: &NodeManifest, params: IndexMap<String, Value>) -> NodeSpec {
        NodeSpec {
            id: node.id.clone(),
            node_type: node.node_type.clone(),
            module: node.module.clone(),
            params,
            capabilities: node.capabilities.clone(),
        }
    }

    /// The keyword arguments a Python engine builds the node with: the params, plus `name` = the
    /// node id unless a param sets it — the SDK names nodes rebuilt from a manifest by their id
    /// too, so messages that quote `self.name` read the same in every engine.
    pub fn constructor_args(&self) -> impl Iterator<Item = (&str, Value)> {
        let name =
            (!self.params.contains_key("name")).then(|| ("name", Value::from(self.id.as_str())));
        self.params
            .iter()
            .map(|(param, value)| (param.as_str(), value.clone()))
            .chain(name)
    }

    /// The spec of a manifest node, its JSON params converted to values.
    pub fn from_manifest(node: &NodeManifest) -> Result<NodeSpec, ParamError> {
        let params = node
            .params
            .iter()
            .map(|(name, json)| {
                let value = Value::from_json(json.clone()).map_err(|source| ParamError {
                    node: node.id.clone(),
                    param: name.clone(),
                    source,
                })?;
                Ok((name.clone(), value))
            })
            .collect::<Result<_, ParamError>>()?;
        Ok(NodeSpec::new(node, params))
    }
}

/// A node param that cannot become a stream value.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("node `{node}`: param `{param}`: {source}")]
pub struct ParamError {
    /// The node's id.
    pub node: String,
    /// The param's name.
    pub param: String,
    /// What is wrong with it.
    pub source: ValueError,
}

/// Runs nodes of one kind (RustPython, CPython, remote, or native Rust test nodes).
pub trait Engine: Send + Sync {
    /// Short name shown by `plan` and in errors, e.g. `rustpython`.
    fn name(&self) -> &str;

    /// Creates the live node. Called on the node's stage thread, once per run, before any data flows.
    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError>;

    /// Starts what the engine shares between its nodes (an interpreter) now rather than for the
    /// first node, so a long-lived host reports a broken set-up at start and its first node does
    /// not wait. Most engines have nothing to start.
    fn warm_up(&self) -> Result<(), NodeError> {
        Ok(())
    }

    /// The engine's answer to placement's question "what does this node's class need?", when it
    /// can load node classes (the RustPython engine can).
    fn class_probe(&self) -> Option<&dyn ClassProbe> {
        None
    }
}

/// One live node. The executor calls `initialize`, then `process` per input, `flush` once at end of
/// stream, and `cleanup` always — also after a failure anywhere in the run.
pub trait NodeInstance {
    /// Prepares the node (load a model, open a file). Every node initializes before data flows;
    /// a node with nothing to prepare keeps this default.
    fn initialize(&mut self) -> Result<(), NodeError> {
        Ok(())
    }

    /// Handles one input, emitting 0..n outputs as soon as each is produced.
    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError>;

    /// Emits what the node still holds at end of stream (by default, nothing).
    fn flush(&mut self, _out: &mut dyn Emitter) -> Result<(), NodeError> {
        Ok(())
    }

    /// Releases the node's resources (by default, none to release).
    fn cleanup(&mut self) -> Result<(), NodeError> {
        Ok(())
    }

    /// For a node that keeps items in flight — `process` returns once an item is sent on, before
    /// its outputs exist (a remote node streams items ahead of their answers) — a channel with a
    /// message whenever outputs of earlier items wait to be handed over by [`deliver`]. The
    /// executor waits on it beside the node's input, so such outputs leave as soon as they
    /// arrive, not with the next item's call. Called once, after `initialize`.
    ///
    /// [`deliver`]: NodeInstance::deliver
    fn arrivals(&self) -> Option<Receiver<()>> {
        None
    }

    /// Emits the outputs of items in flight that have arrived, without waiting for more.
    fn deliver(&mut self, _out: &mut dyn Emitter) -> Result<(), NodeError> {
        Ok(())
    }

    /// Waits for every item in flight and emits its outputs: called at end of input, before
    /// `flush`, so a failure of an item is reported as one of `process`.
    fn settle(&mut self, _out: &mut dyn Emitter) -> Result<(), NodeError> {
        Ok(())
    }

    /// How another thread stops this node's call in progress (see [`Interrupt`]); `None` when the
    /// engine cannot: such a node stops at its next `emit` or when its call returns.
    fn interrupter(&self) -> Option<Arc<dyn Interrupt>> {
        None
    }
}

/// Stops a node busy in a call, from another thread: how a run that is stopping (SIGINT, a write
/// failure) gets past a node in a long loop, so that its `cleanup` still runs.
pub trait Interrupt: Send + Sync {
    /// Asks the call in progress, if any, to end now: a Python engine raises `KeyboardInterrupt`
    /// in the node's code. Does nothing between calls; calling it again does no harm.
    fn interrupt(&self);

    /// Why the node's `cleanup` could not run, when the call did not end at the interruption and
    /// the engine ended the node another way (an isolated node's worker killed); `None` otherwise.
    fn cleanup_skipped(&self) -> Option<String> {
        None
    }
}

/// The calls of one node that an engine's [`Interrupt`] may stop — its `process` and `flush`,
/// never `cleanup` — numbered from 1: a call is armed while it runs, asked to stop at most once,
/// and its interruption lands in it at most once, never in a later call nor between calls. How an
/// interruption is delivered stays with the engine.
#[derive(Debug, Default)]
pub struct CallGate(Mutex<GateState>);

#[derive(Debug, Default)]
struct GateState {
    /// The calls armed so far.
    call: u64,
    /// The node is in call `call`.
    armed: bool,
    /// An interruption was asked for in call `call`.
    asked: bool,
    /// ... and landed in it.
    landed: bool,
}

impl GateState {
    fn due(&self, call: u64) -> bool {
        self.armed && self.call == call && !self.landed
    }
}

impl CallGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `call`, the node's next call, armed.
    pub fn run<T>(&self, call: impl FnOnce() -> T) -> T {
        let mut state = self.lock();
        state.call += 1;
        (state.armed, state.asked, state.landed) = (true, false, false);
        drop(state);
        let result = call();
        self.lock().armed = false;
        result
    }

    /// Asks the call in progress to stop: its number, the first time it is asked; `None` between
    /// calls and once asked.
    pub fn ask(&self) -> Option<u64> {
        let mut state = self.lock();
        if !state.armed || state.asked {
            return None;
        }
        state.asked = true;
        Some(state.call)
    }

    /// Whether call `call`'s interruption is still to land: the call is in progress, not yet hit.
    pub fn due(&self, call: u64) -> bool {
        self.lock().due(call)
    }

    /// Lands call `call`'s interruption if it is [`due`](Self::due): runs `deliver` with the gate
    /// locked, so the call cannot end meanwhile, and returns what it returns.
    pub fn land<R>(&self, call: u64, deliver: impl FnOnce() -> R) -> Option<R> {
        let mut state = self.lock();
        if !state.due(call) {
            return None;
        }
        state.landed = true;
        Some(deliver())
    }

    /// Whether an interruption landed in the last call [`run`](Self::run) (or the one running).
    pub fn landed(&self) -> bool {
        self.lock().landed
    }
}

/// Where a node sends its outputs.
pub trait Emitter {
    /// Sends one output downstream, blocking while downstream is full (backpressure).
    ///
    /// `Err(Stopped)` means the run is stopping (a failure elsewhere or a signal): the node should stop
    /// producing and return; the executor already knows why.
    fn emit(&mut self, item: Value) -> Result<(), Stopped>;

    /// Whether more input is already waiting for this node, so another call follows at once: a
    /// node that sends items on (a remote node) may then hold them to send several together.
    fn more_input(&self) -> bool {
        false
    }

    /// The item this call is about. A node that keeps items in flight (see
    /// [`NodeInstance::arrivals`]) keeps the tag with the item, to hand back what belongs to it
    /// later: its outputs ([`emit_for`](Emitter::emit_for)) and its failure
    /// ([`failing_on`](Emitter::failing_on)). So a failure cuts the run at the right input.
    fn item(&self) -> ItemTag {
        ItemTag::default()
    }

    /// Emits an output of the item tagged `tag`, which may be an earlier one than this call's. An
    /// output the run no longer wants (of an input at or after a failure) is dropped, `Ok`; `Err`
    /// means the run is stopping, as for [`emit`](Emitter::emit).
    fn emit_for(&mut self, tag: ItemTag, item: Value) -> Result<(), Stopped> {
        let _ = tag;
        self.emit(item)
    }

    /// The error the node is about to return is about the item tagged `tag`, not this call's.
    fn failing_on(&mut self, tag: ItemTag) {
        let _ = tag;
    }

    /// Reports one timing sample the node measured itself under `name` — the latency of one
    /// speech segment, say, which the node's overall process time cannot show. The executor
    /// gathers the samples per node and name (see `NodeMetrics::timings`); an emitter that keeps
    /// no metrics ignores them. Meant for events, not for every item.
    fn record_timing(&mut self, name: &str, sample: Duration) {
        let _ = (name, sample);
    }
}

/// Which item an output or a failure belongs to: the run input it descends from, opaque to nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemTag(pub(crate) u64);

/// The run is stopping; no more outputs are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the run is stopping")]
pub struct Stopped;

/// A failure inside a node's own code (or its engine), as the engine reports it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct NodeError {
    /// What went wrong, in one line.
    pub message: String,
    /// The exception type, when the node's code raised one (e.g. `ZeroDivisionError`).
    pub kind: Option<String>,
    /// The formatted traceback, when there is one.
    pub traceback: Option<String>,
}

impl NodeError {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        NodeError {
            message: message.into(),
            kind: None,
            traceback: None,
        }
    }

    /// An error raised as an exception of type `kind`.
    pub fn exception(kind: impl Into<String>, message: impl Into<String>) -> Self {
        NodeError {
            message: message.into(),
            kind: Some(kind.into()),
            traceback: None,
        }
    }

    /// Adds the formatted traceback.
    pub fn with_traceback(mut self, traceback: impl Into<String>) -> Self {
        self.traceback = Some(traceback.into());
        self
    }

    /// The same error with its message and traceback cut to a bounded excerpt
    /// ([`NodeError::MAX_MESSAGE_CHARS`], [`NodeError::MAX_TRACEBACK_CHARS`]): a node's error may
    /// quote the value it failed on, which can be megabytes long, and the error must still fit in
    /// a terminal, a log line and one message to a remote client.
    pub fn bounded(mut self) -> Self {
        if self.message.len() > Self::MAX_MESSAGE_CHARS {
            self.message = excerpt(&self.message, Self::MAX_MESSAGE_CHARS);
        }
        if let Some(traceback) = &self.traceback
            && traceback.len() > Self::MAX_TRACEBACK_CHARS
        {
            self.traceback = Some(excerpt(traceback, Self::MAX_TRACEBACK_CHARS));
        }
        if let Some(kind) = &self.kind
            && kind.len() > Self::MAX_KIND_CHARS
        {
            self.kind = Some(excerpt(kind, Self::MAX_KIND_CHARS));
        }
        self
    }

    /// The longest message [`NodeError::bounded`] keeps, in characters.
    pub const MAX_MESSAGE_CHARS: usize = 2000;
    /// The longest traceback [`NodeError::bounded`] keeps, in characters.
    pub const MAX_TRACEBACK_CHARS: usize = 20_000;
    /// The longest exception type name [`NodeError::bounded`] keeps, in characters.
    pub const MAX_KIND_CHARS: usize = 200;

    fn summary(&self) -> String {
        match &self.kind {
            Some(kind) => format!("{kind}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

impl From<Stopped> for NodeError {
    fn from(_: Stopped) -> Self {
        NodeError::new("the run is stopping")
    }
}

/// What a node's Python class says about the engine it needs, found by loading it in RustPython
/// (see [`ClassProbe`]). Only consulted for nodes left to `auto` with no override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassFinding {
    /// Not probed: `auto` means RustPython.
    Unknown,
    /// The class loads in RustPython and declares no engine: pure Python.
    Pure,
    /// The class declares its engine with the class attribute `runtime_hint` (the SDK's nodes
    /// that need C extensions say `runtime_hint = "cpython"`).
    Declares(RuntimeHint),
    /// The node's module exists but does not import in RustPython: something it imports is a
    /// compiled extension (numpy …) or a package only CPython has. Carries the import error.
    ImportFails { error: String },
    /// RustPython cannot find the node's module or class at all (creating it will say why).
    NotFound { error: String },
}

impl ClassFinding {
    /// The finding the SDK's `class_engine(node_type, module)` reports as `(verdict, detail)`:
    /// `declares` (detail: the engine), `pure`, `import-fails` or `not-found` (detail: the error).
    /// Both Python engines ask it, so both read its answer here.
    pub fn from_verdict(verdict: &str, detail: String) -> ClassFinding {
        match verdict {
            "declares" if detail == "cpython" => ClassFinding::Declares(RuntimeHint::Cpython),
            "declares" => ClassFinding::Declares(RuntimeHint::Rustpython),
            "import-fails" => ClassFinding::ImportFails { error: detail },
            "not-found" => ClassFinding::NotFound { error: detail },
            _ => ClassFinding::Pure,
        }
    }
}

/// Whether this process runs a node natively, as Rust (see [`ClassProbe::native`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeFinding {
    /// A native implementation runs this node type with these params.
    Supported,
    /// No native implementation of this node type.
    NotImplemented,
    /// A native implementation of the type exists, but not for these params; why.
    Unsupported(String),
}

/// Loads node classes to find what they need; the runtime implements it with its RustPython
/// engine, and answers for its native engine.
pub trait ClassProbe {
    /// What `node`'s class says about its engine.
    fn probe(&self, node: &NodeManifest) -> ClassFinding;

    /// Whether `node` has a native implementation here, for its params. Asked first for nodes
    /// left to `auto` or hinted `native`: a native node needs no Python at all. Without a native
    /// engine, nothing is native.
    fn native(&self, _node: &NodeManifest) -> NativeFinding {
        NativeFinding::NotImplemented
    }
}

/// A probe that knows nothing: `auto` nodes go to RustPython.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClassProbe;

impl ClassProbe for NoClassProbe {
    fn probe(&self, _node: &NodeManifest) -> ClassFinding {
        ClassFinding::Unknown
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_interruption_is_for_the_call_in_progress_only() {
        let calls = super::CallGate::default();
        assert_eq!(calls.ask(), None, "between calls");
        calls.run(|| {
            assert_eq!((calls.ask(), calls.ask()), (Some(1), None), "asked once");
            assert_eq!((calls.land(1, || 7), calls.land(1, || 7)), (Some(7), None));
        });
        assert!(calls.landed());
        calls.run(|| assert!(!calls.landed() && calls.land(1, || ()).is_none() && calls.due(2)));
        assert!(!calls.due(2), "nor between calls");
    }
}
