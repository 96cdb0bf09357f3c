"""`Pipeline`: nodes wired into a graph, serialized as a manifest or run locally in CPython.

Nodes are chained in the order they are added, unless `connect()` is used: then the graph is
exactly the connections given, which allows fan-out (one node feeding several) and fan-in
(several feeding one). The local run is the reference behaviour every engine reproduces; its
rules are in `remotemedia.local.run`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from remotemedia.core.exceptions import ConfigurationError, PipelineError, SerializationError
from remotemedia.core.node import Node

MANIFEST_VERSION = "v1"


class Pipeline:
    """An ordered set of nodes and the connections between them."""

    def __init__(self, name: str = "pipeline") -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a pipeline needs a non-empty name, got {name!r}")
        self.name = name
        self.nodes: list[Node] = []
        self._connections: list[tuple[Node, Node]] = []
        self._explicit_graph = False
        self.running = False  # nodes hold per-run state, so one run at a time

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

    def export_definition(self, description: str | None = None, include_capabilities: bool = True) -> dict[str, Any]:
        """The manifest (v1) as a dict."""
        if not self.nodes:
            raise SerializationError(f"pipeline '{self.name}' has no nodes; a manifest needs at least one")
        metadata: dict[str, Any] = {"name": self.name}
        if description is not None:
            metadata["description"] = description
        metadata["created_at"] = _utc_timestamp()
        return {"version": MANIFEST_VERSION, "metadata": metadata,
                **self.graph_entries(lambda node: node.to_manifest(include_capabilities=include_capabilities))}

    def graph_entries(self, node_entry: Callable[[Node], dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """The manifest's `nodes` (each `node_entry(node)` with its positional id) and `connections`."""
        ids = self.node_ids()
        index = {id(node): position for position, node in enumerate(self.nodes)}
        return {
            "nodes": [{"id": node_id, **node_entry(node)} for node_id, node in zip(ids, self.nodes, strict=True)],
            "connections": [
                {"from": ids[index[id(source)]], "to": ids[index[id(target)]]} for source, target in self.connections()
            ],
        }

    def serialize(self, description: str | None = None, include_capabilities: bool = True) -> str:
        """The manifest (v1) as JSON text, ready for `remotemedia validate` and `remotemedia run`."""
        return json.dumps(self.export_definition(description, include_capabilities), indent=2, ensure_ascii=False)

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

    def run(self, inputs: Iterable[Any], engine: str | None = None) -> list[Any]:
        """Run the pipeline to completion and return the sinks' outputs in production order.

        `engine` chooses what runs it (`remotemedia.runtime`): "runtime" — the Rust runtime
        in this process, nodes that need C extensions in this interpreter, pure nodes where
        placement puts them — or "python", the pure-CPython local run. The default is
        $REMOTEMEDIA_ENGINE, else "runtime", which needs the package's native module: without
        it this raises RuntimeUnavailableError rather than silently running another engine.
        """
        from remotemedia.runtime import PYTHON, choose_engine, run_on_runtime

        if choose_engine(engine) != PYTHON:
            return run_on_runtime(self, inputs)
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._collect(inputs))
        raise PipelineError("Pipeline.run() blocks, so it cannot be called inside a running event loop; "
                            "use `await pipeline.run_async(inputs)` or `async for output in pipeline.process(inputs)` there")

    async def run_async(self, inputs: Iterable[Any], engine: str | None = None) -> list[Any]:
        """`run` for async code: the event loop keeps running while the pipeline does."""
        from remotemedia.runtime import PYTHON, choose_engine, run_on_runtime

        if choose_engine(engine) != PYTHON:
            import asyncio

            return await asyncio.to_thread(run_on_runtime, self, inputs)
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


def _utc_timestamp() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
