"""Server memory over many runs (issue 6): RSS of one `remotemedia serve` across sequential client runs.

Each run is a `remotemedia run` whose two middle nodes (of four) are placed on the server, over a
few items, so every run opens and closes two node streams. The server's resident memory is read
from /proc after the first runs (warm-up: the interpreter imports the nodes' modules) and then at
intervals; flat means the growth after warm-up is noise, not a leak per run.

    python3 -m benchmarks.remote_soak [--runs 1000] [--binary PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.remote_loopback import REPO, client_argv, default_binary, serving

WARM_UP_RUNS = 10


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def soak(binary: Path, runs: int) -> list[tuple[int, int]]:
    """(runs done, server RSS in KiB) at the checkpoints."""
    checkpoints = sorted({1, WARM_UP_RUNS, *range(100, runs + 1, 100), runs})
    samples: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory() as scratch, serving(binary) as (host, server):
        manifest = json.loads((REPO / "examples" / "manifests" / "calculator.json").read_text())
        for node in manifest["nodes"][1:3]:
            node |= {"host": host, "capabilities": {"gpu": {"type": "cuda"}}}
        path = Path(scratch) / "remote.json"
        path.write_text(json.dumps(manifest))
        inputs = [arg for n in range(5) for arg in ("--input", str(n))]
        expected = [str(((n + 5) * 2) ** 2) for n in range(5)]
        started = time.perf_counter()
        for run in range(1, runs + 1):
            result = subprocess.run([*client_argv(binary, path), *inputs], capture_output=True, text=True, timeout=60)
            if result.returncode != 0 or result.stdout.split() != expected:
                raise RuntimeError(f"run {run} failed: {result.stderr}")
            if run in checkpoints:
                samples.append((run, rss_kib(server.pid)))
                print(f"after {run:5} runs: server RSS {samples[-1][1] / 1024:7.1f} MiB", flush=True)
        elapsed = time.perf_counter() - started
    warm = dict(samples)[WARM_UP_RUNS]
    print(
        f"{runs} runs in {elapsed:.0f} s; RSS after warm-up {warm / 1024:.1f} MiB, at the end "
        f"{samples[-1][1] / 1024:.1f} MiB ({(samples[-1][1] - warm) / 1024:+.1f} MiB)"
    )
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=default_binary())
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    if args.runs < WARM_UP_RUNS:
        parser.error(f"--runs must be at least {WARM_UP_RUNS}")
    soak(args.binary, args.runs)


if __name__ == "__main__":
    main()
