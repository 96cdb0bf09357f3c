"""Nodes placed on a real Ray cluster: outputs, what runs where, lifecycle and failures.

The client plans for a machine without a GPU (tests/profiles/no-gpu.json), so a node that needs a
CUDA GPU goes to the cluster, whose worker declares one; nothing needs a real GPU.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
NO_GPU = REPO_ROOT / "tests" / "profiles" / "no-gpu.json"
# Bounds, not expectations: connecting a Ray client and starting an actor take seconds each.
RUN_TIMEOUT_S = 180
GPU_NODE = "double_2"


def calculator(capabilities: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """The calculator example, with `capabilities` and `fields` set on its `double_2` node."""
    document = json.loads((REPO_ROOT / "examples" / "manifests" / "calculator.json").read_text())
    for node in document["nodes"]:
        if node["id"] == GPU_NODE:
            if capabilities is not None:
                node["capabilities"] = capabilities
            node.update(fields)
    return document


@pytest.fixture
def manifest(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(document: dict[str, Any]) -> Path:
        path = tmp_path / f"manifest-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    return write


def start_run(
    remotemedia_bin: Path, binary_env: Callable[..., dict[str, str]], path: Path, address: str
) -> subprocess.Popen[str]:
    """`remotemedia run` reading its inputs from a pipe, one line at a time."""
    return subprocess.Popen(
        [
            str(remotemedia_bin),
            "run",
            str(path),
            "--input-file",
            "-",
            "--capabilities",
            str(NO_GPU),
            "--cluster",
            address,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=binary_env({"RUST_LOG": "remotemedia_cluster=info"}),
    )


def workers(remotemedia_bin: Path) -> list[int]:
    """The node workers (`serve --one-run`) of this checkout's binary still running, by pid."""
    listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    prefix = f"{remotemedia_bin} serve --one-run"
    rows = [line.split(None, 1) for line in listing.splitlines()]
    return [int(row[0]) for row in rows if len(row) == 2 and row[1].startswith(prefix)]


def wait_for_no_workers(remotemedia_bin: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while workers(remotemedia_bin):
        if time.monotonic() > deadline:
            raise AssertionError(f"node workers still running after {timeout_s} s: {workers(remotemedia_bin)}")
        time.sleep(0.25)


def first_output(client: subprocess.Popen[str]) -> str:
    """The run's next output line; a run that ended instead fails the test with its stderr."""
    line = client.stdout.readline()
    if line == "":
        client.wait(timeout=RUN_TIMEOUT_S)
        pytest.fail(f"the run ended before its output (exit {client.returncode}): {client.stderr.read()}")
    return line


def test_a_node_needing_a_cuda_gpu_runs_on_the_cluster_with_the_local_outputs(
    ray_cluster, remotemedia_bin, binary_env, run_remotemedia, manifest
):
    path = manifest(calculator({"gpu": {"type": "cuda", "min_memory_gb": 4}}))
    plan = run_remotemedia(
        "plan", path, "--capabilities", NO_GPU, "--cluster", ray_cluster.address, "--json", timeout=RUN_TIMEOUT_S
    )
    assert plan.returncode == 0, plan.stderr
    placed = {node["id"]: node for node in json.loads(plan.stdout)["nodes"]}
    assert placed[GPU_NODE]["engine"] == {"kind": "cluster"}
    assert "num_gpus=1, gpu_cuda=1, gpu_memory_gb=4" in placed[GPU_NODE]["reason"]
    assert {placed[node]["engine"]["kind"] for node in placed if node != GPU_NODE} == {"rustpython"}

    local = run_remotemedia(
        "run",
        REPO_ROOT / "examples" / "manifests" / "calculator.json",
        *[arg for n in range(1, 6) for arg in ("--input", str(n))],
    )
    assert local.returncode == 0, local.stderr

    assert ray_cluster.actors() == []
    # As a client on another machine does: through Ray's client server.
    client = start_run(remotemedia_bin, binary_env, path, ray_cluster.remote_address)
    try:
        client.stdin.write("1\n")
        client.stdin.flush()
        first = first_output(client)
        # The run is streaming: its node's actor is alive now, named after the node, on the
        # machine that declared the GPU, and so is its node worker.
        during = [actor for actor in ray_cluster.actor_table() if actor["state"] != "DEAD"]
        workers_during = workers(remotemedia_bin)
        rest, stderr = client.communicate("".join(f"{n}\n" for n in range(2, 6)), timeout=RUN_TIMEOUT_S)
    finally:
        client.kill()
    assert client.returncode == 0, stderr
    assert first + rest == local.stdout
    assert [(actor["state"], actor["ip"]) for actor in during] == [("ALIVE", "127.0.0.3")], during
    (actor,) = during
    assert actor["name"].endswith(f"-{GPU_NODE}"), actor
    assert len(workers_during) == 1, workers_during
    assert "placed on the Ray cluster" in stderr and f"node={GPU_NODE}" in stderr
    worker = next(line for line in stderr.splitlines() if "placed on the Ray cluster" in line)
    assert "worker=127.0.0.3:" in worker, worker  # the machine that declared the GPU
    ray_cluster.wait_for_actors(lambda actors: actors == [], 30, "the actor is gone after the run")
    (after,) = [entry for entry in ray_cluster.actor_table() if entry["name"] == actor["name"]]
    assert after["state"] == "DEAD", after
    wait_for_no_workers(remotemedia_bin, 30)


def test_a_client_on_the_heads_machine_connects_to_the_gcs_others_through_the_ray_client(
    ray_cluster, run_remotemedia, manifest
):
    # Ray's client server now and then fails to start the server it forks for a client (~20 s
    # each time, docs/cluster.md); a client on the head's machine has no need of it.
    path = manifest(calculator(placement="cluster"))
    routes = {ray_cluster.address: "via=the GCS at 127.0.0.2:", ray_cluster.remote_address: "via=the Ray client"}
    for address, route in routes.items():
        plan = run_remotemedia(
            "plan", path, "--cluster", address, env={"RUST_LOG": "remotemedia_cluster=info"}, timeout=RUN_TIMEOUT_S
        )
        assert plan.returncode == 0, plan.stderr
        (connected,) = [line for line in plan.stderr.splitlines() if "connected to the Ray cluster" in line]
        assert route in connected, connected


def test_placement_cluster_sends_a_node_there_and_needs_a_cluster(ray_cluster, run_remotemedia, manifest):
    path = manifest(calculator(placement="cluster"))
    on_cluster = run_remotemedia("plan", path, "--cluster", ray_cluster.address, "--json", timeout=RUN_TIMEOUT_S)
    assert on_cluster.returncode == 0, on_cluster.stderr
    placed = {node["id"]: node for node in json.loads(on_cluster.stdout)["nodes"]}
    assert placed[GPU_NODE]["engine"] == {"kind": "cluster"}
    assert "its placement is `cluster`" in placed[GPU_NODE]["reason"]

    alone = run_remotemedia("plan", path, env={"RAY_ADDRESS": None})
    assert alone.returncode == 2
    assert f"node `{GPU_NODE}` needs a cluster (placement: cluster) — no cluster given" in alone.stderr


def test_resources_no_machine_offers_fail_before_data_flows_naming_node_and_resource(
    ray_cluster, run_remotemedia, manifest
):
    path = manifest(calculator({"gpu": {"type": "cuda", "min_memory_gb": 16}}))
    started = time.monotonic()
    ran = run_remotemedia(
        "run", path, "--input", "1", "--capabilities", NO_GPU, "--cluster", ray_cluster.address, timeout=RUN_TIMEOUT_S
    )
    assert ran.returncode == 2, ran.stderr
    assert ran.stdout == ""
    assert f"node `{GPU_NODE}`" in ran.stderr
    assert "no machine of the cluster offers gpu_memory_gb 16 (the most any machine offers: 8)" in ran.stderr
    print(f"unsatisfiable: exit 2 after {time.monotonic() - started:.1f} s")
    assert time.monotonic() - started < 120
    assert ray_cluster.actors() == []


def test_an_unreachable_cluster_fails_before_data_flows_within_a_bound(run_remotemedia, manifest):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    path = manifest(calculator({"gpu": {"type": "cuda"}}))
    started = time.monotonic()
    ran = run_remotemedia(
        "run",
        path,
        "--input",
        "1",
        "--capabilities",
        NO_GPU,
        "--cluster",
        f"ray://127.0.0.1:{closed}",
        timeout=RUN_TIMEOUT_S,
    )
    assert ran.returncode == 2, ran.stderr
    assert ran.stdout == ""
    assert f"node `{GPU_NODE}`: cannot reach the Ray cluster at ray://127.0.0.1:{closed}" in ran.stderr
    assert "Connection refused" in ran.stderr
    print(f"unreachable: exit 2 after {time.monotonic() - started:.1f} s")
    # A bound, not a speed target: a refused connection is not retried for Ray's half minute.
    assert time.monotonic() - started < 30


def test_an_actor_killed_mid_stream_fails_the_run_naming_the_node_and_rays_reason(
    ray_cluster, remotemedia_bin, binary_env, manifest
):
    path = manifest(calculator({"gpu": {"type": "cuda"}}))
    client = start_run(remotemedia_bin, binary_env, path, ray_cluster.address)
    try:
        client.stdin.write("1\n")
        client.stdin.flush()
        assert first_output(client) == "144\n"
        (name,) = ray_cluster.actors()
        ray_cluster.ray.kill(ray_cluster.ray.get_actor(name, namespace="remotemedia"), no_restart=True)
        killed = time.monotonic()
        # No more input: the run is idle, its input still open. It must notice by itself.
        client.wait(timeout=RUN_TIMEOUT_S)
        stderr = client.stderr.read()
    finally:
        client.kill()
    assert client.returncode == 1, stderr
    print(f"actor killed: exit 1 after {time.monotonic() - killed:.1f} s")
    assert time.monotonic() - killed < 30
    assert f"node `{GPU_NODE}` failed" in stderr
    assert "Ray:" in stderr and "ray.kill" in stderr, stderr
    ray_cluster.wait_for_actors(lambda actors: actors == [], 30, "no actor is left")
    wait_for_no_workers(remotemedia_bin, 30)


def test_a_node_failing_on_the_cluster_fails_the_run_and_its_actor_is_released(
    ray_cluster, remotemedia_bin, binary_env, manifest
):
    document = calculator(
        {"gpu": {"type": "cuda"}}, node_type="CalculatorNode", params={"operation": "divide", "operand": 0}
    )
    client = start_run(remotemedia_bin, binary_env, manifest(document), ray_cluster.address)
    try:
        # The input stays open: the failure itself must end the run.
        client.stdin.write("1\n")
        client.stdin.flush()
        client.wait(timeout=RUN_TIMEOUT_S)
        stdout, stderr = client.stdout.read(), client.stderr.read()
    finally:
        client.kill()
    assert client.returncode == 1, stderr
    assert stdout == ""
    assert f"node `{GPU_NODE}` failed in process" in stderr
    assert "division by zero" in stderr
    ray_cluster.wait_for_actors(lambda actors: actors == [], 30, "the failed node's actor is released")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["sigint", "sigterm", "sigkill"])
def test_a_client_ended_by_a_signal_leaves_no_actor_behind(ray_cluster, remotemedia_bin, binary_env, manifest, sig):
    path = manifest(calculator({"gpu": {"type": "cuda"}}))
    client = start_run(remotemedia_bin, binary_env, path, ray_cluster.address)
    try:
        client.stdin.write("1\n")
        client.stdin.flush()
        assert first_output(client) == "144\n"
        assert len(ray_cluster.actors()) == 1
        client.send_signal(sig)
        client.wait(timeout=RUN_TIMEOUT_S)
    finally:
        client.kill()
    assert client.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    ended = time.monotonic()
    # SIGINT/SIGTERM: the run cleans its nodes up, releasing the actor. SIGKILL: the driver process
    # sees its stdin close and releases it; Ray would also kill the actors of a dead driver.
    ray_cluster.wait_for_actors(lambda actors: actors == [], 60, "no actor is left")
    wait_for_no_workers(remotemedia_bin, 30)
    print(f"{sig.name}: no actor or worker left {time.monotonic() - ended:.1f} s after the client ended")


def test_a_native_node_placed_on_the_cluster_runs_natively_on_its_worker(
    ray_cluster, run_remotemedia, manifest
):
    document = json.loads((REPO_ROOT / "examples" / "manifests" / "speech_audio.json").read_text())
    # No recording: the worker would write it on its machine.
    document["nodes"] = [node for node in document["nodes"] if node["node_type"] != "WavWriterNode"]
    document["connections"] = [edge for edge in document["connections"] if "recorder_2" not in edge.values()]
    speech = REPO_ROOT / "examples" / "audio" / "speech.mp3"
    local = run_remotemedia("run", manifest(document), "--audio", speech)
    assert local.returncode == 0, local.stderr
    assert local.stdout.count("\n") >= 2, local.stdout  # speech segments

    for node in document["nodes"]:
        if node["id"] == "resample_1":
            node["placement"] = "cluster"
    path = manifest(document)
    plan = run_remotemedia("plan", path, "--cluster", ray_cluster.address, "--json", timeout=RUN_TIMEOUT_S)
    assert plan.returncode == 0, plan.stderr
    engines = {node["id"]: node["engine"]["kind"] for node in json.loads(plan.stdout)["nodes"]}
    assert engines == {"mono_0": "native", "resample_1": "cluster", "vad_3": "native"}

    ran = run_remotemedia(
        "run",
        path,
        "--audio",
        speech,
        "--cluster",
        ray_cluster.address,
        env={"RUST_LOG": "remotemedia_cluster=info,remotemedia_remote=debug"},
        timeout=RUN_TIMEOUT_S,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == local.stdout
    # The worker placed it on its native engine, as a local run does — not on a Python fallback.
    (created,) = [line for line in ran.stderr.splitlines() if "remote node created" in line]
    assert "node=resample_1" in created and "engine=native" in created, created
