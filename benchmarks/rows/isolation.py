"""Issue 17 — the cost of process isolation: per item through an isolated PassThrough node, and
arrays through the shared-memory arenas of an isolated node, 16 KB to 16 MB."""

from __future__ import annotations

from benchmarks import probes, workloads
from benchmarks.context import Bench, node_metrics
from benchmarks.measure import ProcessSample, compare, pairwise, stats
from benchmarks.results import Figure, Ratio, Row, Target
from benchmarks.rows.arrays import SIZES, _copy_seconds

FLAT_TARGET = "isolated array passing flat in size"
FLAT = 0.1
"""As the array-passing row: 16 MB adds less than a tenth of one 16 MB copy over 16 KB."""


def run(bench: Bench) -> list[Row]:
    return [_per_item(bench), _arrays(bench)]


def _per_item(bench: Bench) -> Row:
    items = bench.sizes.overhead_items // 4
    row = Row(
        "isolation_overhead",
        "Isolated PassThrough node (µs per item)",
        f"{items:,} ints through one PassThrough node (RustPython), in the runtime's process and in a worker "
        'process of its own (`"isolation": "process"`), alternately. Figures: the node\'s time inside '
        "`process` per item from the executor's metrics — for the isolated node that is the round trip "
        "over the socket pair: the item to the worker, its output back and acknowledged, the call done — "
        "and the whole run's CPU time per item (both processes; start-up included, so it is an upper "
        "bound). No target: the issue asks for the cost.",
    )
    inputs = bench.inputs(f"isolation-{items}", range(items))
    plain = workloads.chain(1)
    contenders = [
        bench.binary_run("in-process", plain, inputs, metrics=True, figures=_process_us),
        bench.binary_run("isolated", workloads.isolated(plain, "pass0"), inputs, metrics=True, figures=_process_us),
    ]
    comparison = compare(contenders, bench.sizes.repetitions, progress=bench.log)
    for contender in contenders:
        row.figures.append(
            Figure(
                f"{contender.name}: time in process per item",
                "µs",
                stats(comparison.values(contender.name, "process_us")),
            )
        )
    row.figures.append(
        Figure(
            "isolation's added time per item",
            "µs",
            pairwise(
                comparison.values("isolated", "process_us"),
                comparison.values("in-process", "process_us"),
                lambda a, b: a - b,
            ),
        )
    )
    row.figures.append(
        Figure(
            "isolation's added CPU per item (whole process tree)",
            "µs",
            pairwise(
                comparison.values("isolated", "cpu"),
                comparison.values("in-process", "cpu"),
                lambda a, b: (a - b) / items * 1e6,
            ),
        )
    )
    return row


def _arrays(bench: Bench) -> Row:
    items = bench.sizes.array_items
    row = Row(
        "isolation_arrays",
        "Arrays into an isolated node (shared memory)",
        f"{items} float32 arrays of each size, made by a RustPython node, into the CPython consumer of the "
        "array-passing row running in a worker process of its own: arrays of 64 KiB and more are born in "
        "the runtime's array pool (a memfd the worker maps read-only, once) and lent to the worker, which "
        "numpy views in place; smaller ones travel inside the message. Figure: the consumer's time in "
        "`process` per item (executor metrics). The flat target is the array-passing row's: 16 MB adds "
        f"less than {FLAT:g} of one 16 MB copy.",
    )
    bridge = probes.cpython_bridge(bench)
    if not bridge.available:
        row.figures.append(Figure("isolated CPython consumer", "s", status=bridge.status, note=bridge.reason))
        row.targets.append(Target.unavailable(FLAT_TARGET, bridge.status))
        return row
    inputs = bench.inputs("arrays", range(items))
    contenders = [
        bench.binary_run(
            f"isolated, {size}",
            workloads.isolated(workloads.arrays(size_bytes), "consume"),
            inputs,
            metrics=True,
            figures=_consumer_seconds,
        )
        for size, size_bytes in SIZES.items()
    ]
    comparison = compare(contenders, bench.sizes.repetitions, progress=bench.log, same_outputs=False)
    for size_bytes, contender in zip(SIZES.values(), contenders, strict=True):
        seconds = stats(comparison.values(contender.name, "consumer_seconds"))
        row.figures.append(
            Figure(
                contender.name,
                "s",
                seconds,
                note=f"{size_bytes / seconds.median / 1e9:.2f} GB/s" if seconds.median else None,
            )
        )
    growth = pairwise(
        comparison.values(contenders[-1].name, "consumer_seconds"),
        comparison.values(contenders[0].name, "consumer_seconds"),
        lambda big, small: big - small,
    )
    copy = stats(_copy_seconds(SIZES["16 MB"]) for _ in range(bench.sizes.repetitions))
    row.figures.append(Figure("16 MB − 16 KB (added time per item)", "s", growth))
    row.figures.append(Figure("reference: one copy of 16 MB (memcpy via bytes())", "s", copy))
    share = growth.median / copy.median
    row.ratios.append(Ratio("added time ÷ one 16 MB copy", stats([share]), note="from the medians"))
    row.targets.append(
        Target.judge(
            FLAT_TARGET,
            share < FLAT,
            f"16 MB adds {growth.median * 1e6:.0f} µs per item; one copy takes {copy.median * 1e6:.0f} µs",
        )
    )
    return row


def _process_us(sample: ProcessSample) -> dict[str, float]:
    node = node_metrics(sample)["pass0_0"]
    return {"process_us": node["process_seconds"] / node["items_in"] * 1e6}


def _consumer_seconds(sample: ProcessSample) -> dict[str, float]:
    consumer = node_metrics(sample)["consume_1"]
    return {"consumer_seconds": consumer["process_seconds"] / consumer["items_in"]}
