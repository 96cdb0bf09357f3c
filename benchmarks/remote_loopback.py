"""Remote execution over loopback (issue 6): per-item round-trip latency and items/s.

A `remotemedia serve` on 127.0.0.1 (ephemeral port) runs a PassThrough node that the client's
manifest places there (it needs a CUDA GPU: the client's profile has none, the server's has one).

- Latency: one item at a time through `remotemedia run --input-file -`: write a line, wait for its
  output line. The same is measured with the node local, so the remote share is visible.
- Throughput: a run over N items read from a file; the node's items over its time in `process`
  (for the remote node: every round trip to the host), from `remotemedia run --metrics --json`.

    python3 -m benchmarks.remote_loopback [--items 20000] [--latency-items 300] [--binary PATH]

Only loopback addresses are used; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "tests" / "profiles"
START_TIMEOUT_S = 60


def default_binary() -> Path:
    explicit = os.environ.get("REMOTEMEDIA_BIN")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release" / "remotemedia"


@contextmanager
def serving(binary: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A `remotemedia serve` on an ephemeral loopback port: yields its `host:port` and process."""
    server = subprocess.Popen(
        [str(binary), "serve", "--listen", "127.0.0.1:0", "--capabilities", str(PROFILES / "cuda-8gb.json"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(server.stdout.readline()), daemon=True).start()
    try:
        first = lines.get(timeout=START_TIMEOUT_S)
        if not first.startswith("listening on "):
            raise RuntimeError(f"serve did not start: {first!r}")
        yield first.removeprefix("listening on ").strip(), server
    finally:
        server.terminate()
        server.wait(timeout=START_TIMEOUT_S)


def pass_through_manifest(host: str | None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": "echo", "node_type": "PassThroughNode"}
    if host is not None:
        node |= {"host": host, "capabilities": {"gpu": {"type": "cuda"}}}
    return {"version": "v1", "metadata": {"name": "remote-bench"}, "nodes": [node]}


def client_argv(binary: Path, manifest: Path) -> list[str]:
    return [str(binary), "run", str(manifest), "--quiet", "--capabilities", str(PROFILES / "no-gpu.json")]


def latencies(binary: Path, manifest: Path, items: int) -> list[float]:
    """Seconds from writing each input line to reading its output line, one item in flight."""
    client = subprocess.Popen(
        [*client_argv(binary, manifest), "--input-file", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    samples = []
    try:
        for number in range(items):
            started = time.perf_counter()
            client.stdin.write(f"{number}\n")
            client.stdin.flush()
            answer = client.stdout.readline()
            samples.append(time.perf_counter() - started)
            if answer.strip() != str(number):
                raise RuntimeError(f"item {number} came back as {answer!r}")
    finally:
        client.stdin.close()
        client.wait(timeout=START_TIMEOUT_S)
    return samples[min(20, items // 10) :]  # the first items include connection and warm-up


def node_seconds(binary: Path, manifest: Path, inputs: Path) -> float:
    """The node's time inside `process` over a run (from `--metrics --json`): for a remote node,
    every item's round trip to the host and back."""
    result = subprocess.run(
        [*client_argv(binary, manifest), "--input-file", str(inputs), "--output", os.devnull, "--metrics", "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    metrics = json.loads(result.stderr.strip().splitlines()[-1])
    (echo,) = [node for node in metrics["nodes"] if node["node"] == "echo"]
    return echo["process_seconds"]


def throughputs(binary: Path, manifest: Path, items: int, work: Path, repetitions: int) -> list[float]:
    """The node's items per second, once per repetition: items over its time in `process`."""
    inputs = work / "inputs.jsonl"
    inputs.write_text("".join(f"{n}\n" for n in range(items)))
    return [items / node_seconds(binary, manifest, inputs) for _ in range(repetitions)]


def describe(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered) * 1e6:.0f} µs, p90 {p90 * 1e6:.0f} µs (n={len(ordered)})"


def measure(binary: Path, items: int, latency_items: int, repetitions: int = 3) -> dict[str, list[float]]:
    """Samples by figure: latencies in seconds per item, throughputs in items/s per repetition."""
    with tempfile.TemporaryDirectory() as scratch, serving(binary) as (host, _):
        work = Path(scratch)
        remote, local = work / "remote.json", work / "local.json"
        remote.write_text(json.dumps(pass_through_manifest(host)))
        local.write_text(json.dumps(pass_through_manifest(None)))
        return {
            "remote_latency": latencies(binary, remote, latency_items),
            "local_latency": latencies(binary, local, latency_items),
            "remote_throughput": throughputs(binary, remote, items, work, repetitions),
            "local_throughput": throughputs(binary, local, items, work, repetitions),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=default_binary())
    parser.add_argument("--items", type=int, default=20_000, help="items of the throughput runs")
    parser.add_argument("--latency-items", type=int, default=300, help="items sent one at a time")
    args = parser.parse_args()
    samples = measure(args.binary, args.items, args.latency_items)
    print(f"round-trip latency per item, remote node: {describe(samples['remote_latency'])}")
    print(f"round-trip latency per item, same node local: {describe(samples['local_latency'])}")
    for where in ("remote", "local"):
        rate = statistics.median(samples[f"{where}_throughput"])
        label = "remote node" if where == "remote" else "same node local"
        print(f"throughput, {label}: {rate:,.0f} items/s (median of 3 runs of {args.items} items)")


if __name__ == "__main__":
    main()
