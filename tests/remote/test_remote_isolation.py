"""Isolation on `serve`: a remote node that crashes ends its worker process, not the server, which
keeps serving; a client can ask for its node to be isolated, or the server isolates every node."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

CRASH_MODULE = textwrap.dedent(
    '''
    import os
    import sys
    import time

    from remotemedia.core.node import Node


    class CrashOn(Node):
        """Doubles items; aborts its process on the item `crash_on`; allocates 8 GB on `hog_on`;
        on `hang_on`, writes its process id to `pid_file` and sleeps."""

        def __init__(self, crash_on: int = -1, hang_on: int = -1, pid_file: str = "", hog_on: int = -1, **kwargs):
            super().__init__(**kwargs)
            self.crash_on = crash_on
            self.hang_on = hang_on
            self.pid_file = pid_file
            self.hog_on = hog_on

        def process(self, item):
            if item == self.crash_on:
                print("crashing now", file=sys.stderr, flush=True)
                os.abort()
            if item == self.hog_on:
                print("allocating 8 GB", file=sys.stderr, flush=True)
                hog = bytearray(8 * 1024 * 1024 * 1024)
                return len(hog)
            if item == self.hang_on:
                with open(self.pid_file, "w") as out:
                    out.write(str(os.getpid()))
                time.sleep(600)
            return [item * 2, os.getpid()]


    class Mark(Node):
        """Passes items through; appends `<name> cleanup` to `log` when cleaned up (client side)."""

        def __init__(self, log: str, **kwargs):
            super().__init__(**kwargs)
            self.log = log

        def process(self, item):
            return item

        def cleanup(self):
            with open(self.log, "a", encoding="utf-8") as file:
                file.write(f"{self.name} cleanup\\n")
    '''
)

CUDA = {"gpu": {"type": "cuda"}}


@pytest.fixture
def crash_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "server_nodes"
    directory.mkdir()
    (directory / "crash_nodes.py").write_text(CRASH_MODULE)
    return directory


def manifest(host: str, crash_on: int, isolation: str | None = None, log: str | None = None, **params) -> dict:
    """source → remote_crash (on `host`) → sink; with a `log`, source and sink are `Mark` nodes
    (the client needs `--python-path` to the module then) that record their cleanup in it."""
    remote = {
        "id": "remote_crash",
        "node_type": "CrashOn",
        "module": "crash_nodes",
        "host": host,
        "capabilities": CUDA,
        "params": {"crash_on": crash_on, **params},
    }
    if isolation:
        remote["isolation"] = isolation
    return {
        "version": "v1",
        "metadata": {"name": "remote-isolation"},
        "nodes": [
            local("source", log),
            remote,
            local("sink", log),
        ],
        "connections": [{"from": "source", "to": "remote_crash"}, {"from": "remote_crash", "to": "sink"}],
    }


def local(id: str, log: str | None) -> dict:
    if log is None:
        return {"id": id, "node_type": "PassThroughNode"}
    return {"id": id, "node_type": "Mark", "module": "crash_nodes", "params": {"log": log}}


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("how", ["server flag", "client asks"])
def test_a_crashing_remote_node_ends_its_worker_not_the_server(
    how, serve, remotemedia, profile, write_manifest, crash_dir, tmp_path
) -> None:
    server_args = ["--capabilities", profile("cuda-8gb"), "--python-path", crash_dir]
    server = serve(*server_args, "--isolate") if how == "server flag" else serve(*server_args)
    isolation = "process" if how == "client asks" else None
    client = ["--capabilities", profile("no-gpu"), "--channel-capacity", "1", "--python-path", crash_dir]
    log = tmp_path / "client-cleanup.log"

    crashing = remotemedia(
        "run",
        write_manifest(manifest(server.address, 3, isolation, log=str(log)), "crash"),
        *client,
        "--input",
        "1",
        "--input",
        "2",
        "--input",
        "3",
        "--input",
        "4",
    )
    assert crashing.returncode == 1, crashing.stderr
    assert "node `remote_crash` failed" in crashing.stderr
    assert "SIGABRT" in crashing.stderr and "crashing now" in crashing.stderr
    # The outputs before the crash were written, each from a worker that is not the server.
    outputs = [json.loads(line) for line in crashing.stdout.splitlines()]
    assert [value for value, _ in outputs] == [2, 4]
    assert {pid for _, pid in outputs}.isdisjoint({server.process.pid})
    worker_pids = {int(pid) for pid in re.findall(r"\(pid (\d+)\)", crashing.stderr)}
    assert worker_pids and not any(alive(pid) for pid in worker_pids)
    # The client's other nodes were cleaned up.
    assert sorted(log.read_text().splitlines()) == ["sink cleanup", "source cleanup"]

    # The server is still there, and serves the next client.
    assert server.process.poll() is None, server.log()
    healthy = remotemedia(
        "run",
        write_manifest(manifest(server.address, -1, isolation), "healthy"),
        *client,
        "--input",
        "5",
    )
    assert healthy.returncode == 0, healthy.stderr + server.log()
    [[value, pid]] = [json.loads(line) for line in healthy.stdout.splitlines()]
    assert value == 10 and pid != server.process.pid


def test_a_node_blowing_its_memory_on_serve_ends_its_worker_not_the_server(
    serve, remotemedia, profile, write_manifest, crash_dir, tmp_path
) -> None:
    """`serve --isolate --memory-limit`: a remote node allocating past the limit fails alone (the
    engine's MemoryError, or its worker ended), the client exits 1 naming it with its earlier
    outputs written and its other nodes cleaned up, and the server serves the next client."""
    server = serve(
        "--capabilities", profile("cuda-8gb"), "--python-path", crash_dir, "--isolate", "--memory-limit", "512"
    )
    client = ["--capabilities", profile("no-gpu"), "--channel-capacity", "1", "--python-path", crash_dir]
    log = tmp_path / "client-cleanup.log"
    hog = remotemedia(
        "run",
        write_manifest(manifest(server.address, -1, log=str(log), hog_on=3), "hog"),
        *client,
        *[a for i in (1, 2, 3, 4) for a in ("--input", str(i))],
    )
    assert hog.returncode == 1, hog.stderr
    assert "node `remote_crash` failed" in hog.stderr, hog.stderr
    assert any(how in hog.stderr for how in ("MemoryError", "SIGABRT", "SIGKILL")), hog.stderr
    outputs = [json.loads(line) for line in hog.stdout.splitlines()]
    assert [value for value, _ in outputs] == [2, 4]
    workers = {pid for _, pid in outputs}
    assert server.process.pid not in workers
    assert sorted(log.read_text().splitlines()) == ["sink cleanup", "source cleanup"]
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"worker {workers} left behind by the server"
        time.sleep(0.05)

    assert server.process.poll() is None, server.log()
    healthy = remotemedia(
        "run", write_manifest(manifest(server.address, -1), "healthy"), *client, "--input", "5"
    )
    assert healthy.returncode == 0, healthy.stderr + server.log()
    [[value, pid]] = [json.loads(line) for line in healthy.stdout.splitlines()]
    assert value == 10 and pid != server.process.pid


def test_a_server_that_does_not_isolate_runs_the_node_in_itself(
    serve, remotemedia, profile, write_manifest, crash_dir
) -> None:
    """The contrast: without isolation the node runs in the server's own process."""
    server = serve("--capabilities", profile("cuda-8gb"), "--python-path", crash_dir)
    healthy = remotemedia(
        "run",
        write_manifest(manifest(server.address, -1), "plain"),
        "--capabilities",
        profile("no-gpu"),
        "--input",
        "5",
    )
    assert healthy.returncode == 0, healthy.stderr
    [[value, pid]] = [json.loads(line) for line in healthy.stdout.splitlines()]
    assert value == 10 and pid == server.process.pid


def test_workers_die_with_a_killed_server(
    serve, remotemedia_bin, binary_env, profile, write_manifest, crash_dir, tmp_path
) -> None:
    """SIGKILL of `serve` (no cleanup can run in it) still ends the workers of its isolated nodes,
    and the client fails instead of waiting for a server that is gone."""
    server = serve("--capabilities", profile("cuda-8gb"), "--python-path", crash_dir, "--isolate")
    pid_file = tmp_path / "worker.pid"
    client = subprocess.Popen(
        [
            str(remotemedia_bin),
            "run",
            str(write_manifest(manifest(server.address, -1, hang_on=1, pid_file=str(pid_file)), "hang")),
            "--capabilities",
            str(profile("no-gpu")),
            "--input",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=binary_env(),
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert client.poll() is None, client.communicate()
            assert time.monotonic() < deadline, "the remote node never started"
            time.sleep(0.05)
        worker = int(pid_file.read_text())
        assert worker != server.process.pid and alive(worker)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(worker):
            assert time.monotonic() < deadline, f"worker {worker} outlived its killed server"
            time.sleep(0.05)
        _, stderr = client.communicate(timeout=60)
        assert client.returncode == 1, stderr
        assert "remote_crash" in stderr, stderr
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
