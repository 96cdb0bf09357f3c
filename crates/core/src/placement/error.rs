//! Why a manifest cannot be placed: reported before anything runs, naming every node concerned.

use std::fmt;

use serde::Serialize;

use crate::env_vars;

use super::resolve::UnresolvedNode;
use super::types::Shortfall;

/// A node that can run nowhere: its required capabilities are missing here and it has no `host`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnplaceableNode {
    pub node_id: String,
    /// Every required capability it lacks (never empty).
    pub missing: Vec<Shortfall>,
}

impl fmt::Display for UnplaceableNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let missing: Vec<String> = self.missing.iter().map(Shortfall::to_string).collect();
        write!(f, "node `{}` {}", self.node_id, missing.join("; "))
    }
}

/// Why a manifest cannot be placed. Reported before anything runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Every node that cannot run anywhere, with every capability it lacks.
    #[error("{}", describe_unplaceable(.0))]
    Unplaceable(Vec<UnplaceableNode>),
    #[error(
        "environment variable {var} is `{value}`; expected auto, rustpython or cpython",
        var = env_vars::PYTHON_RUNTIME
    )]
    InvalidRuntimeOverride { value: String },
    /// Nodes that must run on their host, whose host is unreachable or lacks what they need.
    #[error("{}", describe_host_problems(.0))]
    HostsUnusable(Vec<HostProblem>),
    /// Nodes placed on the cluster, which is unreachable or has no machine that could hold them.
    #[error("{}", describe_cluster_problems(.address, .nodes))]
    ClusterUnusable {
        /// The cluster's address.
        address: String,
        /// Each node that cannot go there, with why.
        nodes: Vec<(String, String)>,
    },
    /// Nodes whose type does not resolve where they are placed: unknown, or their module or
    /// class cannot be loaded.
    #[error("{}", super::resolve::describe_unresolved(.0))]
    Unresolved(Vec<UnresolvedNode>),
}

fn describe_cluster_problems(address: &str, nodes: &[(String, String)]) -> String {
    let lines: Vec<String> = nodes
        .iter()
        .map(|(node, why)| format!("  node `{node}`: {why}"))
        .collect();
    let head = match nodes {
        [_] => "1 node".to_owned(),
        _ => format!("{} nodes", nodes.len()),
    };
    format!(
        "{head} cannot run on the cluster {address}:\n{}",
        lines.join("\n")
    )
}

fn describe_unplaceable(nodes: &[UnplaceableNode]) -> String {
    let head = match nodes {
        [_] => "1 node cannot be placed:".to_owned(),
        _ => format!("{} nodes cannot be placed:", nodes.len()),
    };
    let lines: Vec<String> = nodes.iter().map(|node| format!("  {node}")).collect();
    format!(
        "{head}\n{}\n(a node runs elsewhere only when it names a `host` or a cluster is given with --cluster; \
         a GPU the node can do without is marked \"required\": false)",
        lines.join("\n")
    )
}

/// A node that must run on its host, and why that host cannot take it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostProblem {
    pub node_id: String,
    pub host: String,
    /// The required capabilities missing here, which are why the node goes to the host.
    pub missing_here: Vec<Shortfall>,
    /// What is wrong with the host: unreachable, token rejected, or what it lacks.
    pub reason: String,
}

impl fmt::Display for HostProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let missing: Vec<String> = self.missing_here.iter().map(Shortfall::to_string).collect();
        write!(
            f,
            "node `{}` cannot run here ({}) and cannot run on host {}: {}",
            self.node_id,
            missing.join("; "),
            self.host,
            self.reason
        )
    }
}

fn describe_host_problems(problems: &[HostProblem]) -> String {
    let head = match problems {
        [_] => "1 node has nowhere to run:".to_owned(),
        _ => format!("{} nodes have nowhere to run:", problems.len()),
    };
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    format!("{head}\n{}", lines.join("\n"))
}
