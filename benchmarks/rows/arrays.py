"""Row 6 — array passing through the CPython bridge, 16 KB to 16 MB."""

from __future__ import annotations

from benchmarks import probes
from benchmarks.context import Bench
from benchmarks.results import Figure, Row, Target

TARGET = "array passing flat in size (zero-copy)"
SIZES = ("16 KB", "256 KB", "4 MB", "16 MB")


def run(bench: Bench) -> Row:
    row = Row("array_passing", "Array passing through the CPython bridge",
              "Time per item for a float32 array of 16 KB … 16 MB crossing into a CPython-bridge node and back "
              "(flat in size when the buffer is not copied on the way in).")
    bridge = probes.cpython_bridge(bench)
    status = bridge.status if not bridge.available else probes.NOT_DRIVEN
    for size in SIZES:
        row.figures.append(Figure(f"CPython bridge, {size}", "s", status=status, note=bridge.reason))
    row.targets.append(Target.unavailable(TARGET, status))
    return row
