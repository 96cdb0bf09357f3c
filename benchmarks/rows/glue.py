"""Row 2 — glue throughput, and row 7 — peak memory, which is measured on the same runs."""

from __future__ import annotations

from benchmarks import probes, workloads
from benchmarks.context import Bench
from benchmarks.measure import compare, pairwise, run_process, stats
from benchmarks.results import Figure, Ratio, Row, Target

THROUGHPUT_TARGET = "glue throughput ≥ 5× the CPython SDK pipeline"
RSS_TARGET = "peak RSS ≤ CPython's on the same pipeline"
SIZE_TARGET = "binary ≤ 30 MB stripped"
SIZE_LIMIT = 30_000_000


def run(bench: Bench) -> list[Row]:
    items = bench.sizes.glue_items
    glue = Row("glue_throughput", f"Glue throughput: PassThrough → Calculator → PassThrough, {items:,} items",
               f"Items per second of a whole process that reads {items:,} integers (JSON Lines file), streams "
               "them through the pipeline and writes every output to a file: the binary (RustPython engine), the "
               "SDK's local CPython pipeline, `Pipeline.run()` on the Rust runtime, and a plain CPython loop "
               "calling the three nodes' `process` methods (the floor). Start-up is included (≈0.1 s, see row 1).")
    memory = Row("peak_memory", "Peak memory on the glue pipeline; binary size",
                 "Peak resident set size (kernel `ru_maxrss` of each process, from `wait4`) of the glue runs of "
                 "row 2, and the size of the release binary after `strip --strip-all`.")
    inputs = bench.inputs("glue", range(items))
    binary = bench.binary_run("binary (RustPython)", workloads.GLUE, inputs)
    sdk = bench.cpython_run("CPython SDK local pipeline", "sdk", workloads.GLUE, inputs)
    floor = bench.cpython_run("plain CPython loop (floor)", "loop", workloads.GLUE, inputs)
    runtime = probes.runtime_pipeline_run(bench)
    in_process = bench.cpython_run("Pipeline.run() on the Rust runtime", "runtime", workloads.GLUE, inputs)
    contenders = [binary, sdk, *([in_process] if runtime.available else []), floor]
    for contender in contenders:
        contender.poll_memory = True
    comparison = compare(contenders, bench.sizes.repetitions, progress=bench.log)

    wall = {name: comparison.values(name) for name in comparison.runs}
    for contender in (binary, sdk, in_process, floor):
        if contender.name in wall:
            throughput = stats(items / seconds for seconds in wall[contender.name])
            glue.figures.append(Figure(contender.name, "items/s", throughput))
        else:
            glue.figures.append(Figure(contender.name, "items/s", status=runtime.status, note=runtime.reason))
    versus_sdk = pairwise(wall[sdk.name], wall[binary.name], lambda sdk_time, binary_time: sdk_time / binary_time)
    versus_floor = pairwise(wall[floor.name], wall[binary.name],
                            lambda floor_time, binary_time: floor_time / binary_time)
    glue.ratios += [Ratio("binary ÷ CPython SDK (throughput)", versus_sdk),
                    Ratio("binary ÷ plain CPython loop (throughput)", versus_floor)]
    if in_process.name in wall:
        glue.ratios.append(Ratio("Pipeline.run() on the runtime ÷ CPython SDK (throughput)", pairwise(
            wall[sdk.name], wall[in_process.name], lambda sdk_time, runtime_time: sdk_time / runtime_time)))
    glue.targets.append(Target.judge(THROUGHPUT_TARGET, versus_sdk.median >= 5.0, f"{versus_sdk.median:.1f}×"))
    glue.checks += comparison.checked

    rss = {name: [run.max_rss_kib * 1024 for run in runs] for name, runs in comparison.runs.items()}
    for contender in (binary, sdk, in_process, floor):
        if contender.name in rss:
            memory.figures.append(Figure(contender.name, "bytes", stats(rss[contender.name])))
        else:
            memory.figures.append(Figure(contender.name, "bytes", status=runtime.status, note=runtime.reason))
    rss_ratio = pairwise(rss[binary.name], rss[sdk.name], lambda a, b: a / b)
    memory.ratios.append(Ratio("binary ÷ CPython SDK (peak RSS)", rss_ratio))
    memory.targets.append(Target.judge(RSS_TARGET, rss_ratio.median <= 1.0, f"{rss_ratio.median:.2f}× CPython's"))

    # Which kind of memory, polled from /proc during the same runs.
    for contender in (binary, sdk, in_process):
        if contender.name not in rss:
            continue
        memory.figures.append(Figure(f"{contender.name} — anonymous (heap)", "bytes",
                                     stats(comparison.values(contender.name, "rss_anonymous")),
                                     note="peak polled from /proc every 10 ms"))
        memory.figures.append(Figure(f"{contender.name} — file-backed", "bytes",
                                     stats(comparison.values(contender.name, "rss_file_backed")),
                                     note="the executable and libraries: clean pages"))

    size = stripped_size(bench)
    memory.figures.append(Figure("release binary, stripped", "bytes", stats([size]),
                                 note=f"{bench.binary.stat().st_size:,} bytes as built"))
    memory.targets.append(Target.judge(SIZE_TARGET, size <= SIZE_LIMIT, f"{size / 1e6:.1f} MB"))
    memory.checks.append("RSS figures come from the output-checked glue runs of row 2")
    return [glue, memory]


def stripped_size(bench: Bench) -> int:
    """Size of the binary with every symbol stripped (the release profile strips already; this checks)."""
    stripped = bench.work / "remotemedia.stripped"
    run_process(["strip", "--strip-all", "-o", str(stripped), str(bench.binary)])
    return stripped.stat().st_size
