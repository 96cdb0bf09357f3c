//! A compute cluster (Ray) that places nodes this machine cannot run, as the runtime sees it.
//!
//! The runtime has no cluster code of its own. A [`ClusterConnector`] checks before anything runs
//! that the cluster can hold a node (saying what it will ask the cluster for), and hands out the
//! [`Engine`] whose nodes are placed there: creating a node starts a worker for it on the machine
//! the cluster chooses, cleaning it up stops that worker. The `remotemedia-cluster` crate
//! implements it with Ray; the CLI puts it in the runtime's `Config::cluster`. Placement's tier
//! order: this process's engines, then a node's `host`, then the cluster.

use std::fmt;
use std::sync::Arc;

use crate::engine::Engine;
use crate::manifest::{Manifest, NodeManifest};

/// Places nodes on a cluster.
pub trait ClusterConnector: Send + Sync + fmt::Debug {
    /// The cluster's address as given (`ray://head:10001`), for messages.
    fn address(&self) -> &str;

    /// Checks that the cluster is reachable and that one of its machines could hold `node`; what
    /// the cluster will be asked for, for people (`num_cpus=1, num_gpus=1, gpu_cuda=1`). Called
    /// at plan time, so it must answer (or fail) within a bounded time.
    fn check(&self, node: &NodeManifest) -> Result<String, ClusterError>;

    /// The engine that runs nodes of `manifest` on the cluster.
    fn engine(&self, manifest: &Manifest) -> Result<Arc<dyn Engine>, ClusterError>;
}

/// Why the cluster cannot be used, for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClusterError(pub String);
