"""Running a node on another remotemedia instance.

Wrap any node in a `RemoteExecutionNode` and the manifest asks the runtime to run it on that
instance: the entry is the wrapped node's own (type, params, capabilities) plus `"host": "host:port"`.

Two spellings build the same node, and so the same manifest entry:

- `RemoteExecutionNode(CalculatorNode(operation="add", operand=5), RemoteExecutorConfig("gpu-box"))`
- the upstream SDK's `RemoteExecutionNode(node_to_execute="CalculatorNode", remote_config=...,
  node_config={"operation": "add", "operand": 5})` (also positionally, in that order).

A class name that does not resolve here (a node only the remote host has) is written as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remotemedia.core.exceptions import ConfigurationError, SerializationError
from remotemedia.core.node import Node
from remotemedia.core.remote_config import DEFAULT_PORT, RemoteExecutorConfig
from remotemedia.core.values import to_jsonable

__all__ = ["DEFAULT_PORT", "RemoteExecutionNode", "RemoteExecutorConfig"]


class RemoteExecutionNode(Node):
    """Runs a node on the remotemedia instance described by its config (named after the node by
    default).

    Only the runtime can reach remote instances: running this node in the local CPython pipeline
    is an error at initialize, rather than silently running it locally.
    """

    def __init__(
        self,
        node: Node | str | None = None,
        config: RemoteExecutorConfig | None = None,
        node_config: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        node_to_execute: Node | str | None = None,
        remote_config: RemoteExecutorConfig | None = None,
    ) -> None:
        target = _one_of("node", node, "node_to_execute", node_to_execute)
        remote = _one_of("config", config, "remote_config", remote_config)
        if not isinstance(remote, RemoteExecutorConfig):
            raise ConfigurationError(f"RemoteExecutionNode needs a RemoteExecutorConfig, got {type(remote).__name__}")
        if isinstance(target, str):
            target = _node_by_class_name(target, node_config, name)
        elif not isinstance(target, Node):
            raise ConfigurationError(
                f"RemoteExecutionNode wraps a Node or a node class name, got {type(target).__name__}"
            )
        elif node_config is not None:
            raise ConfigurationError(
                "node_config configures a node given by class name; a Node object carries its own parameters"
            )
        super().__init__(name=name if name is not None else target.name)
        self.node = target
        self.remote = remote

    @property
    def remote_config(self) -> RemoteExecutorConfig:
        """The upstream SDK's name for `remote`."""
        return self.remote

    def initialize(self) -> None:
        raise ConfigurationError(
            f"node '{self.name}' runs on {self.remote.address}; the local Python runner cannot reach remote "
            "instances — run the pipeline's manifest with the remotemedia runtime"
        )

    def process(self, data: Any) -> Any:
        raise ConfigurationError(f"node '{self.name}' runs on {self.remote.address}, not locally")

    def get_capabilities(self) -> dict[str, Any] | None:
        return self.node.get_capabilities()

    def to_manifest(self, include_capabilities: bool = True) -> dict[str, Any]:
        entry = self.node.to_manifest(include_capabilities=include_capabilities)
        entry["id"] = self.name
        entry["host"] = self.remote.address
        return entry


class _RemoteOnlyNode(Node):
    """A node known here only by its class name and parameters: its class lives on the remote host."""

    def __init__(self, node_type: str, params: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.node_type = node_type
        self.params = params

    def process(self, data: Any) -> Any:
        raise ConfigurationError(f"node '{self.name}' ({self.node_type}) exists only on its remote host")

    def to_manifest(self, include_capabilities: bool = True) -> dict[str, Any]:
        try:
            params = to_jsonable(self.params)
        except (TypeError, RecursionError) as exc:
            raise SerializationError(
                f"node '{self.name}' ({self.node_type}): node_config cannot be serialized to JSON: {exc}"
            ) from exc
        return {"id": self.name, "node_type": self.node_type, "params": params}


def _one_of(ours: str, our_value: Any, upstream: str, upstream_value: Any) -> Any:
    """The argument given under either name (ours, or the upstream SDK's keyword); both is an error."""
    if our_value is not None and upstream_value is not None:
        raise TypeError(f"RemoteExecutionNode() got both {ours} and {upstream}; they are the same argument")
    value = our_value if our_value is not None else upstream_value
    if value is None:
        raise TypeError(f"RemoteExecutionNode() missing required argument: {ours} (or {upstream})")
    return value


def _node_by_class_name(node_type: str, node_config: Mapping[str, Any] | None, name: str | None) -> Node:
    """The node `node_type(**node_config)`: built here when its class resolves here (so its params are
    checked now, and its manifest entry is exactly what wrapping the object would give), otherwise
    kept by name for the remote host to build."""
    from remotemedia.engine_api import load_node_class

    if node_config is None:
        node_config = {}
    if not isinstance(node_config, Mapping) or not all(isinstance(key, str) for key in node_config):
        raise ConfigurationError(f"node_config must be a dict of parameter names to values, got {node_config!r}")
    if not node_type:
        raise ConfigurationError("node_to_execute must name a node class, got an empty string")
    if name is None:
        name = node_type.rpartition(":")[2]
    try:
        cls = load_node_class(node_type)
    except ConfigurationError:
        return _RemoteOnlyNode(node_type, dict(node_config), name=name)
    try:
        return cls(name=name, **node_config)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"node_to_execute {node_type!r}: bad node_config: {exc}") from exc
