"""Row 5 — parallel stages: two CPU-bound pure-Python stages, serial against concurrent."""

from __future__ import annotations

from benchmarks import workloads
from benchmarks.context import Bench
from benchmarks.measure import compare, pairwise, stats
from benchmarks.results import Figure, Ratio, Row, Target

TARGET = "parallel stages ≥ 1.6× serial on 2 cores (binary)"


def run(bench: Bench) -> Row:
    items, rounds = bench.sizes.parallel_items, bench.sizes.parallel_rounds
    row = Row("parallel_stages", "Parallel stages: two CPU-bound pure-Python stages",
              f"{items} items through CPU-bound pure-Python work ({2 * rounds:,} steps of integer arithmetic per "
              f"item, `benchmarks/nodes/bench_nodes.py`), either as ONE node doing all of it (serial) or as TWO "
              f"nodes of {rounds:,} steps each (concurrent stages, which the runtime runs on two threads). "
              "Speed-up = serial time ÷ concurrent time, run by run (whole-process wall time). In the binary "
              "the RustPython engine has no GIL; the SDK's local run is held to one core by CPython's GIL.")
    inputs = bench.inputs("parallel", range(items))
    serial, concurrent = workloads.cpu_stages(1, 2 * rounds), workloads.cpu_stages(2, rounds)
    contenders = [bench.binary_run("binary, serial (1 node)", serial, inputs),
                  bench.binary_run("binary, concurrent (2 nodes)", concurrent, inputs),
                  bench.cpython_run("CPython SDK, serial (1 node)", "sdk", serial, inputs),
                  bench.cpython_run("CPython SDK, concurrent (2 nodes)", "sdk", concurrent, inputs)]
    comparison = compare(contenders, bench.sizes.repetitions, progress=bench.log)
    wall = {contender.name: comparison.values(contender.name) for contender in contenders}
    for contender in contenders:
        row.figures.append(Figure(contender.name, "s", stats(wall[contender.name])))
    speedups = {}
    for side in ("binary", "CPython SDK"):
        speedups[side] = pairwise(wall[f"{side}, serial (1 node)"], wall[f"{side}, concurrent (2 nodes)"],
                                  lambda serial_time, concurrent_time: serial_time / concurrent_time)
        row.ratios.append(Ratio(f"{side}: serial ÷ concurrent (speed-up)", speedups[side]))
    binary_speedup = speedups["binary"].median
    row.targets.append(Target.judge(TARGET, binary_speedup >= 1.6, f"{binary_speedup:.2f}×"))
    row.checks += comparison.checked
    return row
