//! A manifest that passed every check, with its connections resolved.

use std::ops::Deref;

use super::Manifest;
use crate::graph::Graph;

/// A [`Manifest`] that passed the schema and the graph rules, carrying its connections resolved to
/// node positions. Only validation makes one, so whoever holds it — a pipeline, a graph, a plan —
/// never checks again. It reads like the manifest it wraps.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidManifest {
    manifest: Manifest,
    edges: Vec<(usize, usize)>,
}

impl ValidManifest {
    pub(super) fn new(manifest: Manifest, edges: Vec<(usize, usize)>) -> Self {
        ValidManifest { manifest, edges }
    }

    /// Every connection as `(from, to)` positions in `nodes`, in connection order (a connection
    /// given twice appears twice). No self-loops, no cycles.
    pub fn edges(&self) -> &[(usize, usize)] {
        &self.edges
    }

    /// The pipeline's graph: roots, sinks, a topological order.
    pub fn graph(&self) -> Graph {
        let ids = self
            .manifest
            .nodes
            .iter()
            .map(|node| node.id.clone())
            .collect();
        Graph::from_acyclic(ids, &self.edges)
    }

    /// The manifest itself, to change it (it must then be validated again).
    pub fn into_inner(self) -> Manifest {
        self.manifest
    }
}

impl Deref for ValidManifest {
    type Target = Manifest;

    fn deref(&self) -> &Manifest {
        &self.manifest
    }
}
