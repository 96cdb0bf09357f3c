//! Checking, before any data flows, the hosts that nodes are placed on.

use std::collections::HashMap;

use crate::hosts::{HostConnector, HostError};
use crate::manifest::Manifest;

use super::error::{HostProblem, PlanError};
use super::planner::{PlanOptions, place};
use super::types::{EngineKind, Plan, Shortfall};
use crate::engine::{ClassFinding, ClassProbe};
use crate::machine::MachineCapabilities;

/// Asks every host the plan sends a node to what it offers (once per host), and checks the node's
/// requirements there.
///
/// A node keeps its host when the host is reachable, meets every required capability and offers
/// something this machine lacks. Otherwise, a node that can do without what is missing here (an
/// optional GPU) runs here, with a warning in its reason and in the log; any other node fails the
/// plan with [`PlanError::HostsUnusable`], naming node, host and reason.
///
/// `plan` must come from planning the same `manifest` on `machine` with `options`; `probe`
/// inspects the classes of nodes that come back here (the host inspects its own).
pub fn check_hosts(
    manifest: &Manifest,
    mut plan: Plan,
    machine: &MachineCapabilities,
    options: &PlanOptions,
    probe: &dyn ClassProbe,
    hosts: &dyn HostConnector,
) -> Result<Plan, PlanError> {
    let mut described: HashMap<String, Result<MachineCapabilities, HostError>> = HashMap::new();
    let mut problems = Vec::new();
    for (node, placed) in manifest.nodes.iter().zip(plan.nodes.iter_mut()) {
        let EngineKind::Remote { host } = &placed.engine else {
            continue;
        };
        let host = host.clone();
        let offered = described
            .entry(host.clone())
            .or_insert_with(|| hosts.describe(&host));
        let mut without_host = node.clone();
        without_host.host = None;
        let refusal = match offered {
            Err(error) => Some(format!("unreachable: {error}")),
            // The host's own engines, chosen by the hints alone: a local override is not the host's.
            Ok(remote) => match place(
                &without_host,
                remote,
                &PlanOptions::default(),
                &ClassFinding::Unknown,
            ) {
                Err(missing) => Some(describe(&missing)),
                Ok(there) => {
                    let helps = placed.unmet.iter().any(|here| {
                        !there
                            .unmet
                            .iter()
                            .any(|t| t.requirement == here.requirement)
                    });
                    (!helps).then(|| format!("{} there too", describe(&there.unmet)))
                }
            },
        };
        let Some(reason) = refusal else {
            let name = match offered {
                Ok(MachineCapabilities {
                    name: Some(name), ..
                }) => format!(" (`{name}`)"),
                _ => String::new(),
            };
            placed
                .reason
                .push_str(&format!("; host{name} checked: it meets them"));
            continue;
        };
        if placed.unmet.iter().all(|shortfall| !shortfall.required) {
            let finding = if options.needs_probe(&without_host) {
                probe.probe(&without_host)
            } else {
                ClassFinding::Unknown
            };
            let mut local = place(&without_host, machine, options, &finding)
                .expect("a node missing only optional capabilities always runs here");
            tracing::warn!(
                "node `{}` runs here without what it prefers, not on host {host}: {reason}",
                node.id
            );
            local.reason = format!("{}; warning: not on host {host}: {reason}", local.reason);
            *placed = local;
        } else {
            problems.push(HostProblem {
                node_id: node.id.clone(),
                host,
                missing_here: placed
                    .unmet
                    .iter()
                    .filter(|s| s.required)
                    .cloned()
                    .collect(),
                reason,
            });
        }
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(PlanError::HostsUnusable(problems))
    }
}

fn describe(shortfalls: &[Shortfall]) -> String {
    let text: Vec<String> = shortfalls.iter().map(Shortfall::to_string).collect();
    text.join("; ")
}
