//! The engines of this process, as runs and hosts get them.
//!
//! Neither the executor, nor placement, nor a `remotemedia serve` host knows which engines exist:
//! they ask a [`LocalEngines`] for the engine placement chose. `remotemedia-runtime` provides the
//! default set (RustPython, CPython); an application can provide its own.

use std::fmt;
use std::sync::Arc;

use crate::engine::{Engine, NativeFinding};
use crate::manifest::{Isolation, NodeManifest};
use crate::placement::EngineKind;

/// Starts this process's engines by the kind placement chose.
pub trait LocalEngines: Send + Sync + fmt::Debug {
    /// Starts an engine of `kind` for the nodes `nodes` (their ids, named if it cannot start).
    /// Each call starts a new one; callers share it between the nodes of a run, or keep it for a
    /// server's life.
    fn start(
        &self,
        kind: &EngineKind,
        nodes: &[String],
    ) -> Result<Arc<dyn Engine>, EngineStartError>;

    /// An engine that creates each node in a worker process of its own, for nodes placed on the
    /// local engine `kind` with `isolation` (`process` or `sandbox`). A process that cannot
    /// isolate nodes refuses, and the node is refused rather than run unisolated.
    fn start_isolated(
        &self,
        kind: &EngineKind,
        isolation: Isolation,
    ) -> Result<Arc<dyn Engine>, EngineStartError> {
        Err(format!("this process cannot run {kind} nodes with isolation `{isolation}`").into())
    }

    /// Whether these engines run `node` natively (as Rust), for placement: a `serve` host asks it
    /// of every node a client opens, so a catalogue node it implements natively runs natively
    /// there too. By default nothing is native.
    fn native(&self, _node: &NodeManifest) -> NativeFinding {
        NativeFinding::NotImplemented
    }
}

/// An engine that could not start, with why, for people.
pub type EngineStartError = Box<dyn std::error::Error + Send + Sync>;
