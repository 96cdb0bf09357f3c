//! Whether every node's type resolves on the engine its plan gives it — checked before any node is
//! created, so that a typo in a node type, a module missing from the Python path or a class missing
//! from its module stops `plan` and `run` with exit 2 instead of failing a run that has started.
//!
//! The engines answer ([`NodeResolver`]): the RustPython and CPython engines load the class the
//! way creating the node would (their [`ClassProbe`](crate::engine::ClassProbe)s), a remote host
//! resolves its own nodes. This module turns their answers into one error naming every such node,
//! with the catalogue names closest to a mistyped one.

use std::fmt;

use serde::Serialize;

use crate::manifest::{Manifest, NodeManifest};

use super::error::PlanError;
use super::types::{EngineKind, Plan};

/// How close (Jaro–Winkler similarity, ignoring case) a catalogue name must be to be suggested.
/// Jaro–Winkler rewards a shared beginning, which is how node names are mistyped or half
/// remembered (`WhisperNode` for `WhisperTranscriptionNode`, `BufNode` for `BufferNode`).
const SUGGESTION_SIMILARITY: f64 = 0.8;
/// The similarity given to a catalogue name that holds the whole of the name (less a `Node`
/// ending, at least [`MIN_CONTAINED_LEN`] letters): `VADNode` is most likely one of the
/// `…VADNode`s, though its letters alone are closer to `AddNode`.
const CONTAINED_SIMILARITY: f64 = 0.95;
const MIN_CONTAINED_LEN: usize = 3;
/// At most this many suggestions per node.
const MAX_SUGGESTIONS: usize = 3;

/// Answers, for the engines of this process, whether a node's type resolves.
pub trait NodeResolver {
    /// Why `node` cannot be created on `engine`; `None` when it can, or when this process does not
    /// create it (a remote host resolves its own nodes).
    fn unresolved(&self, node: &NodeManifest, engine: &EngineKind) -> Option<String>;

    /// The node types a manifest can name by class name alone (for suggestions).
    fn catalogue(&self) -> Vec<String>;
}

/// A node whose type does not resolve where it is placed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnresolvedNode {
    pub node_id: String,
    pub node_type: String,
    /// Why: not in the catalogue, module not found, class not in its module …
    pub reason: String,
    /// Catalogue names close to `node_type`, closest first (for a name the catalogue lacks).
    pub closest: Vec<String>,
}

impl UnresolvedNode {
    /// Why it does not resolve, with the closest catalogue names if there are any.
    pub fn why(&self) -> String {
        match self.closest.as_slice() {
            [] => self.reason.clone(),
            names => format!(
                "{}; closest catalogue names: {}",
                self.reason,
                names.join(", ")
            ),
        }
    }
}

impl fmt::Display for UnresolvedNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node `{}` ({}): {}",
            self.node_id,
            self.node_type,
            self.why()
        )
    }
}

/// Checks that every node of `plan` resolves on its engine; [`PlanError::Unresolved`] names
/// every one that does not.
pub fn check_resolved(
    manifest: &Manifest,
    plan: &Plan,
    resolver: &dyn NodeResolver,
) -> Result<(), PlanError> {
    let mut catalogue: Option<Vec<String>> = None;
    let mut unresolved = Vec::new();
    for (node, placed) in manifest.nodes.iter().zip(&plan.nodes) {
        let Some(mut reason) = resolver.unresolved(node, &placed.engine) else {
            continue;
        };
        let mut closest = Vec::new();
        if !node.names_a_module() {
            let names = catalogue.get_or_insert_with(|| resolver.catalogue());
            if !names.contains(&node.node_type) {
                // The engine's own words would repeat what the closest names say better.
                reason =
                    "not in the node catalogue, and no `module` says where else to look".to_owned();
                closest = closest_names(&node.node_type, names);
            }
        }
        unresolved.push(UnresolvedNode {
            node_id: node.id.clone(),
            node_type: node.node_type.clone(),
            reason,
            closest,
        });
    }
    if unresolved.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Unresolved(unresolved))
    }
}

/// The catalogue names most like `name`, closest first.
pub fn closest_names(name: &str, catalogue: &[String]) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &String)> = catalogue
        .iter()
        .map(|candidate| {
            let candidate_lower = candidate.to_lowercase();
            let stem = lower.strip_suffix("node").unwrap_or(&lower);
            let contained = stem.len() >= MIN_CONTAINED_LEN && candidate_lower.contains(stem);
            let score = strsim::jaro_winkler(&lower, &candidate_lower);
            let score = if contained {
                score.max(CONTAINED_SIMILARITY)
            } else {
                score
            };
            (score, candidate)
        })
        .filter(|(score, _)| *score >= SUGGESTION_SIMILARITY)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, name)| name.clone())
        .collect()
}

pub(super) fn describe_unresolved(nodes: &[UnresolvedNode]) -> String {
    let head = match nodes {
        [_] => "1 node's type does not resolve:".to_owned(),
        _ => format!("{} nodes' types do not resolve:", nodes.len()),
    };
    let lines: Vec<String> = nodes.iter().map(|node| format!("  {node}")).collect();
    format!(
        "{head}\n{}\n(a node type is a catalogue name — `remotemedia nodes` lists them — or `module:Class` \
         with the module in a --python-path directory)",
        lines.join("\n")
    )
}
