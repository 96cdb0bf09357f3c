"""A real local Ray cluster for the session (`local_ray`): a head and one worker that declares a
GPU. Starting Ray takes tens of seconds: one cluster serves every test of the session.

The cluster's machines have the remotemedia wheel installed, as docs/cluster.md asks: its Ray
nodes' interpreter imports the package from `wheel_site`, laid out as the wheel installs it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import local_ray
import pytest


def _ray() -> Any:
    """The ray module: required on CI (.ci/run installs it), a skip elsewhere."""
    if os.environ.get("CI"):
        import ray

        return ray
    return pytest.importorskip("ray")


@dataclass
class Cluster:
    """The running cluster: its `ray://` address, the same through a relay, and a client
    connected to it.

    `address` is the head's Ray client server, on this machine: the driver connects to the GCS
    behind it directly. `remote_address` reaches that server through a port no Ray process of
    this machine serves, as a client on another machine would: the driver uses the Ray client."""

    address: str
    remote_address: str
    ray: Any

    def actor_table(self) -> list[dict[str, Any]]:
        """remotemedia's actors in Ray's actor table (the GCS's: what `ray list actors` shows,
        without the dashboard the state API needs), dead ones included: name, state, node IP,
        process id and, for a dead one, why it died. Read by a task on the cluster, as the
        client API has no actor table."""
        ray = self.ray

        @ray.remote(num_cpus=0)
        def table() -> list[dict[str, Any]]:
            import ray._private.state

            return [
                {
                    "name": actor["Name"],
                    "state": actor["State"],
                    "ip": actor["Address"]["IPAddress"],
                    "pid": actor["Pid"],
                    "death": str(actor["DeathCause"]).strip(),
                }
                for actor in ray._private.state.actors().values()
                if actor["Name"].startswith("remotemedia-")
            ]

        return ray.get(table.remote(), timeout=60)

    def actors(self) -> list[str]:
        """The names of remotemedia's actors that are not dead (alive, pending or restarting),
        from Ray's actor table."""
        return sorted(actor["name"] for actor in self.actor_table() if actor["state"] != "DEAD")

    def wait_for_actors(self, predicate: Any, timeout_s: float, what: str) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            actors = self.actors()
            if predicate(actors):
                return actors
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {timeout_s} s; actors: {actors}")
            time.sleep(0.25)


class Relay:
    """Forwards connections to a local port to `target`, byte for byte, until the process ends."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
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


@pytest.fixture(scope="session")
def wheel_site(tmp_path_factory: pytest.TempPathFactory, repo_root: Path, remotemedia_bin: Path) -> Path:
    """A site directory as `pip install` of the wheel fills it (pyproject.toml's maturin settings):
    the package `python/remotemedia` with its native module inside, `_native<EXT_SUFFIX>` — here
    the one the binary's `cargo build --release` made — and no separate `remotemedia` executable."""
    native_module = remotemedia_bin.parent / "libremotemedia_python_ext.so"
    if not native_module.is_file():
        pytest.fail(f"the native module is missing at {native_module}; build it with `make build`", pytrace=False)
    site = tmp_path_factory.mktemp("wheel-site")
    package = site / "remotemedia"
    shutil.copytree(repo_root / "python" / "remotemedia", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(native_module, package / f"_native{sysconfig.get_config_var('EXT_SUFFIX')}")
    return site


@pytest.fixture(scope="session")
def ray_cluster(wheel_site: Path) -> Iterator[Cluster]:
    ray = _ray()
    started = time.monotonic()
    try:
        cluster = local_ray.start(Path(tempfile.mkdtemp(prefix="rm-ray-")), python_path=wheel_site)
    except local_ray.StartError as error:
        pytest.fail(str(error))
    try:
        local_ray.connect(ray, cluster.address)
        local_ray.wait_for_nodes(cluster, ray)
        print(f"\nRay cluster up in {time.monotonic() - started:.1f} s at {cluster.address}", file=sys.stderr)
        client_server = urllib.parse.urlsplit(cluster.address)
        relay = Relay((client_server.hostname, client_server.port))
        yield Cluster(cluster.address, f"ray://127.0.0.1:{relay.port}", ray)
    finally:
        try:
            ray.shutdown()
        finally:
            cluster.stop()
