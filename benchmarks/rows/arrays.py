"""Row 6 — array passing through the CPython bridge, 16 KB to 16 MB."""

from __future__ import annotations

from benchmarks import probes, workloads
from benchmarks.context import Bench, node_metrics
from benchmarks.measure import ProcessSample, compare, pairwise, stats
from benchmarks.results import Figure, Ratio, Row, Target

TARGET = "array passing flat in size (zero-copy)"
FLAT = 0.1
"""Flat means: going from 16 KB to 16 MB adds less than a tenth of what copying 16 MB once costs on
this machine (measured in the same run), i.e. the buffer is not copied on its way in."""
SIZES = {"16 KB": 16 * 1024, "256 KB": 256 * 1024, "4 MB": 4 * 1024 * 1024, "16 MB": 16 * 1024 * 1024}


def run(bench: Bench) -> Row:
    items = bench.sizes.array_items
    row = Row("array_passing", "Array passing through the CPython bridge",
              f"{items} float32 arrays of each size, made by a RustPython node, cross into a node on the CPython "
              "bridge (`ArrayConsumeNode`, benchmarks/nodes/bench_nodes.py), which reads one element and emits "
              "the length. Figure: that node's time inside `process` per item (executor metrics: the value's "
              "way into CPython, as a numpy array when numpy is installed, and the call). The outputs are "
              "checked against the SDK's local CPython run of the same pipeline. Flat (zero-copy) means the "
              f"16 MB item costs less than {FLAT:g} of one 16 MB copy more than the 16 KB item, the copy timed "
              "here in the same run.")
    bridge = probes.cpython_bridge(bench)
    if not bridge.available:
        for size in SIZES:
            row.figures.append(Figure(f"CPython bridge, {size}", "s", status=bridge.status, note=bridge.reason))
        row.targets.append(Target.unavailable(TARGET, bridge.status))
        return row
    inputs = bench.inputs("arrays", range(items))
    contenders = [bench.binary_run(f"CPython bridge, {size}", workloads.arrays(size_bytes), inputs, metrics=True,
                                   figures=_consumer_time) for size, size_bytes in SIZES.items()]
    # The same pipeline in the SDK's local run gives the outputs the bridge must reproduce.
    for (size, size_bytes), contender in zip(SIZES.items(), contenders, strict=True):
        reference = bench.cpython_run(f"CPython SDK, {size}", "sdk", workloads.arrays(size_bytes), inputs)
        row.checks += compare([contender, reference], 0, progress=bench.log).checked
    comparison = compare(contenders, bench.sizes.repetitions, progress=bench.log, same_outputs=False)
    for contender in contenders:
        row.figures.append(Figure(contender.name, "s", stats(comparison.values(contender.name, "consumer_seconds"))))
    growth = pairwise(comparison.values(contenders[-1].name, "consumer_seconds"),
                      comparison.values(contenders[0].name, "consumer_seconds"), lambda big, small: big - small)
    copy = stats(_copy_seconds(SIZES["16 MB"]) for _ in range(bench.sizes.repetitions))
    row.figures.append(Figure("16 MB − 16 KB (added time per item)", "s", growth))
    row.figures.append(Figure("reference: one copy of 16 MB (memcpy via bytes())", "s", copy))
    share = growth.median / copy.median
    row.ratios.append(Ratio("added time ÷ one 16 MB copy", stats([share]), note="from the medians"))
    row.targets.append(Target.judge(TARGET, share < FLAT,
                                    f"16 MB adds {growth.median * 1e6:.0f} µs per item; one copy takes "
                                    f"{copy.median * 1e6:.0f} µs"))
    return row


def _copy_seconds(size: int, tries: int = 5) -> float:
    """The best of `tries` copies of a `size`-byte buffer, touched first so no page fault is timed."""
    import time

    source = bytearray(size)
    bytes(source)
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        bytes(source)
        best = min(best, time.perf_counter() - started)
    return best


def _consumer_time(sample: ProcessSample) -> dict[str, float]:
    consumer = node_metrics(sample)["consume_1"]
    return {"consumer_seconds": consumer["process_seconds"] / consumer["items_in"]}
