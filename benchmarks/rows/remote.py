"""Issue 6's figures — remote execution over loopback: round-trip latency per item and items/s."""

from __future__ import annotations

from benchmarks import probes
from benchmarks.context import Bench
from benchmarks.results import Figure, Row


def run(bench: Bench) -> Row:
    row = Row("remote_loopback", "Remote node over loopback (issue 6)",
              "A PassThrough node placed on a `remotemedia serve` on 127.0.0.1: round-trip latency per item "
              "and items/s.")
    serve = probes.remote_serve(bench)
    row.figures += [Figure("round-trip latency per item", "s", status=serve.status, note=serve.reason),
                    Figure("throughput", "items/s", status=serve.status, note=serve.reason)]
    return row
