//! Checking, before any data flows, that the cluster can hold the nodes placed on it.

use crate::cluster::ClusterConnector;
use crate::manifest::Manifest;

use super::error::PlanError;
use super::types::{EngineKind, Plan};

/// Asks the cluster, for every node the plan places there, whether one of its machines could
/// hold it; adds what it will be asked for to the node's reason (`plan` shows it). An unreachable
/// cluster, or a node none of its machines could hold, fails the plan with
/// [`PlanError::ClusterUnusable`], naming every such node and why.
pub fn check_cluster(
    manifest: &Manifest,
    mut plan: Plan,
    cluster: &dyn ClusterConnector,
) -> Result<Plan, PlanError> {
    let mut problems = Vec::new();
    for (placed, node) in plan.nodes.iter_mut().zip(&manifest.nodes) {
        if placed.engine != EngineKind::Cluster {
            continue;
        }
        match cluster.check(node) {
            Ok(request) => {
                placed.reason = format!(
                    "{}; asks {} for {request}",
                    placed.reason,
                    cluster.address()
                );
            }
            Err(error) => problems.push((node.id.clone(), error.0)),
        }
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(PlanError::ClusterUnusable {
            address: cluster.address().to_owned(),
            nodes: problems,
        })
    }
}
