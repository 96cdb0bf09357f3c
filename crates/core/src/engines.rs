//! The engines of this process, as runs and hosts get them.
//!
//! Neither the executor, nor placement, nor a `remotemedia serve` host knows which engines exist:
//! they ask a [`LocalEngines`] for the engine placement chose. `remotemedia-runtime` provides the
//! default set (RustPython, CPython); an application can provide its own.

use std::fmt;
use std::sync::Arc;

use crate::engine::Engine;
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
}

/// An engine that could not start, with why, for people.
pub type EngineStartError = Box<dyn std::error::Error + Send + Sync>;
