"""Everything a row needs to set up its contenders: paths, sizes, and builders of commands."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import workloads
from benchmarks.measure import Contender, ProcessSample
from benchmarks.settings import Sizes

CHILD = Path(__file__).with_name("sdk_child.py")
BENCH_NODES = Path(__file__).with_name("nodes")


@dataclass
class Bench:
    """One bench run: the binary under test, a scratch directory, the sizes and a logger."""

    repo: Path
    binary: Path
    work: Path
    sizes: Sizes
    log: Callable[[str], None]
    bench_executables: dict[str, Path] = field(default_factory=dict)
    """Criterion bench executables by name (empty with `--no-build`)."""
    python: str = sys.executable
    _manifests: dict[str, Path] = field(default_factory=dict)

    def child_env(self) -> dict[str, str]:
        """The environment of every child process.

        `PYTHONDONTWRITEBYTECODE` is dropped: users' installed packages have their bytecode
        cached, so CPython must not recompile the SDK at every cold start. `RUST_LOG` is dropped
        so the binary logs as it does for users.
        """
        env = {key: value for key, value in os.environ.items()
               if key not in {"PYTHONDONTWRITEBYTECODE", "RUST_LOG", "PYTHONPATH", "REMOTEMEDIA_ENGINE",
                              "REMOTEMEDIA_PYTHON_RUNTIME"}}
        env["PYTHONPATH"] = os.pathsep.join(str(path) for path in
                                            (self.repo / "python", self.repo, BENCH_NODES))
        # A source checkout has no `remotemedia._native`; the SDK loads the one cargo built.
        native = self.work / "libremotemedia_python_ext.so"
        if native.is_file():
            env["REMOTEMEDIA_NATIVE_MODULE"] = str(native)
        # The CPython bridge runs nodes in the interpreter the CPython side uses.
        env.setdefault("REMOTEMEDIA_PYTHON", self.python)
        return env

    def manifest(self, spec: workloads.Spec) -> Path:
        """The manifest of `spec`, written once per run by the SDK's `serialize()`."""
        key = json.dumps(spec, sort_keys=True)
        if key not in self._manifests:
            path = self.work / f"manifest-{len(self._manifests)}-{spec['name']}.json"
            document = workloads.build(spec).export_definition()
            if "runtime_hint" in spec:  # the engine the binary must use; CPython runs every node itself
                for node in document["nodes"]:
                    node["runtime_hint"] = spec["runtime_hint"]
            path.write_text(json.dumps(document, indent=2), encoding="utf-8")
            self._manifests[key] = path
        return self._manifests[key]

    def inputs(self, name: str, values: Iterable[Any]) -> Path:
        """Write `values` as a JSON Lines input file (both sides read the same file)."""
        path = self.work / f"inputs-{name}.jsonl"
        with open(path, "w", encoding="utf-8") as lines:
            for value in values:
                lines.write(json.dumps(value))
                lines.write("\n")
        return path

    def binary_run(self, name: str, spec: workloads.Spec, inputs: Path, *extra: str, metrics: bool = False,
                   figures: Callable[[ProcessSample], dict[str, float]] | None = None) -> Contender:
        """`remotemedia run` of the workload's manifest over `inputs`, with `extra` options."""
        output = self._output(name)
        argv = [str(self.binary), "run", str(self.manifest(spec)), "--input-file", str(inputs),
                "--output", str(output), "--quiet"]
        if workloads.uses_bench_nodes(spec):
            argv += ["--python-path", str(BENCH_NODES)]
        if metrics:
            argv += ["--metrics", "--json"]
        argv += extra
        return Contender(name, argv, output, self.child_env(), figures)

    def cpython_run(self, name: str, mode: str, spec: workloads.Spec, inputs: Path, *extra: str,
                    figures: Callable[[ProcessSample], dict[str, float]] | None = None) -> Contender:
        """A fresh CPython process running the workload (see `sdk_child.py` for the modes)."""
        output = self._output(name)
        argv = [self.python, str(CHILD), mode, json.dumps(spec), str(inputs), str(output), *extra]
        return Contender(name, argv, output, self.child_env(), figures)

    def _output(self, name: str) -> Path:
        slug = "".join(char if char.isalnum() else "-" for char in name.lower()).strip("-")
        return self.work / f"outputs-{slug}.jsonl"


def run_metrics(sample: ProcessSample) -> dict[str, Any]:
    """What `remotemedia run --metrics --json` printed on stderr: the run's phases and its nodes."""
    for line in reversed(sample.stderr.splitlines()):
        if line.startswith("{") and '"nodes"' in line:
            return json.loads(line)
    raise ValueError(f"no metrics line in the binary's stderr:\n{sample.stderr[-2000:]}")


def node_metrics(sample: ProcessSample) -> dict[str, dict[str, float]]:
    """The per-node metrics `remotemedia run --metrics --json` printed on stderr, by node id."""
    return {node["node"]: node for node in run_metrics(sample)["nodes"]}


def streaming_time(sample: ProcessSample) -> dict[str, float]:
    """The binary's streaming phase (start-up excluded), as a figure of the run."""
    return {"streaming_seconds": run_metrics(sample)["streaming_seconds"]}


def child_figures(sample: ProcessSample) -> dict[str, float]:
    """The JSON object a CPython child printed last on stdout."""
    return json.loads(sample.stdout.strip().splitlines()[-1])
