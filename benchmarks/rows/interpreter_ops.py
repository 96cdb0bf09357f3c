"""The compute gap broken down: single Python operations timed in RustPython and in CPython."""

from __future__ import annotations

import json

from benchmarks.context import Bench
from benchmarks.measure import Contender, ProcessSample, compare, pairwise, stats
from benchmarks.results import Figure, Row

SPEC = {"name": "op_costs"}


def run(bench: Bench) -> Row:
    iterations = bench.sizes.op_iterations
    row = Row("interpreter_ops", "Breakdown: single Python operations, RustPython ÷ CPython",
              f"`OpCostsNode` (benchmarks/nodes/bench_nodes.py) times each operation {iterations:,} times in a loop "
              "(best of 3, the empty loop's cost taken off) inside whichever interpreter runs it: the binary's "
              "RustPython engine, and CPython. The operations are those of the resampler's inner loop (row 4) and "
              "of glue code; the ratio per operation says where the compute-heavy gap comes from. The outputs "
              "are the timings themselves, so they are not compared; each figure is RustPython's time ÷ "
              "CPython's, run by run.")
    inputs = bench.inputs("op-costs", [iterations])
    binary = bench.binary_run("RustPython", SPEC, inputs)
    cpython = bench.cpython_run("CPython", "loop", SPEC, inputs)
    for contender in (binary, cpython):
        contender.figures = _reader(contender)
    comparison = compare([binary, cpython], bench.sizes.repetitions, progress=bench.log, outputs_are_timings=True)
    runs_binary, runs_cpython = comparison.runs[binary.name], comparison.runs[cpython.name]
    for operation in runs_binary[0].extra:
        ratio = pairwise([run.extra[operation] for run in runs_binary], [run.extra[operation] for run in runs_cpython],
                         lambda rustpython, cpython_ns: rustpython / cpython_ns if cpython_ns > 0 else float("inf"))
        cpython_ns = stats(run.extra[operation] for run in runs_cpython).median
        rustpython_ns = stats(run.extra[operation] for run in runs_binary).median
        row.figures.append(Figure(operation, "×", ratio,
                                  note=f"{rustpython_ns:.0f} ns in RustPython, {cpython_ns:.0f} ns in CPython"))
    return row


def _reader(contender: Contender):
    def figures(_: ProcessSample) -> dict[str, float]:
        with open(contender.output, encoding="utf-8") as lines:
            return {key: float(value) for key, value in json.loads(lines.readline()).items()}

    return figures
