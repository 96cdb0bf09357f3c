"""Issue 15's cluster figures — a node placed on a local Ray cluster: start-up cost and throughput."""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from benchmarks.context import Bench, streaming_time
from benchmarks.measure import BenchError, Contender, compare, pairwise, stats
from benchmarks.results import Figure, Ratio, Row

CLIENT_PROFILE = "tests/profiles/no-gpu.json"


def run(bench: Bench) -> Row:
    row = Row(
        "cluster",
        "A node placed on a Ray cluster (issue 15)",
        "The calculator example with its `double_2` node needing a CUDA GPU, which the client's profile lacks: "
        "`remotemedia run --cluster ray://…` places it on a local two-node Ray cluster (head and a worker "
        "declaring a GPU, on loopback; tests/cluster/local_ray.py), against the same manifest without the "
        "requirement, all local. Start-up: one item, whole process — the cluster run starts its Ray driver "
        "process and connects it, has Ray start the node's actor and its `serve --one-run` worker, opens the "
        "node's stream, and kills the actor at the end. The client is on the head's machine, so its driver "
        "connects to the GCS directly; `via the Ray client` reaches the head through a relay, as a client on "
        "another machine does (Ray's client server). Throughput (GCS route): "
        f"{bench.sizes.remote_items:,} items, items ÷ the run's streaming time (start-up excluded, "
        "`--metrics`).",
    )
    try:
        import ray
    except ImportError:
        row.figures.append(
            Figure(
                "cluster node",
                "s",
                status="n/a (ray not installed)",
                note="`ray` is not installed (pip install -r tests/requirements.txt)",
            )
        )
        return row
    local_ray = _local_ray(bench)
    cluster = local_ray.start(Path(tempfile.mkdtemp(prefix="rm-bench-ray-")))
    try:
        local_ray.connect(ray, cluster.address)
        local_ray.wait_for_nodes(cluster, ray)
        ray.shutdown()
        bench.log(f"Ray cluster at {cluster.address}")
        _measure(bench, row, cluster.address, local_ray.Relay(cluster.address).address)
    finally:
        cluster.stop()
    return row


def _local_ray(bench: Bench) -> ModuleType:
    path = bench.repo / "tests" / "cluster" / "local_ray.py"
    spec = importlib.util.spec_from_file_location("local_ray", path)
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _manifests(bench: Bench) -> dict[str, Path]:
    document = json.loads((bench.repo / "examples/manifests/calculator.json").read_text(encoding="utf-8"))
    paths = {}
    for side in ("cluster", "local"):
        for node in document["nodes"]:
            if node["id"] == "double_2":
                if side == "cluster":
                    node["capabilities"] = {"gpu": {"type": "cuda"}}
                else:
                    node.pop("capabilities", None)
        path = bench.work / f"cluster-{side}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        paths[side] = path
    return paths


def _measure(bench: Bench, row: Row, address: str, client_address: str) -> None:
    manifests = _manifests(bench)
    # Start-up through Ray's client server too; the route does not change the node's stream.
    sides = {1: [*manifests, "client"], bench.sizes.remote_items: list(manifests)}
    runs, streaming = {}, {}
    for count, counted in sides.items():
        inputs = bench.inputs(f"cluster-{count}", range(count))
        contenders = []
        for side in counted:
            manifest = manifests.get(side, manifests["cluster"])
            output = bench.work / f"outputs-cluster-{side}-{count}.jsonl"
            argv = [
                str(bench.binary),
                "run",
                str(manifest),
                "--quiet",
                "--capabilities",
                str(bench.repo / CLIENT_PROFILE),
                "--input-file",
                str(inputs),
                "--output",
                str(output),
                "--metrics",
                "--json",
            ]
            if side != "local":
                argv += ["--cluster", client_address if side == "client" else address]
            contenders.append(
                Contender(f"{side}, {count:,} item(s)", argv, output, bench.child_env(), figures=streaming_time)
            )
        comparison = compare(contenders, bench.sizes.repetitions, progress=bench.log)
        row.checks += comparison.checked
        runs[count] = {side: comparison.values(c.name) for side, c in zip(counted, contenders, strict=True)}
        streaming[count] = {
            side: comparison.values(c.name, "streaming_seconds") for side, c in zip(counted, contenders, strict=True)
        }
    items = bench.sizes.remote_items
    row.figures += [
        Figure("one item, whole process, node on the cluster", "s", stats(runs[1]["cluster"])),
        Figure("one item, whole process, all local", "s", stats(runs[1]["local"])),
        Figure(
            "start-up cost of placing a node on Ray",
            "s",
            pairwise(runs[1]["local"], runs[1]["cluster"], lambda local, cluster: cluster - local),
            note="cluster run − local run, one item, pair by pair; the driver connects to the GCS",
        ),
        Figure(
            "start-up cost of placing a node on Ray, via the Ray client",
            "s",
            pairwise(runs[1]["local"], runs[1]["client"], lambda local, client: client - local),
            note="as above, through Ray's client server (a client on another machine)",
        ),
        Figure(
            "throughput through the Ray-placed node",
            "items/s",
            stats(items / seconds for seconds in streaming[items]["cluster"]),
            note="streaming, start-up excluded",
        ),
        Figure(
            "throughput, all local",
            "items/s",
            stats(items / seconds for seconds in streaming[items]["local"]),
            note="streaming, start-up excluded",
        ),
    ]
    row.ratios.append(
        Ratio(
            "cluster ÷ local (streaming throughput)",
            pairwise(streaming[items]["local"], streaming[items]["cluster"], lambda local, cluster: local / cluster),
        )
    )
