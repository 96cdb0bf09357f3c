"""Manifests in the upstream SDK's remote form, checked and rewritten exactly as the runtime does
(crates/core/src/manifest/upstream.rs).

The upstream Python client writes a remote node as `"node_type": "RemoteExecutionNode"` with the
node to run in its params (`{"node_to_execute": "CalculatorNode", "node_config": {...}}`) and a
`host`. Here a remote node is the node itself plus its `host`: such an entry becomes that node —
`node_type` from `node_to_execute`, `params` from `node_config`. One that cannot be rewritten (no
`node_to_execute`, no `host`, other params) is a validation error saying how to write it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remotemedia.manifest import ValidationError

UPSTREAM_REMOTE_NODE = "RemoteExecutionNode"
_FIELDS = ("node_to_execute", "node_config")
_HOW = (
    'write the node it runs directly, with its host: {"node_type": "CalculatorNode", "params": {...}, '
    '"host": "host:port"}'
)


def is_upstream_remote(node: dict[str, Any]) -> bool:
    """Whether a (schema-valid) manifest node is written in the upstream remote form."""
    return node["node_type"] == UPSTREAM_REMOTE_NODE and "module" not in node


def errors(index: int, node: dict[str, Any]) -> list[ValidationError]:
    """Every problem with node `index` in the upstream remote form, at the pointers the runtime uses."""
    from remotemedia.manifest import ValidationError, to_pointer

    at = f"/nodes/{index}"
    params = node.get("params", {})
    found = [
        ValidationError(
            to_pointer(["nodes", index, "params", key]),
            f"unknown RemoteExecutionNode param '{key}': the upstream SDK's remote form takes node_to_execute "
            f"and node_config; or {_HOW}",
        )
        for key in params
        if key not in _FIELDS
    ]
    node_type = params.get("node_to_execute")
    if "node_to_execute" not in params:
        found.append(ValidationError(
            f"{at}/params" if params else at,
            f"RemoteExecutionNode needs params.node_to_execute, the node type to run on its host; or {_HOW}",
        ))
    elif not isinstance(node_type, str) or not node_type:
        found.append(ValidationError(
            f"{at}/params/node_to_execute", "node_to_execute must be a node type name (a non-empty string)"
        ))
    if "node_config" in params and not isinstance(params["node_config"], dict):
        found.append(ValidationError(
            f"{at}/params/node_config", "node_config must be an object: the params of the node to run"
        ))
    if "host" not in node:
        found.append(ValidationError(
            at,
            'RemoteExecutionNode needs a host ("host": "host:port"), the remotemedia instance to run its node on; '
            f"or {_HOW}",
        ))
    return found


def rewritten(document: dict[str, Any]) -> dict[str, Any]:
    """A valid manifest with every upstream remote node rewritten to the node it runs (a copy when
    there is any; the document itself otherwise)."""
    if not any(is_upstream_remote(node) for node in document["nodes"]):
        return document
    document = copy.deepcopy(document)
    for node in document["nodes"]:
        if is_upstream_remote(node):
            params = node["params"]
            node["node_type"] = params["node_to_execute"]
            node["params"] = params.get("node_config", {})
    return document
