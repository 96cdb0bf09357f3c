"""Row 5 — parallel stages: two CPU-bound pure-Python stages, serial against concurrent."""

from __future__ import annotations

import shlex

from benchmarks import workloads
from benchmarks.context import Bench, streaming_time
from benchmarks.measure import Contender, compare, pairwise, stats
from benchmarks.results import Figure, Ratio, Row, Target

TARGET = "parallel stages ≥ 1.6× serial on 2 cores (binary)"


def run(bench: Bench) -> Row:
    items, rounds = bench.sizes.parallel_items, bench.sizes.parallel_rounds
    row = Row("parallel_stages", "Parallel stages: two CPU-bound pure-Python stages",
              f"{items} items through CPU-bound pure-Python work ({2 * rounds:,} steps of integer arithmetic per "
              "item, `benchmarks/nodes/bench_nodes.py`), either as ONE node doing all of it (serial) or as TWO "
              f"nodes of {rounds:,} steps each (concurrent stages on two threads). Speed-up = serial time ÷ "
              "concurrent time, run by run (whole-process wall time). The stage node declares a CPU core "
              "(`get_capabilities()`), as a CPU-bound node should, so the binary runs each stage in an embedded "
              "RustPython interpreter of its own (no GIL, no Python object shared between the stages); the "
              "SDK's local run is held to one core by CPython's GIL. For comparison, the binary also runs the "
              "same manifests with `--interpreters shared` (both stages in one interpreter, sharing its "
              "modules and objects). The binary also times its streaming phase apart from start-up (`--metrics`: "
              "from every node initialized to every node flushed), which gives the throughput speed-up. Last, "
              "the machine's ceiling at that moment: two serial binary runs at once against one (other people's "
              "load on the shared cores lowers it below 2).")
    inputs = bench.inputs("parallel", range(items))
    serial, concurrent = workloads.cpu_stages(1, 2 * rounds), workloads.cpu_stages(2, rounds)
    sides = {
        "binary": lambda name, spec: bench.binary_run(name, spec, inputs, metrics=True, figures=streaming_time),
        "binary, one shared interpreter": lambda name, spec: bench.binary_run(
            name, spec, inputs, "--interpreters", "shared", metrics=True, figures=streaming_time),
        "CPython SDK": lambda name, spec: bench.cpython_run(name, "sdk", spec, inputs),
    }
    contenders = []
    for side, make in sides.items():
        contenders += [make(f"{side}, serial (1 node)", serial), make(f"{side}, concurrent (2 nodes)", concurrent)]
    ceiling = _two_at_once(contenders[0], "machine: two serial binary runs at once")
    contenders.append(ceiling)
    comparison = compare(contenders, bench.sizes.repetitions, progress=bench.log)

    wall = {contender.name: comparison.values(contender.name) for contender in contenders}
    cpu = {contender.name: comparison.values(contender.name, "cpu") for contender in contenders}
    for contender in contenders:
        utilisation = stats(c / w for c, w in zip(cpu[contender.name], wall[contender.name], strict=True)).median
        row.figures.append(Figure(contender.name, "s", stats(wall[contender.name]),
                                  note=f"CPU ÷ wall {utilisation:.2f}"))
    speedups = {}
    for side in sides:
        speedups[side] = pairwise(wall[f"{side}, serial (1 node)"], wall[f"{side}, concurrent (2 nodes)"],
                                  _speed_up)
        row.ratios.append(Ratio(f"{side}: serial ÷ concurrent (speed-up)", speedups[side]))
    streaming = pairwise(comparison.values("binary, serial (1 node)", "streaming_seconds"),
                         comparison.values("binary, concurrent (2 nodes)", "streaming_seconds"),
                         _speed_up)
    row.ratios.append(Ratio("binary, streaming only: serial ÷ concurrent", streaming))
    machine = pairwise(wall["binary, serial (1 node)"], wall[ceiling.name], lambda one, two: 2 * one / two)
    row.ratios.append(Ratio("machine ceiling: 2 × one run ÷ two at once", machine))
    binary_speedup = speedups["binary"].median
    row.targets.append(Target.judge(TARGET, binary_speedup >= 1.6,
                                    f"{binary_speedup:.2f}× whole process ({streaming.median:.2f}× streaming); "
                                    f"the machine's ceiling then: {machine.median:.2f}×"))
    row.checks += comparison.checked
    return row


def _speed_up(serial_time: float, concurrent_time: float) -> float:
    return serial_time / concurrent_time


def _two_at_once(single: Contender, name: str) -> Contender:
    """The same command twice, concurrently, as one contender (its first copy's output is checked)."""
    second = [argument if argument != str(single.output) else f"{single.output}.second" for argument in single.argv]
    first = [argument if argument != str(single.output) else f"{single.output}.first" for argument in single.argv]
    script = f"{shlex.join(first)} & first=$!; {shlex.join(second)} && wait $first"
    return Contender(name, ["sh", "-c", script], single.output.with_name(single.output.name + ".first"),
                     single.env)
