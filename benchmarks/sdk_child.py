"""The CPython side of a comparison, run as a fresh process by the bench command.

    python benchmarks/sdk_child.py MODE SPEC_JSON INPUTS.jsonl OUTPUTS.jsonl [NODE]

Inputs are read lazily and outputs written as produced, in the canonical JSON form the binary
writes, so the parent can check both sides gave the same outputs. Modes:

- `sdk`: the SDK's local CPython pipeline (`Pipeline.process`, what `Pipeline.run` drives);
- `runtime`: `Pipeline.run(inputs, engine="runtime")`, the Rust runtime in this process;
- `loop`: a plain loop calling each node's `process` in turn — the floor any engine is held to;
  valid for chains whose nodes return exactly one output per item (the output check proves it);
- `node-time`: like `loop` but following generators, timing only node NODE's `process` calls,
  printed as `{"node_seconds": …}` on stdout.

Argument parsing is by hand and imports are few, because the cold-start row times this process.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any


def main(argv: list[str]) -> int:
    mode, spec_text, inputs_path, outputs_path, *rest = argv
    from benchmarks.workloads import build

    pipeline = build(json.loads(spec_text))
    with open(outputs_path, "w", encoding="utf-8") as outputs:
        if mode == "sdk":
            _run_sdk(pipeline, inputs_path, outputs)
        elif mode == "runtime":
            write = _writer(outputs)
            for value in pipeline.run(_inputs(inputs_path), engine="runtime"):
                write(value)
        elif mode == "loop":
            _run_loop(pipeline, inputs_path, outputs)
        elif mode == "node-time":
            seconds = _run_timing_node(pipeline, inputs_path, outputs, rest[0])
            print(json.dumps({"node_seconds": seconds}))
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    return 0


def _inputs(path: str) -> Iterator[Any]:
    from remotemedia.core.values import from_jsonable

    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield from_jsonable(json.loads(line))


def _writer(outputs: Any) -> Any:
    from remotemedia.core.values import to_jsonable

    def write(value: Any) -> None:
        outputs.write(json.dumps(to_jsonable(value), ensure_ascii=False))
        outputs.write("\n")

    return write


def _run_sdk(pipeline: Any, inputs_path: str, outputs: Any) -> None:
    import asyncio

    write = _writer(outputs)

    # Once `Pipeline.process` can also run on the Rust runtime, ask for the local CPython run
    # by name (read off the signature without importing `inspect`: this process is timed).
    code = type(pipeline).process.__code__
    parameters = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    options = {"engine": "python"} if "engine" in parameters else {}

    async def stream() -> None:
        async for value in pipeline.process(_inputs(inputs_path), **options):
            write(value)

    asyncio.run(stream())


def _run_loop(pipeline: Any, inputs_path: str, outputs: Any) -> None:
    write = _writer(outputs)
    steps = [node.process for node in pipeline.nodes]
    for node in pipeline.nodes:
        node.initialize()
    for item in _inputs(inputs_path):
        for step in steps:
            item = step(item)
        write(item)
    for node in pipeline.nodes:
        node.cleanup()


def _run_timing_node(pipeline: Any, inputs_path: str, outputs: Any, timed_id: str) -> float:
    """Drive a linear pipeline item by item, timing node `timed_id`'s `process` calls only."""
    import types

    write = _writer(outputs)
    ids = pipeline.node_ids()
    if timed_id not in ids:
        raise SystemExit(f"no node {timed_id!r} in {ids}")
    timed = ids.index(timed_id)
    spent = 0.0

    def outputs_of(position: int, item: Any) -> Iterator[Any]:
        nonlocal spent
        started = time.perf_counter()
        result = pipeline.nodes[position].process(item)
        # A generator does its work while being iterated, so it is drained inside the timing.
        results = list(result) if isinstance(result, types.GeneratorType) else [] if result is None else [result]
        if position == timed:
            spent += time.perf_counter() - started
        return iter(results)

    def push(position: int, item: Any) -> None:
        if position == len(pipeline.nodes):
            write(item)
            return
        for output in outputs_of(position, item):
            push(position + 1, output)

    for node in pipeline.nodes:
        node.initialize()
    for item in _inputs(inputs_path):
        push(0, item)
    for node in pipeline.nodes:
        node.cleanup()
    return spent


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
