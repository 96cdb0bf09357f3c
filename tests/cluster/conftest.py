"""A real local Ray cluster for the session: a head and one worker that declares a GPU.

Both Ray nodes run on loopback addresses of their own (127.0.0.2, 127.0.0.3: Ray replaces
127.0.0.1 by the machine's network address), each `ray start --block` in a session of its own, so
teardown kills exactly their process trees. Starting Ray takes tens of seconds: one cluster serves
every test of the session.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
START_TIMEOUT_S = 240
# The worker's declared GPU: what the cluster offers and unsatisfiable requests exceed.
WORKER_RESOURCES = {"gpu_cuda": 1, "gpu_memory_gb": 8}


def _ray() -> Any:
    """The ray module: required on CI (.ci/run installs it), a skip elsewhere."""
    if os.environ.get("CI"):
        import ray

        return ray
    return pytest.importorskip("ray")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    """The running cluster: its `ray://` address and a client connected to it."""

    address: str
    ray: Any

    def actors(self) -> list[str]:
        """The names of remotemedia's live actors (the runs' node workers)."""
        named = self.ray.util.list_named_actors(all_namespaces=True)
        return sorted(actor["name"] for actor in named if actor["name"].startswith("remotemedia-"))

    def wait_for_actors(self, predicate: Any, timeout_s: float, what: str) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            actors = self.actors()
            if predicate(actors):
                return actors
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {timeout_s} s; actors: {actors}")
            time.sleep(0.25)


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    # A RAY_ADDRESS of the caller's (even an empty one) would send Ray's own processes elsewhere.
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    with log.open("wb") as out:
        return subprocess.Popen(["ray", "start", "--block", *args], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    """Every process of the session `process` leads (raylet, GCS, workers, node workers)."""
    sid = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        members = [int(line.split()[0]) for line in subprocess.run(
            ["ps", "-eo", "pid=,sid="], capture_output=True, text=True, check=True).stdout.splitlines()
            if int(line.split()[1]) == sid]
        for pid in members:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if sig == signal.SIGTERM:
            time.sleep(2)
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    ray = _ray()
    temp = Path(tempfile.mkdtemp(prefix="rm-ray-"))
    gcs_port, client_port = _free_port(), _free_port()
    started = time.monotonic()
    head = _start(["--head", "--node-ip-address", HEAD_IP, "--port", str(gcs_port), "--num-cpus", "2",
                   "--num-gpus", "0", "--include-dashboard", "false", "--disable-usage-stats",
                   "--ray-client-server-port", str(client_port), "--temp-dir", str(temp)], temp / "head.log")
    worker = None
    try:
        _wait_for_port(HEAD_IP, client_port, head, temp / "head.log")
        worker = _start(["--address", f"{HEAD_IP}:{gcs_port}", "--node-ip-address", WORKER_IP, "--num-cpus", "2",
                         "--num-gpus", "1", "--resources", json.dumps(WORKER_RESOURCES), "--disable-usage-stats"],
                        temp / "worker.log")
        address = f"ray://{HEAD_IP}:{client_port}"
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        deadline = time.monotonic() + START_TIMEOUT_S
        while sum(1 for node in ray.nodes() if node["Alive"]) < 2:
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray worker did not join: {(temp / 'worker.log').read_text()[-2000:]}")
            time.sleep(0.5)
        print(f"\nRay cluster up in {time.monotonic() - started:.1f} s at {address}", file=sys.stderr)
        yield Cluster(address, ray)
    finally:
        try:
            ray.shutdown()
        finally:
            for process in (worker, head):
                if process is not None:
                    _kill_session(process)


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`ray start --head` exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the Ray head did not listen on {host}:{port} within {START_TIMEOUT_S} s")
