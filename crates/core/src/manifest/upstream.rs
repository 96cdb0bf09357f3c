//! The upstream SDK's remote node form, normalised at load.
//!
//! The upstream Python client writes a remote node as `"node_type": "RemoteExecutionNode"` with the
//! node to run in its params (`{"node_to_execute": "CalculatorNode", "node_config": {...}}`) and a
//! `host`. Here a remote node is the node itself plus its `host`, so such an entry is rewritten to
//! that — `node_type` from `node_to_execute`, `params` from `node_config` — and keeps a note that
//! `plan` shows. An entry that cannot be rewritten (no `node_to_execute`, no `host`, other params) is
//! a validation error saying how to write it, never a node that validates and then fails to start.

use serde_json::Value;

use super::Manifest;
use super::error::{ManifestError, join_pointer};

/// The node type the upstream SDK gives its remote nodes.
pub const UPSTREAM_REMOTE_NODE: &str = "RemoteExecutionNode";
const NODE_TO_EXECUTE: &str = "node_to_execute";
const NODE_CONFIG: &str = "node_config";

/// Rewrites every node written in the upstream remote form; or every problem with such nodes.
pub(crate) fn normalise(manifest: &mut Manifest) -> Result<(), Vec<ManifestError>> {
    let mut errors = Vec::new();
    for (index, node) in manifest.nodes.iter_mut().enumerate() {
        if node.node_type != UPSTREAM_REMOTE_NODE || node.module.is_some() {
            continue;
        }
        let at = |path: &str| format!("/nodes/{index}{path}");
        let how = "write the node it runs directly, with its host: \
                   {\"node_type\": \"CalculatorNode\", \"params\": {...}, \"host\": \"host:port\"}";
        let before = errors.len();
        for key in node.params.keys() {
            if key != NODE_TO_EXECUTE && key != NODE_CONFIG {
                errors.push(ManifestError::new(
                    join_pointer(&at("/params"), key),
                    format!(
                        "unknown RemoteExecutionNode param '{key}': the upstream SDK's remote form takes \
                         node_to_execute and node_config; or {how}"
                    ),
                ));
            }
        }
        let node_type = match node.params.get(NODE_TO_EXECUTE) {
            None => {
                let pointer = if node.params.is_empty() {
                    at("")
                } else {
                    at("/params")
                };
                errors.push(ManifestError::new(
                    pointer,
                    format!(
                        "RemoteExecutionNode needs params.node_to_execute, the node type to run on its host; \
                         or {how}"
                    ),
                ));
                None
            }
            Some(Value::String(name)) if !name.is_empty() => Some(name.clone()),
            Some(_) => {
                errors.push(ManifestError::new(
                    at("/params/node_to_execute"),
                    "node_to_execute must be a node type name (a non-empty string)",
                ));
                None
            }
        };
        let params = match node.params.get(NODE_CONFIG) {
            None => Some(Default::default()),
            Some(Value::Object(config)) => Some(config.clone().into_iter().collect()),
            Some(_) => {
                errors.push(ManifestError::new(
                    at("/params/node_config"),
                    "node_config must be an object: the params of the node to run",
                ));
                None
            }
        };
        if node.host.is_none() {
            errors.push(ManifestError::new(
                at(""),
                format!(
                    "RemoteExecutionNode needs a host (\"host\": \"host:port\"), the remotemedia instance \
                     to run its node on; or {how}"
                ),
            ));
        }
        if let (Some(node_type), Some(params), true) = (node_type, params, errors.len() == before) {
            node.rewritten_from = Some(format!(
                "written as {UPSTREAM_REMOTE_NODE} (the upstream SDK's remote form), runs as {node_type}"
            ));
            node.node_type = node_type;
            node.params = params;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
