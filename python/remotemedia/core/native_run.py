"""`Pipeline.run()` on the Rust runtime, in this process (the engine "runtime").

The pipeline's manifest goes to the runtime with the node objects themselves: a node placed on
CPython runs *as the object the caller built*, in this interpreter (state, unserializable params
and classes defined in a script all work); a pure node runs where placement puts it — the
embedded RustPython interpreter, without the GIL — rebuilt from its params. Placement is the
executable's: `runtime_hint`, REMOTEMEDIA_PYTHON_RUNTIME, a class declaring
`runtime_hint = "cpython"`, and classes RustPython cannot import (they stay here).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable

from remotemedia.core.exceptions import PipelineError, SerializationError

if TYPE_CHECKING:
    from remotemedia.core.pipeline import Pipeline


def run_on_runtime(pipeline: Pipeline, inputs: Iterable[Any], python_path: list[str] | None = None,
                   cluster: str | None = None) -> list[Any]:
    """Run `pipeline` on `inputs` with the runtime; NodeError names the node that failed, with its
    exception type and traceback text."""
    from remotemedia.core.engines import native_module

    native = native_module()
    if isinstance(inputs, (str, bytes, dict)):
        raise PipelineError("inputs must be an iterable of items; wrap a single item in a list")
    if pipeline.running:
        raise PipelineError(f"pipeline '{pipeline.name}' is already running; its nodes hold per-run "
                            "state, so build a second pipeline to run two at once")
    manifest = runtime_manifest(pipeline)
    live_nodes = dict(zip(pipeline.node_ids(), pipeline.nodes))
    pipeline.running = True
    try:
        return native.run(json.dumps(manifest), iter(inputs), live_nodes, python_path or [], cluster=cluster)
    finally:
        pipeline.running = False


def runtime_plan(pipeline: Pipeline) -> list[dict[str, str]]:
    """Where each node would run under `run_on_runtime`, and why (as `remotemedia plan` says)."""
    from remotemedia.core.engines import native_module

    return native_module().plan(json.dumps(runtime_manifest(pipeline)))


def runtime_manifest(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline's manifest for an in-process run.

    A node that has no manifest form — defined in the running script, or holding params JSON
    cannot carry — is entered by class name with `runtime_hint: cpython`: it runs as the live
    object in this interpreter, so its params need not travel.
    """
    if not pipeline.nodes:
        raise PipelineError(f"pipeline '{pipeline.name}' has no nodes to run")
    from remotemedia.core.pipeline import manifest_entry

    nodes = []
    for node_id, node in zip(pipeline.node_ids(), pipeline.nodes, strict=True):
        try:
            nodes.append(manifest_entry(node_id, node))
        except SerializationError:
            nodes.append({"id": node_id, "node_type": type(node).__name__, "params": {}, "runtime_hint": "cpython"})
    return {"version": "v1", "metadata": {"name": pipeline.name}, "nodes": nodes,
            "connections": pipeline.manifest_connections()}
