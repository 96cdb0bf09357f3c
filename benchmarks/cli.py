"""`python3 -m benchmarks`: build once, run every row, print the table, write results.md/.json."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import build, machine, report, settings
from benchmarks.context import BENCH_NODES, Bench
from benchmarks.measure import BenchError
from benchmarks.results import Row

REPO = Path(__file__).resolve().parent.parent

ROW_GROUPS = ("cold_start", "glue", "node_overhead", "compute", "interpreter_ops", "parallel", "arrays", "validation",
              "remote", "transcription", "isolation")
"""Selectable with --rows; `glue` also gives the peak-memory row, `validation` the micro-benchmarks."""

ORDER = ("cold_start", "glue_throughput", "node_overhead", "compute_heavy", "parallel_stages", "array_passing",
         "peak_memory", "validation", "remote_loopback", "remote_soak", "transcription", "isolation_overhead",
         "isolation_arrays", "interpreter_ops", "micro")
"""Issue 7's numbering, then issue 6's, issue 14's and issue 17's figures, then the breakdowns: interpreter operations,
criterion."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 -m benchmarks",
        description="Build the release artefacts once, then measure the runtime against CPython side by side "
                    "and write benchmarks/results.md and results.json.")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one repetition: a smoke test of the bench itself (results go to "
                             "the target directory, not benchmarks/, unless --out is given)")
    parser.add_argument("--rows", default=",".join(ROW_GROUPS),
                        help=f"comma-separated row groups to run (default: all of {', '.join(ROW_GROUPS)})")
    parser.add_argument("--out", type=Path, help="directory for results.md and results.json")
    parser.add_argument("--no-build", action="store_true",
                        help="use the already built binary ($REMOTEMEDIA_BIN or target/release/remotemedia); "
                             "the criterion rows are then skipped")
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch directory (manifests, outputs)")
    parser.add_argument("--reps", type=int, help="timed repetitions per contender")
    parser.add_argument("--cold-start-reps", type=int, help="timed repetitions of the cold-start row")
    parser.add_argument("--glue-items", type=int, help="items through the glue pipeline")
    parser.add_argument("--overhead-items", type=int, help="items through the chains of the per-node overhead row")
    parser.add_argument("--audio-seconds", type=int, help="seconds of audio for the compute-heavy row")
    parser.add_argument("--criterion-seconds", type=float, help="measurement time of each criterion benchmark")
    parser.add_argument("--soak-runs", type=int, help="sequential client runs against one server (remote row)")
    parser.add_argument("--transcribe-seconds", type=int, help="seconds of speech for the transcription row")
    args = parser.parse_args(argv)
    args.rows = [name.strip() for name in args.rows.split(",") if name.strip()]
    unknown = set(args.rows) - set(ROW_GROUPS)
    if unknown:
        parser.error(f"unknown row group(s) {', '.join(sorted(unknown))}; choose from {', '.join(ROW_GROUPS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The parent writes the manifests with the SDK, so it needs what the children get on PYTHONPATH.
    for path in (REPO / "python", BENCH_NODES):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    sizes = settings.sizes(args.quick, repetitions=args.reps, cold_start_repetitions=args.cold_start_reps,
                           glue_items=args.glue_items, overhead_items=args.overhead_items,
                           audio_seconds=args.audio_seconds, criterion_seconds=args.criterion_seconds,
                           soak_runs=args.soak_runs, transcribe_seconds=args.transcribe_seconds)
    if args.no_build and "validation" in args.rows:
        args.rows.remove("validation")
        print("--no-build: skipping the criterion rows (validation, micro-benchmarks)", file=sys.stderr)
    out = args.out or (build.target_dir(REPO) / "bench-quick" if args.quick else Path(__file__).parent)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="remotemedia-bench-"))
    try:
        return _run(args, sizes, work, out, started)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep_work:
            print(f"scratch directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, sizes: settings.Sizes, work: Path, out: Path, started: float) -> int:
    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    machine_description = machine.describe()
    build_started = time.monotonic()
    if args.no_build:
        binary = Path(os.environ.get("REMOTEMEDIA_BIN") or build.target_dir(REPO) / "release" / "remotemedia")
        artefacts = build.existing(binary, work)
    else:
        artefacts = build.build(REPO, work, with_criterion="validation" in args.rows, log=log)
    build_seconds = time.monotonic() - build_started
    bench = Bench(REPO, artefacts.binary, work, sizes, log, bench_executables=artefacts.bench_executables)

    rows: list[Row] = []
    failed = False
    for group in args.rows:
        log(f"row group {group}")
        try:
            produced = _ROWS[group](bench)
        except BenchError as error:
            failed = True
            log(f"row group {group} FAILED: {error}")
            rows.append(Row(group, group, "", error=str(error)))
            continue
        except Exception as error:  # a bug in the bench itself: say where, keep the other rows
            failed = True
            traceback.print_exc()
            rows.append(Row(group, group, "", error=f"{type(error).__name__}: {error}"))
            continue
        rows.extend(produced if isinstance(produced, list) else [produced])
    rows.sort(key=lambda row: ORDER.index(row.key) if row.key in ORDER else len(ORDER))

    elapsed = time.monotonic() - started
    machine_description["load_average_at_end"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    header = {
        "command": "make bench" if argv_is_default(args) else "python3 -m benchmarks " + " ".join(sys.argv[1:]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_seconds": round(elapsed, 1),
        "build_seconds": None if args.no_build else round(build_seconds, 1),
        "quick": args.quick,
        "machine": machine_description,
        "settings": {key: value for key, value in vars(sizes).items()},
    }
    print(report.terminal_table(rows))
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(out / "results.json", header, rows)
    report.write_markdown(out / "results.md", header, rows)
    log(f"wrote {out / 'results.md'} and results.json in {elapsed / 60:.1f} min")
    return 1 if failed else 0


def argv_is_default(args: argparse.Namespace) -> bool:
    return not args.quick and list(args.rows) == list(ROW_GROUPS) and len(sys.argv) <= 1


def _lazy(module: str) -> Callable[[Bench], Row | list[Row]]:
    def run(bench: Bench) -> Row | list[Row]:
        import importlib

        return importlib.import_module(f"benchmarks.rows.{module}").run(bench)

    return run


_ROWS: dict[str, Callable[[Bench], Row | list[Row]]] = {
    "cold_start": _lazy("cold_start"),
    "glue": _lazy("glue"),
    "node_overhead": _lazy("node_overhead"),
    "compute": _lazy("compute"),
    "interpreter_ops": _lazy("interpreter_ops"),
    "parallel": _lazy("parallel"),
    "arrays": _lazy("arrays"),
    "validation": _lazy("validation"),
    "remote": _lazy("remote"),
    "transcription": _lazy("transcription"),
    "isolation": _lazy("isolation"),
}
