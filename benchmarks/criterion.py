"""Running the criterion micro-benchmarks (crates/runtime/benches) and reading their samples."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.context import Bench
from benchmarks.measure import BenchError, Stats, run_process, stats


def run(bench: Bench, executable: Path) -> dict[str, Stats]:
    """Run one criterion bench executable; seconds per iteration of each of its benchmarks, by id.

    Results go to a directory of this bench run (`CRITERION_HOME`), so nothing from an earlier
    run is ever read back.
    """
    home = bench.work / "criterion" / executable.name
    env = bench.child_env()
    env["CRITERION_HOME"] = str(home)
    seconds = bench.sizes.criterion_seconds
    bench.log(f"criterion {executable.name}")
    run_process([str(executable), "--bench", "--warm-up-time", str(max(seconds / 5, 0.1)),
                 "--measurement-time", str(seconds), "--noplot"], env=env)
    results = {}
    for report in sorted(home.rglob("new/benchmark.json")):
        identity = json.loads(report.read_text(encoding="utf-8"))["full_id"]
        sample = json.loads(report.with_name("sample.json").read_text(encoding="utf-8"))
        per_iteration = zip(sample["times"], sample["iters"], strict=True)
        results[identity] = stats(nanoseconds / iterations / 1e9 for nanoseconds, iterations in per_iteration)
    if not results:
        raise BenchError(f"criterion bench {executable.name} wrote no results under {home}")
    return results
