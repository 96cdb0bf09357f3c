"""Issue 6's figures — remote execution over loopback: round-trip latency per item and items/s."""

from __future__ import annotations

from benchmarks import measure, probes, remote_loopback
from benchmarks.context import Bench
from benchmarks.results import Figure, Row


def run(bench: Bench) -> Row:
    row = Row("remote_loopback", "Remote node over loopback (issue 6)",
              "A PassThrough node placed on a `remotemedia serve` on 127.0.0.1: round-trip latency per item "
              "(one item in flight, through `remotemedia run`) and items/s in steady state, beside the same "
              "node run locally (benchmarks/remote_loopback.py).")
    serve = probes.remote_serve(bench)
    if not serve.available:
        row.figures += [Figure("round-trip latency per item", "s", status=serve.status, note=serve.reason),
                        Figure("throughput", "items/s", status=serve.status, note=serve.reason)]
        return row
    latency_items = 300 if bench.sizes.repetitions > 1 else 40
    samples = remote_loopback.measure(bench.binary, bench.sizes.glue_items, latency_items, bench.sizes.repetitions)
    row.figures += [
        Figure("round-trip latency per item, remote", "s", stats=measure.stats(samples["remote_latency"])),
        Figure("round-trip latency per item, local", "s", stats=measure.stats(samples["local_latency"])),
        Figure("throughput, remote", "items/s", stats=measure.stats(samples["remote_throughput"])),
        Figure("throughput, local", "items/s", stats=measure.stats(samples["local_throughput"])),
    ]
    return row
