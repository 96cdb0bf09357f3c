"""A real local Ray cluster for the session (`local_ray`): a head and one worker that declares a
GPU. Starting Ray takes tens of seconds: one cluster serves every test of the session.

The cluster's machines have the remotemedia wheel installed, as docs/cluster.md asks: its Ray
nodes' interpreter imports the package from `wheel_site`, laid out as the wheel installs it."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
import time
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
        yield Cluster(cluster.address, local_ray.Relay(cluster.address).address, ray)
    finally:
        try:
            ray.shutdown()
        finally:
            cluster.stop()
