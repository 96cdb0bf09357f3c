"""A local Ray cluster of two nodes on loopback, for the cluster tests and the cluster bench row.

Both Ray nodes run on loopback addresses of their own (127.0.0.2 head, 127.0.0.3 worker: Ray
replaces 127.0.0.1 by the machine's network address), each `ray start --block` in a session of its
own, so `stop` kills exactly their process trees (raylet, GCS, Ray workers, node workers). The
worker declares a CUDA GPU with 8 GB (`--num-gpus 1`, custom resources); nothing needs a real one.
A `Relay` reaches the head as from another machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
START_TIMEOUT_S = 240
WORKER_RESOURCES = {"gpu_cuda": 1, "gpu_memory_gb": 8}
"""The worker's declared GPU: what the cluster offers and unsatisfiable requests exceed."""


class StartError(RuntimeError):
    """The local cluster did not come up."""


@dataclass
class LocalRay:
    """A running local cluster: its `ray://` address and the `ray start` processes."""

    address: str
    head: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    logs: Path

    def stop(self) -> None:
        for process in (self.worker, self.head):
            _kill_session(process)


class Relay:
    """Forwards connections to a port of its own to a `ray://` address's client server, byte for
    byte, while this process lives. `address` reaches the cluster as a client on another machine
    does: no Ray process of this machine serves that port, so the remotemedia driver goes through
    Ray's client server, not to the GCS behind it."""

    def __init__(self, ray_address: str) -> None:
        server = urllib.parse.urlsplit(ray_address)
        self.target = (server.hostname, server.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"ray://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        # Either side ending ends the connection: the other direction's thread wakes up too.
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def start(temp: Path, python_path: Path | None = None) -> LocalRay:
    """Starts the head, waits for its client server, starts the worker; `temp` holds Ray's files.
    `python_path` is put on the Ray nodes' PYTHONPATH: packages their interpreter has installed.
    The caller connects and waits for the worker to join (`wait_for_nodes`)."""
    env = _ray_env(python_path)
    gcs_port, client_port = _free_port(), _free_port()
    head = _start(
        [
            "--head",
            "--node-ip-address",
            HEAD_IP,
            "--port",
            str(gcs_port),
            "--num-cpus",
            "2",
            "--num-gpus",
            "0",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
            "--ray-client-server-port",
            str(client_port),
            "--temp-dir",
            str(temp),
        ],
        temp / "head.log",
        env,
    )
    try:
        _wait_for_port(HEAD_IP, client_port, head, temp / "head.log")
        worker = _start(
            [
                "--address",
                f"{HEAD_IP}:{gcs_port}",
                "--node-ip-address",
                WORKER_IP,
                "--num-cpus",
                "2",
                "--num-gpus",
                "1",
                "--resources",
                json.dumps(WORKER_RESOURCES),
                "--disable-usage-stats",
            ],
            temp / "worker.log",
            env,
        )
    except BaseException:
        _kill_session(head)
        raise
    return LocalRay(f"ray://{HEAD_IP}:{client_port}", head, worker, temp)


def connect(ray: object, address: str, attempts: int = 5) -> None:
    """`ray.init` as a client of `address`, retrying when Ray's client server fails to start the
    per-client server it forks (it does now and then; the remotemedia driver retries too)."""
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)  # type: ignore[attr-defined]
            return
        except ConnectionAbortedError:
            ray.shutdown()  # type: ignore[attr-defined]
            if attempt == attempts:
                raise
            time.sleep(attempt)


def wait_for_nodes(cluster: LocalRay, ray: object) -> None:
    """Waits until both Ray nodes are alive, as seen by `ray` (a client connected to the cluster)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while sum(1 for node in ray.nodes() if node["Alive"]) < 2:  # type: ignore[attr-defined]
        if cluster.worker.poll() is not None or time.monotonic() > deadline:
            raise StartError(f"the Ray worker did not join: {(cluster.logs / 'worker.log').read_text()[-2000:]}")
        time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ray_command() -> str:
    """Ray's `ray` script of this interpreter's installation (pip puts it beside the interpreter,
    which need not be on PATH), else `ray` from PATH."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else "ray"


def _ray_env(python_path: Path | None) -> dict[str, str]:
    # A RAY_ADDRESS of the caller's (even an empty one) would send Ray's own processes elsewhere.
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    if python_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(python_path), env.get("PYTHONPATH")]))
    return env


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [_ray_command(), "start", "--block", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    """Every process of the session `process` leads (raylet, GCS, workers, node workers)."""
    sid = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        members = [
            int(line.split()[0])
            for line in subprocess.run(
                ["ps", "-eo", "pid=,sid="], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if int(line.split()[1]) == sid
        ]
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if sig == signal.SIGTERM:
            time.sleep(2)
    process.wait(timeout=30)


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"`ray start --head` exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise StartError(f"the Ray head did not listen on {host}:{port} within {START_TIMEOUT_S} s")
