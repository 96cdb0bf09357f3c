"""The bridge to the Rust runtime: which engine runs `Pipeline.run()`, and running on the runtime.

Which engine: the Rust runtime in-process, or the pure-CPython local run.

- "runtime" (the default): the pipeline runs on the remotemedia runtime through the package's
  native module `remotemedia._native` — the same executor, placement and engines as the
  `remotemedia` command. Nodes that need C extensions run in this interpreter, pure nodes where
  placement puts them (the embedded RustPython interpreter, in parallel, without the GIL).
- "python": the local run of `remotemedia.local.run`, entirely in this interpreter; the
  reference semantics every engine reproduces.

`REMOTEMEDIA_ENGINE` sets the default. A missing native module is an error with the way out,
never a silent switch to the other engine: results and speed would change without notice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from remotemedia.core import env_vars
from remotemedia.core.exceptions import ConfigurationError, PipelineError, SerializationError

if TYPE_CHECKING:
    from remotemedia.core.pipeline import Pipeline

RUNTIME = "runtime"
PYTHON = "python"
ENGINES = (RUNTIME, PYTHON)


class RuntimeUnavailableError(PipelineError):
    """The runtime engine was asked for, but this installation has no native module."""


def choose_engine(engine: str | None) -> str:
    """The engine to use: `engine`, else $REMOTEMEDIA_ENGINE, else "runtime"."""
    chosen = engine if engine is not None else os.environ.get(env_vars.ENGINE) or RUNTIME
    if chosen not in ENGINES:
        source = "engine" if engine is not None else env_vars.ENGINE
        raise ConfigurationError(f"{source} must be one of {', '.join(ENGINES)}, got {chosen!r}")
    return chosen


def native_module() -> ModuleType:
    """`remotemedia._native`, or RuntimeUnavailableError saying how to get it or avoid it."""
    try:
        from remotemedia import _native  # type: ignore[attr-defined]
    except ImportError as missing:
        built = os.environ.get(env_vars.NATIVE_MODULE)
        if not built:
            raise RuntimeUnavailableError(
                "this remotemedia installation has no native module (remotemedia._native), so Pipeline.run "
                "cannot use the Rust runtime: install the package with `pip install .` (it builds the module "
                f"with maturin), or set {env_vars.NATIVE_MODULE} to a libremotemedia_python_ext.so built by "
                f"`cargo build --release`; or choose the pure-CPython run with engine=\"python\" "
                f"({env_vars.ENGINE}=python)") from missing
        return _load_built(built)
    return _native


def _load_built(path: str) -> ModuleType:
    import importlib.util
    import sys

    existing = sys.modules.get("remotemedia._native")
    if existing is not None:
        return existing
    spec = importlib.util.spec_from_file_location("remotemedia._native", path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        raise RuntimeUnavailableError(f"{env_vars.NATIVE_MODULE}={path} is not a native module file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["remotemedia._native"] = module
    return module


def run_on_runtime(pipeline: Pipeline, inputs: Iterable[Any], python_path: list[str] | None = None,
                   cluster: str | None = None) -> list[Any]:
    """Run `pipeline` on `inputs` with the runtime; NodeError names the node that failed, with its
    exception type and traceback text."""
    native = native_module()
    if isinstance(inputs, (str, bytes, dict)):
        raise PipelineError("inputs must be an iterable of items; wrap a single item in a list")
    if pipeline.running:
        raise PipelineError(f"pipeline '{pipeline.name}' is already running; its nodes hold per-run "
                            "state, so build a second pipeline to run two at once")
    from remotemedia.audio import AudioSource

    manifest = runtime_manifest(pipeline)
    live_nodes = dict(zip(pipeline.node_ids(), pipeline.nodes))
    pipeline.running = True
    try:
        if isinstance(inputs, AudioSource):  # decoded natively, as the run goes
            return native.run(json.dumps(manifest), iter(()), live_nodes, python_path or [], cluster=cluster,
                              audio=(inputs.path, inputs.frame_ms))
        return native.run(json.dumps(manifest), iter(inputs), live_nodes, python_path or [], cluster=cluster)
    finally:
        pipeline.running = False


def runtime_plan(pipeline: Pipeline) -> list[dict[str, str]]:
    """Where each node would run under `run_on_runtime`, and why (as `remotemedia plan` says)."""
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
