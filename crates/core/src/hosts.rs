//! Other remotemedia instances, as the runtime sees them.
//!
//! The runtime has no network code of its own. A [`HostConnector`] asks a host what it offers (so
//! placement can check a node's requirements there before any data flows) and hands out the
//! [`Engine`] that runs nodes on it. The `remotemedia-remote` crate implements it over gRPC; the
//! CLI puts it in [`Config::hosts`](crate::pipeline::Config::hosts). Without one, a plan that
//! places a node on another host cannot run.

use std::fmt;
use std::sync::Arc;

use crate::engine::Engine;
use crate::machine::MachineCapabilities;
use crate::manifest::Manifest;

/// Reaches other remotemedia instances by their `host:port`.
pub trait HostConnector: Send + Sync + fmt::Debug {
    /// What `host` offers. Called at plan time, so it must answer (or fail) within a short timeout.
    fn describe(&self, host: &str) -> Result<MachineCapabilities, HostError>;

    /// The engine that creates nodes of `manifest` on `host` (it finds each node's requirements
    /// and engine hint there, to pass them on). Cheap: connecting happens when a node is created.
    fn engine(&self, host: &str, manifest: &Manifest) -> Result<Arc<dyn Engine>, HostError>;
}

/// Why a host cannot be used, for people: `connection refused`, `the token was rejected`, …
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);
