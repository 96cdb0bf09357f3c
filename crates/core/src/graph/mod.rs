//! The pipeline as a directed acyclic graph of node indices.
//!
//! A [`ValidManifest`](crate::manifest::ValidManifest) gives its graph
//! ([`graph()`](crate::manifest::ValidManifest::graph)): validation already resolved every
//! connection to node positions and refused cycles, so building it cannot fail. The cycle search
//! is in [`cycles`], which validation uses to name a cycle. This module knows nothing of
//! manifests.

pub mod cycles;

use petgraph::algo::toposort;
use petgraph::graph::NodeIndex;

/// A directed acyclic graph over a manifest's nodes, by position in `manifest.nodes`.
#[derive(Debug, Clone)]
pub struct Graph {
    ids: Vec<String>,
    successors: Vec<Vec<usize>>,
    predecessors: Vec<Vec<usize>>,
    order: Vec<usize>,
}

impl Graph {
    /// The graph of nodes `ids` joined by `edges` (positions in `ids`), which validation found
    /// acyclic.
    pub(crate) fn from_acyclic(ids: Vec<String>, edges: &[(usize, usize)]) -> Graph {
        let mut successors = vec![Vec::new(); ids.len()];
        let mut predecessors = vec![Vec::new(); ids.len()];
        for &(from, to) in edges {
            if !successors[from].contains(&to) {
                successors[from].push(to);
                predecessors[to].push(from);
            }
        }
        let order = toposort(&cycles::to_digraph(ids.len(), edges), None)
            .expect("validation refused cycles")
            .into_iter()
            .map(NodeIndex::index)
            .collect();
        Graph {
            ids,
            successors,
            predecessors,
            order,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True for a graph without nodes.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The id of node `index`.
    pub fn id(&self, index: usize) -> &str {
        &self.ids[index]
    }

    /// Nodes that receive `index`'s outputs, in connection order.
    pub fn successors(&self, index: usize) -> &[usize] {
        &self.successors[index]
    }

    /// Nodes whose outputs `index` receives, in connection order.
    pub fn predecessors(&self, index: usize) -> &[usize] {
        &self.predecessors[index]
    }

    /// Nodes in an order where every node comes after its predecessors.
    pub fn topological_order(&self) -> &[usize] {
        &self.order
    }

    /// Nodes without predecessors: they receive the run's inputs.
    pub fn roots(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| self.predecessors[i].is_empty())
    }

    /// Nodes without successors: their outputs are the run's outputs.
    pub fn sinks(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| self.successors[i].is_empty())
    }
}
