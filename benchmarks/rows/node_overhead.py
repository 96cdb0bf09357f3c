"""Row 3 — per-node overhead: what one more PassThrough node costs per item, engine by engine."""

from __future__ import annotations

import statistics

from benchmarks import probes, workloads
from benchmarks.context import Bench, node_metrics
from benchmarks.measure import Comparison, ProcessSample, compare, pairwise, stats
from benchmarks.results import Figure, Row, Target

RUSTPYTHON_TARGET = "per-node overhead ≤ 2 µs (RustPython)"
BRIDGE_TARGET = "per-node overhead ≤ 5 µs (CPython bridge)"


def run(bench: Bench) -> Row:
    sizes = bench.sizes
    long = sizes.chain_length
    row = Row("node_overhead", "Per-node overhead (µs per item per node)",
              f"A chain of {long} PassThrough nodes against a chain of 1, alternately, on the same items: "
              f"(CPU time of the long chain − CPU time of the short one) ÷ ({long} − 1) ÷ items. CPU time is the "
              "process's user + system time over all its threads (`wait4`), i.e. everything an extra node "
              "costs — conversion in and out of the interpreter, the Python call, the channel hop, thread "
              "wake-ups; start-up and input/output cancel out. The wall-time difference is shown beside it: "
              "on 2 cores the stages of a chain overlap, so it is smaller. The SDK's local CPython run is a "
              "reference (no target).")
    rustpython = _chain_pair(bench, "binary, RustPython", sizes.overhead_items, runtime_hint=None, metrics=True)
    _add(row, rustpython, "RustPython engine", sizes.overhead_items, long)
    per_node = _per_node(rustpython, sizes.overhead_items, long, "cpu")
    row.targets.append(Target.judge(RUSTPYTHON_TARGET, per_node.median <= 2.0, f"{per_node.median:.2f} µs"))

    bridge = probes.cpython_bridge(bench)
    if bridge.available:
        pair = _chain_pair(bench, "binary, CPython bridge", sizes.overhead_items, runtime_hint="cpython",
                           metrics=True)
        _add(row, pair, "CPython bridge", sizes.overhead_items, long)
        per_node = _per_node(pair, sizes.overhead_items, long, "cpu")
        row.targets.append(Target.judge(BRIDGE_TARGET, per_node.median <= 5.0, f"{per_node.median:.2f} µs"))
    else:
        row.figures.append(Figure("CPython bridge", "µs", status=bridge.status, note=bridge.reason))
        row.targets.append(Target.unavailable(BRIDGE_TARGET, bridge.status))

    sdk = _chain_pair(bench, "CPython SDK local run", sizes.overhead_items_sdk, runtime_hint=None, sdk=True)
    _add(row, sdk, "CPython SDK local run (reference)", sizes.overhead_items_sdk, long)
    return row


def _chain_pair(bench: Bench, label: str, items: int, *, runtime_hint: str | None, sdk: bool = False,
                metrics: bool = False) -> Comparison:
    long = bench.sizes.chain_length
    inputs = bench.inputs(f"overhead-{items}", range(items))
    contenders = []
    for length in (1, long):
        spec = workloads.chain(length, runtime_hint)
        name = f"{label}, {length}-node chain"
        if sdk:
            contenders.append(bench.cpython_run(name, "sdk", spec, inputs))
        else:
            contenders.append(bench.binary_run(name, spec, inputs, metrics=metrics,
                                               figures=_process_time if metrics else None))
    return compare(contenders, bench.sizes.repetitions, progress=bench.log)


def _process_time(sample: ProcessSample) -> dict[str, float]:
    """Median over the chain's nodes of the time inside `process` per item, in µs."""
    nodes = node_metrics(sample).values()
    return {"process_us": statistics.median(node["process_seconds"] / node["items_in"] * 1e6 for node in nodes)}


def _per_node(comparison: Comparison, items: int, long: int, figure: str):
    short_name, long_name = comparison.runs
    return pairwise(comparison.values(long_name, figure), comparison.values(short_name, figure),
                    lambda long_time, short_time: (long_time - short_time) / (long - 1) / items * 1e6)


def _add(row: Row, comparison: Comparison, label: str, items: int, long: int) -> None:
    row.figures.append(Figure(f"{label} — CPU", "µs", _per_node(comparison, items, long, "cpu"),
                              note=f"{items:,} items"))
    row.figures.append(Figure(f"{label} — wall", "µs", _per_node(comparison, items, long, "wall"),
                              note="stages overlap on 2 cores"))
    long_chain = list(comparison.runs)[-1]
    if "process_us" in comparison.runs[long_chain][0].extra:
        row.figures.append(Figure(f"{label} — inside `process` only", "µs",
                                  stats(comparison.values(long_chain, "process_us")),
                                  note="executor metrics: value in, the call, value out; no channel"))
    row.checks += comparison.checked
