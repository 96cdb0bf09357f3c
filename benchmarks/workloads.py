"""The pipelines the benchmarks run, each defined once with the SDK.

The binary gets a workload as the manifest `Pipeline.serialize()` writes; the CPython side builds
the very same `Pipeline` in its own process (`benchmarks/sdk_child.py`). A workload is named by a
small JSON-able spec, e.g. `{"name": "chain", "length": 8}`, so both sides can rebuild it.

Imported by the CPython children, so it imports only the SDK, and only what the workload needs.
"""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]

GLUE: Spec = {"name": "glue"}
"""PassThrough → Calculator (×3) → PassThrough: the glue pipeline of the throughput row."""


def chain(length: int, runtime_hint: str | None = None) -> Spec:
    """`length` PassThrough nodes in a row: the per-node overhead row compares chain lengths.

    `runtime_hint` goes into the binary's manifest only (e.g. "cpython" for the CPython bridge).
    """
    spec: Spec = {"name": "chain", "length": length}
    if runtime_hint is not None:
        spec["runtime_hint"] = runtime_hint
    return spec


def isolated(spec: Spec, node: str) -> Spec:
    """`spec` with the node named `node` in a worker process of its own (`"isolation": "process"`)."""
    return {**spec, "isolated": node}


def resample(wav_path: str) -> Spec:
    """WAV reader (20 ms frames) → pure-Python linear resampler to 16 kHz."""
    return {"name": "resample", "wav": wav_path}


def cpu_stages(stages: int, rounds: int) -> Spec:
    """`stages` CPU-bound pure-Python stages of `rounds` steps each (each declares a core)."""
    return {"name": "cpu_stages", "stages": stages, "rounds": rounds}


def arrays(size_bytes: int) -> Spec:
    """A float32 array of `size_bytes` per item, made in RustPython, consumed by a CPython-bridge node."""
    return {"name": "arrays", "size_bytes": size_bytes}


def build(spec: Spec) -> Any:
    """The SDK `Pipeline` for `spec`."""
    from remotemedia.core.pipeline import Pipeline

    name = spec["name"]
    pipeline = Pipeline(name)
    for node in _nodes(spec):
        if node.name == spec.get("isolated"):
            node.isolation = "process"
        pipeline.add_node(node)
    return pipeline


def _nodes(spec: Spec) -> list[Any]:
    name = spec["name"]
    if name == "glue":
        from remotemedia.nodes.base import PassThroughNode
        from remotemedia.nodes.calculator import CalculatorNode

        return [PassThroughNode(name="in"), CalculatorNode(name="times3", operation="multiply", operand=3),
                PassThroughNode(name="out")]
    if name == "chain":
        from remotemedia.nodes.base import PassThroughNode

        return [PassThroughNode(name=f"pass{index}") for index in range(spec["length"])]
    if name == "resample":
        from remotemedia.nodes.audio import ResampleNode, WavReaderNode

        return [WavReaderNode(name="reader", path=spec["wav"], frame_ms=20),
                ResampleNode(name="resample", target_rate=16000)]
    if name == "cpu_stages":
        from bench_nodes import CpuStageNode  # benchmarks/nodes: a user module, for the binary too

        return [CpuStageNode(name=f"stage{index}", rounds=spec["rounds"]) for index in range(spec["stages"])]
    if name == "arrays":
        from bench_nodes import ArrayConsumeNode, ArrayEmitNode

        return [ArrayEmitNode(name="emit", size_bytes=spec["size_bytes"]), ArrayConsumeNode(name="consume")]
    if name == "op_costs":
        from bench_nodes import OpCostsNode

        return [OpCostsNode(name="ops")]
    raise ValueError(f"unknown workload {name!r}")


def uses_bench_nodes(spec: Spec) -> bool:
    """Whether the workload needs `benchmarks/nodes` on the Python path (binary: --python-path)."""
    return spec["name"] in {"cpu_stages", "op_costs", "arrays"}
