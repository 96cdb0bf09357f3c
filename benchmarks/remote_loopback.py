"""Remote execution over loopback (issue 6): per-item round-trip latency and items/s.

A `remotemedia serve` on 127.0.0.1 (ephemeral port) runs a PassThrough node that the client's
manifest places there (it needs a CUDA GPU: the client's profile has none, the server's has one).

- Latency: one item at a time through `remotemedia run --input-file -`: write a line, wait for its
  output line. The same is measured with the node local, so the remote share is visible.
- Throughput: a run over N items read from a file, minus a run over 1 item (start-up), per item.

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


def run_seconds(binary: Path, manifest: Path, inputs: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [*client_argv(binary, manifest), "--input-file", str(inputs), "--output", os.devnull],
        check=True,
        timeout=600,
    )
    return time.perf_counter() - started


def throughput(binary: Path, manifest: Path, items: int, work: Path) -> float:
    """Items per second in steady state: (N items − 1 item) over the difference in wall time."""
    many, one = work / "many.jsonl", work / "one.jsonl"
    many.write_text("".join(f"{n}\n" for n in range(items)))
    one.write_text("0\n")
    bulk = statistics.median(run_seconds(binary, manifest, many) for _ in range(3))
    start_up = statistics.median(run_seconds(binary, manifest, one) for _ in range(3))
    return (items - 1) / max(bulk - start_up, 1e-9)


def describe(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered) * 1e6:.0f} µs, p90 {p90 * 1e6:.0f} µs (n={len(ordered)})"


def measure(binary: Path, items: int, latency_items: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch, serving(binary) as (host, _):
        work = Path(scratch)
        remote, local = work / "remote.json", work / "local.json"
        remote.write_text(json.dumps(pass_through_manifest(host)))
        local.write_text(json.dumps(pass_through_manifest(None)))
        remote_latency = latencies(binary, remote, latency_items)
        local_latency = latencies(binary, local, latency_items)
        print(f"round-trip latency per item, remote node: {describe(remote_latency)}")
        print(f"round-trip latency per item, same node local: {describe(local_latency)}")
        remote_rate = throughput(binary, remote, items, work)
        local_rate = throughput(binary, local, items, work)
        print(f"throughput, remote node: {remote_rate:,.0f} items/s ({items} items)")
        print(f"throughput, same node local: {local_rate:,.0f} items/s ({items} items)")
    return {
        "remote_latency_s": statistics.median(remote_latency),
        "local_latency_s": statistics.median(local_latency),
        "remote_items_per_s": remote_rate,
        "local_items_per_s": local_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=default_binary())
    parser.add_argument("--items", type=int, default=20_000, help="items of the throughput runs")
    parser.add_argument("--latency-items", type=int, default=300, help="items sent one at a time")
    args = parser.parse_args()
    measure(args.binary, args.items, args.latency_items)


if __name__ == "__main__":
    main()
