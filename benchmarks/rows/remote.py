"""Issue 6's figures — a node on a `remotemedia serve` over loopback: latency, throughput, memory."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import probes, workloads
from benchmarks.context import Bench, node_metrics
from benchmarks.measure import BenchError, Contender, ProcessSample, compare, pairwise, run_process, stats
from benchmarks.results import Figure, Ratio, Row

START_TIMEOUT_S = 60.0
SERVER_PROFILE = "tests/profiles/cuda-8gb.json"
CLIENT_PROFILE = "tests/profiles/no-gpu.json"
"""The node needs a CUDA GPU: the client's profile has none, the server's has one, so placement
sends the node to the server (the machine itself has no GPU either way)."""


def run(bench: Bench) -> list[Row]:
    row = Row("remote_loopback", "Remote node over loopback (issue 6)",
              "A PassThrough node placed on a `remotemedia serve` on 127.0.0.1 (it needs a CUDA GPU, which the "
              "client's profile lacks and the server's has), against the same node run locally by the same "
              "client command. Latency: one item at a time through `remotemedia run --input-file -` — write a "
              "line, wait for its output line — the first items (connection, warm-up) left out. Throughput: "
              f"{bench.sizes.remote_items:,} items from a file, whole process, and the node's own rate from the "
              "client's metrics; and both on one item (a client whose only node is remote starts no interpreter, "
              "but connects and opens the node's stream).")
    soak = Row("remote_soak", "Server memory over sequential runs (issue 6)",
               f"One `remotemedia serve`, {bench.sizes.soak_runs:,} client runs in a row of the calculator example "
               "with its two middle nodes placed on the server (each run opens and closes two node streams); the "
               "server's resident memory (/proc VmRSS) after the warm-up runs and at the end.")
    serve = probes.remote_serve(bench)
    if not serve.available:
        for target in (row, soak):
            target.figures.append(Figure("remote node", "s", status=serve.status, note=serve.reason))
        return [row, soak]
    with serving(bench) as (host, server):
        _latency_and_throughput(bench, row, host)
        _soak(bench, soak, host, server.pid)
    return [row, soak]


@contextmanager
def serving(bench: Bench) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A `remotemedia serve` on an ephemeral loopback port: its `host:port` and process."""
    server = subprocess.Popen([str(bench.binary), "serve", "--listen", "127.0.0.1:0", "--capabilities",
                               str(bench.repo / SERVER_PROFILE)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=bench.child_env())
    first_line: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: first_line.put(server.stdout.readline() if server.stdout else ""),
                     daemon=True).start()
    try:
        try:
            line = first_line.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            line = ""
        if not line.startswith("listening on "):
            raise BenchError(f"`remotemedia serve` did not start: {line!r}")
        bench.log(f"serving on {line.removeprefix('listening on ').strip()}")
        yield line.removeprefix("listening on ").strip(), server
    finally:
        server.terminate()
        try:
            server.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _manifest(bench: Bench, host: str | None) -> Path:
    document = json.loads(bench.manifest(workloads.chain(1)).read_text(encoding="utf-8"))
    if host is not None:
        for node in document["nodes"]:
            node["host"] = host
            node["capabilities"] = {"gpu": {"type": "cuda"}}
    path = bench.work / f"remote-{'placed' if host else 'local'}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _client(bench: Bench, manifest: Path) -> list[str]:
    return [str(bench.binary), "run", str(manifest), "--quiet", "--capabilities", str(bench.repo / CLIENT_PROFILE)]


def _latency_and_throughput(bench: Bench, row: Row, host: str) -> None:
    manifests = {"remote": _manifest(bench, host), "local": _manifest(bench, None)}
    latencies: dict[str, list[float]] = {side: [] for side in manifests}
    for repetition in range(bench.sizes.repetitions):
        for side, manifest in manifests.items():
            bench.log(f"latency, {side} node: run {repetition + 1}/{bench.sizes.repetitions}")
            latencies[side] += _one_at_a_time(bench, manifest, bench.sizes.remote_latency_items)
    row.figures += [Figure("round-trip latency per item, remote node", "s", stats(latencies["remote"])),
                    Figure("round-trip latency per item, same node local", "s", stats(latencies["local"]))]

    runs, node_rates = {}, {}
    for count in (bench.sizes.remote_items, 1):
        inputs = bench.inputs(f"remote-{count}", range(count))
        contenders = [Contender(f"{side} node, {count:,} item(s)",
                                [*_client(bench, manifest), "--input-file", str(inputs), "--output",
                                 str(bench.work / f"outputs-remote-{side}-{count}.jsonl"), "--metrics", "--json"],
                                bench.work / f"outputs-remote-{side}-{count}.jsonl", bench.child_env(),
                                figures=_node_rate)
                      for side, manifest in manifests.items()]
        comparison = compare(contenders, bench.sizes.repetitions, progress=bench.log)
        row.checks += comparison.checked
        pairs = list(zip(manifests, contenders, strict=True))
        runs[count] = {side: comparison.values(contender.name) for side, contender in pairs}
        node_rates[count] = {side: comparison.values(contender.name, "node_items_per_second")
                             for side, contender in pairs}
    items = bench.sizes.remote_items
    for side in manifests:
        row.figures.append(Figure(f"throughput, {side} node", "items/s",
                                  stats(items / seconds for seconds in runs[items][side]),
                                  note="whole process, start-up included"))
    for side in manifests:
        row.figures.append(Figure(f"the node's items/s, {side}", "items/s", stats(node_rates[items][side]),
                                  note="items ÷ the node's time inside `process` (client-side metrics)"))
    row.ratios.append(Ratio("remote ÷ local (throughput)", pairwise(
        runs[items]["local"], runs[items]["remote"], lambda local, remote: local / remote)))
    for side in manifests:
        note = ("connects, opens the node's stream; no interpreter starts in the client" if side == "remote"
                else "starts the embedded interpreter")
        row.figures.append(Figure(f"one item, whole process, {side} node", "s", stats(runs[1][side]), note=note))


def _node_rate(sample: ProcessSample) -> dict[str, float]:
    (node,) = node_metrics(sample).values()
    return {"node_items_per_second": node["items_in"] / max(node["process_seconds"], 1e-9)}


def _one_at_a_time(bench: Bench, manifest: Path, items: int) -> list[float]:
    """Seconds from writing each input line to reading its output line, one item in flight; the
    answers are checked (each item comes back unchanged) and the first tenth is warm-up."""
    client = subprocess.Popen([*_client(bench, manifest), "--input-file", "-"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                              env=bench.child_env())
    assert client.stdin is not None and client.stdout is not None
    samples = []
    try:
        for number in range(items):
            started = time.perf_counter()
            client.stdin.write(f"{number}\n")
            client.stdin.flush()
            answer = client.stdout.readline()
            samples.append(time.perf_counter() - started)
            if answer.strip() != str(number):
                raise BenchError(f"item {number} came back as {answer!r} through {manifest.name}")
    finally:
        client.stdin.close()
        client.wait(timeout=START_TIMEOUT_S)
    if client.returncode != 0:
        raise BenchError(f"the client of {manifest.name} exited with {client.returncode}")
    return samples[max(1, items // 10):]


def _soak(bench: Bench, row: Row, host: str, server_pid: int) -> None:
    runs, warm_up = bench.sizes.soak_runs, min(10, bench.sizes.soak_runs)
    document: dict[str, Any] = json.loads((bench.repo / "examples/manifests/calculator.json").read_text())
    for node in document["nodes"][1:3]:
        node |= {"host": host, "capabilities": {"gpu": {"type": "cuda"}}}
    manifest = bench.work / "remote-soak.json"
    manifest.write_text(json.dumps(document), encoding="utf-8")
    argv = [*_client(bench, manifest), "--input", "1", "--input", "2", "--input", "3"]
    expected = run_process(argv, env=bench.child_env()).stdout
    after_warm_up = 0
    for number in range(1, runs + 1):
        output = run_process(argv, env=bench.child_env()).stdout
        if output != expected:
            raise BenchError(f"soak run {number} gave {output!r}, the first gave {expected!r}")
        if number == warm_up:
            after_warm_up = _rss(server_pid)
        if number % 100 == 0:
            bench.log(f"soak: {number}/{runs} runs")
    final = _rss(server_pid)
    row.figures += [Figure(f"server RSS after {warm_up} runs (warm-up)", "bytes", stats([after_warm_up])),
                    Figure(f"server RSS after {runs:,} runs", "bytes", stats([final])),
                    Figure("growth per 100 runs after the warm-up", "bytes",
                           stats([(final - after_warm_up) / max(runs - warm_up, 1) * 100]))]
    row.checks.append(f"every one of the {runs:,} runs gave the first run's outputs")


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024.0
    raise BenchError(f"no resident memory figure for the server (pid {pid})")
