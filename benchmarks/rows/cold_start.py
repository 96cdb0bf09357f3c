"""Row 1 — cold start: the binary against a fresh CPython, one item through a 3-node pipeline."""

from __future__ import annotations

import re

from benchmarks import workloads
from benchmarks.context import Bench
from benchmarks.measure import BenchError, Contender, compare, pairwise, run_process, stats
from benchmarks.results import Figure, Ratio, Row, Target

TARGET = "cold start ≤ CPython's"


def run(bench: Bench) -> Row:
    row = Row("cold_start", "Cold start: 3-node pure-Python pipeline, one item",
              "Wall time of a whole process, spawn to exit: `remotemedia run` on the glue manifest "
              "(PassThrough → Calculator → PassThrough, RustPython engine) with one input line, against a "
              "fresh `python3` that builds the same pipeline with the SDK and runs it locally on the same "
              "input. Both read the input from a file and write the output to a file. CPython runs with its "
              "bytecode cache warm, as an installed package would.")
    inputs = bench.inputs("cold-start", [7])
    binary = bench.binary_run("binary (RustPython)", workloads.GLUE, inputs)
    cpython = bench.cpython_run("CPython SDK (fresh python3)", "sdk", workloads.GLUE, inputs)
    comparison = compare([binary, cpython], bench.sizes.cold_start_repetitions, progress=bench.log)
    binary_times = comparison.values(binary.name)
    cpython_times = comparison.values(cpython.name)
    row.figures += [Figure(binary.name, "s", stats(binary_times)), Figure(cpython.name, "s", stats(cpython_times))]

    # What a process of this binary costs before any pipeline work: the floor of its cold start.
    bench.log("binary --version")
    bare = [run_process([str(bench.binary), "--version"]).wall for _ in range(bench.sizes.cold_start_repetitions)]
    row.figures.append(Figure("binary, process alone (`--version`)", "s", stats(bare),
                              note="start-up floor: loading the executable, no interpreter"))

    # Of the binary's cold start, what building the interpreter and importing the SDK takes (the
    # engine logs it); separate runs, since logging at debug level is not what users run.
    startups = [_interpreter_startup(bench, binary) for _ in range(bench.sizes.cold_start_repetitions)]
    row.figures.append(Figure("of which RustPython interpreter start-up", "s", stats(startups),
                              note="engine-reported: build the interpreter, import the frozen SDK"))

    ratio = pairwise(binary_times, cpython_times, lambda a, b: a / b)
    row.ratios.append(Ratio("binary ÷ CPython (time; < 1 is faster)", ratio))
    row.targets.append(Target.judge(TARGET, ratio.median <= 1.0, f"{ratio.median:.2f}× CPython's time"))
    row.checks += comparison.checked
    return row


def _interpreter_startup(bench: Bench, binary: Contender) -> float:
    env = {**(binary.env or {}), "RUST_LOG": "remotemedia_rustpython=debug", "NO_COLOR": "1"}
    stderr = run_process(binary.argv, env=env).stderr
    logged = re.search(r"startup_ms=([0-9.]+)", re.sub(r"\x1b\[[0-9;]*m", "", stderr))
    if logged is None:
        raise BenchError(f"the RustPython engine logged no start-up time:\n{stderr[-2000:]}")
    return float(logged.group(1)) / 1e3
