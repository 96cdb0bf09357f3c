"""Which contenders this checkout can run: engines and modules other issues are still building.

A contender that is not there is reported as "n/a (not built)" with the probe's reason — never
replaced by another measurement.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from benchmarks.context import Bench
from benchmarks.results import NOT_BUILT

NOT_DRIVEN = "n/a (built; not driven by the bench yet)"


@dataclass(frozen=True)
class Availability:
    """Whether a contender can run; if not, the status shown in its place and the reason."""

    available: bool
    reason: str
    status: str = "ok"

    @classmethod
    def missing(cls, reason: str) -> Availability:
        return cls(False, reason, NOT_BUILT)

    @classmethod
    def not_driven(cls, reason: str) -> Availability:
        return cls(False, reason, NOT_DRIVEN)


def cpython_bridge(bench: Bench) -> Availability:
    """Whether the binary runs a node whose `runtime_hint` is `cpython` (issue 5's bridge)."""
    manifest = bench.manifest({"name": "chain", "length": 1, "runtime_hint": "cpython"})
    probe = subprocess.run([str(bench.binary), "run", str(manifest), "--input", "1", "--quiet"],
                           capture_output=True, text=True, env=bench.child_env(), timeout=120)
    if probe.returncode == 0 and probe.stdout.strip() == "1":
        return Availability(True, "the binary ran a PassThrough node with runtime_hint cpython")
    first_line = (probe.stderr.strip().splitlines() or ["no error message"])[0]
    return Availability.missing(f"the binary cannot run a node with runtime_hint cpython: {first_line}")


def runtime_pipeline_run(bench: Bench) -> Availability:
    """Whether `Pipeline.run(..., engine="runtime")` runs a pipeline on the Rust runtime (issue 5)."""
    script = ("from remotemedia.core.pipeline import Pipeline\n"
              "from remotemedia.nodes.base import PassThroughNode\n"
              "print(Pipeline('probe').add_node(PassThroughNode()).run([1], engine='runtime'))\n")
    probe = subprocess.run([bench.python, "-c", script], capture_output=True, text=True,
                           env=bench.child_env(), timeout=120)
    if probe.returncode == 0 and probe.stdout.strip() == "[1]":
        return Availability(True, "Pipeline.run(engine=\"runtime\") ran a pipeline on the Rust runtime")
    last_line = (probe.stderr.strip().splitlines() or ["no error message"])[-1]
    return Availability.missing(f"Pipeline.run() cannot use the Rust runtime here: {last_line[:300]}")


def remote_serve(bench: Bench) -> Availability:
    """Whether the binary has `remotemedia serve` (issue 6)."""
    probe = subprocess.run([str(bench.binary), "serve", "--help"], capture_output=True, text=True, timeout=60)
    if probe.returncode == 0:
        return Availability(True, "the binary has `remotemedia serve`")
    return Availability.missing("the binary has no `serve` command in this checkout")
