"""`Pipeline`: nodes wired into a graph, serialized as a manifest or run locally in CPython.

Nodes are chained in the order they are added, unless `connect()` is used: then the graph is
exactly the connections given, which allows fan-out (one node feeding several) and fan-in
(several feeding one). The local run is the reference behaviour every engine reproduces; its
rules are in `remotemedia.local.run`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from remotemedia.core.exceptions import ConfigurationError, PipelineError, SerializationError
from remotemedia.core.node import Node

if TYPE_CHECKING:
    from datetime import datetime

MANIFEST_VERSION = "v1"


class Pipeline:
    """An ordered set of nodes and the connections between them.

    `Pipeline("name")`, `Pipeline(name="name", nodes=[...])`, and the upstream SDK's order,
    `Pipeline([...], "name")`: a first argument that is a list (or tuple) of nodes is the nodes,
    added in order.
    """

    created_at: datetime | str | None
    """When the pipeline was made, as the manifest records it: None means "when serialized".
    `from_manifest` keeps the manifest's own; either way it is written in UTC, ending in Z."""

    def __init__(
        self, name_or_nodes: str | Iterable[Node] | None = None, /, name: str | None = None,
        nodes: Iterable[Node] | None = None,
    ) -> None:
        if isinstance(name_or_nodes, str):
            if name is not None:
                raise TypeError("Pipeline() got the name twice, as its first argument and as name=")
            name = name_or_nodes
        elif isinstance(name_or_nodes, (list, tuple)):
            if nodes is not None:
                raise TypeError("Pipeline() got the nodes twice, as its first argument and as nodes=")
            nodes = name_or_nodes
        elif name_or_nodes is not None:
            raise ConfigurationError(f"Pipeline() takes a name or a list of nodes first, got {name_or_nodes!r}")
        if name is None:
            name = "pipeline"
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a pipeline needs a non-empty name, got {name!r}")
        self.name = name
        self.nodes: list[Node] = []
        self._connections: list[tuple[Node, Node]] = []
        self._explicit_graph = False
        self.running = False  # nodes hold per-run state, so one run at a time
        self.created_at = None
        for node in nodes or ():
            self.add_node(node)

    def add_node(self, node: Node) -> Pipeline:
        """Append a node; returns the pipeline so calls chain."""
        if not isinstance(node, Node):
            raise PipelineError(f"add_node expects a Node, got {type(node).__name__}")
        if self._contains(node):
            raise PipelineError(f"node '{node.name}' is already in pipeline '{self.name}'")
        self.nodes.append(node)
        return self

    def connect(self, source: Node, target: Node) -> Pipeline:
        """Send `source`'s outputs to `target`, adding either node if it is not in the pipeline yet.

        The first call switches the pipeline from "chain in order" to "exactly these connections".
        A connection that would close a cycle is refused here, while the culprit is obvious.
        """
        if source is target:
            raise PipelineError(f"cannot connect node '{source.name}' to itself")
        for node in (source, target):
            if not self._contains(node):
                self.add_node(node)
        if any(a is source and b is target for a, b in self._connections):
            raise PipelineError(f"'{source.name}' is already connected to '{target.name}'")
        path = self._path(target, source)
        if path:
            cycle = " -> ".join(node.name for node in [source, *path])
            raise PipelineError(f"connecting '{source.name}' to '{target.name}' would create the cycle {cycle}")
        self._connections.append((source, target))
        self._explicit_graph = True
        return self

    def connections(self) -> list[tuple[Node, Node]]:
        """The graph's edges in order: the explicit connections, or the chain of added nodes."""
        if self._explicit_graph:
            return list(self._connections)
        return list(zip(self.nodes, self.nodes[1:], strict=False))

    def node_ids(self) -> list[str]:
        """Manifest ids, by position: `{node.name}_{index}`."""
        return [f"{node.name}_{index}" for index, node in enumerate(self.nodes)]

    def export_definition(self, include_capabilities: bool = True, description: str | None = None) -> dict[str, Any]:
        """The manifest (v1) as a dict; the arguments as for `serialize`."""
        from remotemedia.core.timestamps import utc_timestamp

        if not isinstance(include_capabilities, bool):
            raise SerializationError(
                f"include_capabilities must be True or False, got {include_capabilities!r} "
                "(the description is the second argument, or description=...)"
            )
        if description is not None and not isinstance(description, str):
            raise SerializationError(f"description must be a string, got {type(description).__name__} {description!r}")
        if not self.nodes:
            raise SerializationError(f"pipeline '{self.name}' has no nodes; a manifest needs at least one")
        metadata: dict[str, Any] = {"name": self.name}
        if description is not None:
            metadata["description"] = description
        try:
            metadata["created_at"] = utc_timestamp(self.created_at)
        except ConfigurationError as exc:
            raise SerializationError(f"pipeline '{self.name}': {exc}") from exc
        return {
            "version": MANIFEST_VERSION,
            "metadata": metadata,
            "nodes": [
                manifest_entry(node_id, node, include_capabilities)
                for node_id, node in zip(self.node_ids(), self.nodes, strict=True)
            ],
            "connections": self.manifest_connections(),
        }

    def serialize(self, include_capabilities: bool = True, description: str | None = None) -> str:
        """The manifest (v1) as JSON text, ready for `remotemedia validate` and `remotemedia run`.

        The arguments come in the upstream SDK's order, so `serialize(False)` leaves capabilities
        out; anything but a bool there, or a description that is not a string, is a
        SerializationError rather than a manifest the validator would reject.
        """
        return json.dumps(self.export_definition(include_capabilities, description), indent=2, ensure_ascii=False)

    def manifest_connections(self) -> list[dict[str, str]]:
        """The graph's edges as manifest connections, between positional ids."""
        ids = {id(node): node_id for node_id, node in zip(self.node_ids(), self.nodes, strict=True)}
        return [{"from": ids[id(source)], "to": ids[id(target)]} for source, target in self.connections()]

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any] | str) -> Pipeline:
        """Rebuild a pipeline from a manifest (validated first), e.g. to run it locally as reference.

        Each node is named by its manifest id, the connections are taken as written, and a node
        with a `host` is wrapped in a RemoteExecutionNode.
        """
        from remotemedia.core.values import from_jsonable
        from remotemedia.manifest import require_valid
        from remotemedia.engine_api import load_node_class

        checked = require_valid(manifest)
        pipeline = cls(name=checked["metadata"]["name"])
        if "created_at" in checked["metadata"]:
            from remotemedia.core.timestamps import parse_timestamp

            pipeline.created_at = parse_timestamp(checked["metadata"]["created_at"])
        by_id: dict[str, Node] = {}
        for entry in checked["nodes"]:
            node_class = load_node_class(entry["node_type"], entry.get("module"))
            params = from_jsonable(entry.get("params", {}))
            try:
                node = node_class(name=entry["id"], **params)
            except (TypeError, ValueError, ConfigurationError) as exc:
                raise ConfigurationError(f"node '{entry['id']}' ({entry['node_type']}): bad params: {exc}") from exc
            if "host" in entry:
                from remotemedia.nodes.remote import RemoteExecutionNode, RemoteExecutorConfig

                node = RemoteExecutionNode(node, RemoteExecutorConfig.from_address(entry["host"]))
            by_id[entry["id"]] = node
            pipeline.add_node(node)
        pipeline._explicit_graph = True
        for connection in checked.get("connections", []):
            pipeline.connect(by_id[connection["from"]], by_id[connection["to"]])
        return pipeline

    def process(self, inputs: Iterable[Any] | AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Run the pipeline on `inputs` (sync or async iterable): `async for` over the sinks'
        outputs as they are produced. Leaving the loop early stops the run and cleans up."""
        from remotemedia.local.run import LocalRun

        return LocalRun(self).outputs(inputs)

    def run(self, inputs: Iterable[Any], engine: str | None = None, cluster: str | None = None) -> list[Any]:
        """Run the pipeline to completion and return the sinks' outputs in production order.

        `engine` chooses what runs it (`remotemedia.runtime`): "runtime" — the Rust runtime
        in this process, nodes that need C extensions in this interpreter, pure nodes where
        placement puts them — or "python", the pure-CPython local run. The default is
        $REMOTEMEDIA_ENGINE, else "runtime", which needs the package's native module: without
        it this raises RuntimeUnavailableError rather than silently running another engine.

        `cluster` (`ray://HOST:PORT`, else $RAY_ADDRESS) is a Ray cluster for the nodes this
        machine cannot run (docs/cluster.md); only the runtime engine places nodes there.
        """
        from remotemedia.runtime import PYTHON, choose_engine, run_on_runtime

        if choose_engine(engine) != PYTHON:
            return run_on_runtime(self, inputs, cluster=cluster)
        _no_cluster_for_the_local_run(cluster)
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._collect(inputs))
        raise PipelineError("Pipeline.run() blocks, so it cannot be called inside a running event loop; "
                            "use `await pipeline.run_async(inputs)` or `async for output in pipeline.process(inputs)` there")

    async def run_async(self, inputs: Iterable[Any], engine: str | None = None,
                        cluster: str | None = None) -> list[Any]:
        """`run` for async code: the event loop keeps running while the pipeline does."""
        from remotemedia.runtime import PYTHON, choose_engine, run_on_runtime

        if choose_engine(engine) != PYTHON:
            import asyncio

            return await asyncio.to_thread(run_on_runtime, self, inputs, cluster=cluster)
        _no_cluster_for_the_local_run(cluster)
        return await self._collect(inputs)

    async def _collect(self, inputs: Iterable[Any]) -> list[Any]:
        return [output async for output in self.process(inputs)]

    def _contains(self, node: Node) -> bool:
        return any(existing is node for existing in self.nodes)

    def _path(self, start: Node, goal: Node) -> list[Node]:
        """A path start → … → goal along the explicit connections, or [] when there is none."""
        stack: list[list[Node]] = [[start]]
        seen = {id(start)}
        while stack:
            path = stack.pop()
            if path[-1] is goal:
                return path
            for source, target in self._connections:
                if source is path[-1] and id(target) not in seen:
                    seen.add(id(target))
                    stack.append([*path, target])
        return []


def _no_cluster_for_the_local_run(cluster: str | None) -> None:
    if cluster is not None:
        raise PipelineError("cluster= needs the runtime engine; the pure-CPython local run places nothing")


def manifest_entry(node_id: str, node: Node, include_capabilities: bool = True) -> dict[str, Any]:
    """`node`'s manifest entry under the pipeline's positional id, whatever id the node gives itself."""
    entry = node.to_manifest(include_capabilities=include_capabilities)
    entry.pop("id", None)
    return {"id": node_id, **entry}
