"""The CPython bridge's costs, measured through the real `remotemedia` executable.

    python -m benchmarks.cpython_bridge [--items N] [--json]

Prints, from the runtime's own per-node metrics (`run --metrics --json`: time inside `process`,
excluding time blocked downstream):

- per-call overhead: a PassThrough node on the CPython engine (value into Python, the call, the
  output back), next to the same node on RustPython;
- array passing: a CPython node receiving float32 arrays of 16 KB to 16 MB. Arrays enter CPython as
  numpy views of the runtime's buffer, so the cost should not grow with the size.

Needs the release build (`make build`) and an interpreter with numpy (REMOTEMEDIA_PYTHON, else
this one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODES = '''
from array import array
from remotemedia.core.node import Node


class Emit(Node):
    """Emits one shared float32 array of `size_bytes` per input (made once)."""

    def __init__(self, size_bytes=16384, **kwargs):
        super().__init__(**kwargs)
        self.samples = array("f", bytes(size_bytes))

    def process(self, data):
        return self.samples


class Consume(Node):
    """Takes an array into CPython (as numpy when installed), touches it, emits nothing."""

    runtime_hint = "cpython"

    def initialize(self):
        try:
            import numpy  # noqa: F401 - imported before timing, not inside the first call
        except ImportError:
            pass

    def process(self, data):
        data[len(data) // 2]
'''


def binary() -> Path:
    explicit = os.environ.get("REMOTEMEDIA_BIN")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release" / "remotemedia"


def process_time_per_item(manifest: dict, items: int, workdir: Path, node: str) -> float:
    """Seconds of `node`'s process time per item over a run of `items` inputs (best of three)."""
    return min(process_time(manifest, items, workdir, node) for _ in range(3)) / items


def process_time(manifest: dict, items: int, workdir: Path, node: str) -> float:
    """Seconds of `node`'s process time over a run of `items` inputs."""
    path = workdir / "manifest.json"
    path.write_text(json.dumps(manifest))
    inputs = workdir / "inputs.jsonl"
    inputs.write_text("1\n" * items)
    env = {**os.environ, "REMOTEMEDIA_PYTHON": os.environ.get("REMOTEMEDIA_PYTHON", sys.executable)}
    env.pop("REMOTEMEDIA_PYTHON_RUNTIME", None)
    result = subprocess.run([str(binary()), "run", str(path), "--input-file", str(inputs), "--quiet", "--metrics",
                             "--json", "--output", os.devnull, "--python-path", str(workdir)],
                            capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"remotemedia run failed:\n{result.stderr}")
    metrics = json.loads(result.stderr.strip().splitlines()[-1])
    row = next(row for row in metrics["nodes"] if row["node"] == node)
    return row["process_seconds"]


def chain(*nodes: dict) -> dict:
    return {"version": "v1", "metadata": {"name": "bench"}, "nodes": list(nodes),
            "connections": [{"from": a["id"], "to": b["id"]} for a, b in zip(nodes, nodes[1:])]}


def measure(items: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        (workdir / "bench_bridge_nodes.py").write_text(NODES)
        figures: dict = {"per_call_us": {}, "array_us": {}}
        for engine in ("cpython", "rustpython"):
            manifest = chain({"id": "source", "node_type": "PassThroughNode"},
                             {"id": "pass", "node_type": "PassThroughNode", "runtime_hint": engine})
            figures["per_call_us"][engine] = process_time_per_item(manifest, items, workdir, "pass") * 1e6
        for size in (16 * 1024, 1024 * 1024, 16 * 1024 * 1024):
            manifest = chain({"id": "emit", "node_type": "bench_bridge_nodes:Emit", "params": {"size_bytes": size}},
                             {"id": "consume", "node_type": "bench_bridge_nodes:Consume"})
            runs = max(50, items // 10)
            figures["array_us"][size] = process_time_per_item(manifest, runs, workdir, "consume") * 1e6
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000, help="items per per-call run (default 5000)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.items)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print("per-call overhead, PassThrough node (process time per item):")
    for engine, micros in figures["per_call_us"].items():
        print(f"  {engine:<10} {micros:8.1f} µs")
    print("array into a CPython node (process time per item):")
    for size, micros in figures["array_us"].items():
        print(f"  {size / 1024:>8.0f} KB {micros:8.1f} µs")


if __name__ == "__main__":
    main()
