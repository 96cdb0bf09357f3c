"""`Pipeline.run(cluster=...)` from Python places a node on a real Ray cluster, for a user who
built from source (the native module of a cargo build, the `remotemedia` executable beside it) and
for one who installed the wheel (the package with its native module inside and no separate
executable; the cluster's machines have the wheel too)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
RUN_TIMEOUT_S = 180

CLIENT = """
import json, os, subprocess, sys, time
from remotemedia.runtime import native_module
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.calculator import CalculatorNode

def pipeline(on_cluster):
    double = CalculatorNode(name="double", operation="multiply", operand=2)
    if on_cluster:
        double.placement = "cluster"
    return (Pipeline("sdk-on-cluster").add_node(CalculatorNode(name="add", operation="add", operand=5))
            .add_node(double).add_node(CalculatorNode(name="square", operation="power", operand=2)))

workers = []

def inputs():
    # Pulled once the run has started: its node worker on the cluster is running by now (or soon).
    deadline = time.monotonic() + 120
    while not workers and time.monotonic() < deadline:
        listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        rows = [line.split(None, 1) for line in listing.splitlines()]
        workers.extend(args for pid, args in rows if " serve --one-run " in args and int(pid) != os.getpid())
        time.sleep(0.1)
    yield from range(1, 6)

local = pipeline(False).run(list(range(1, 6)), engine="runtime")
placed = pipeline(True).run(inputs(), engine="runtime", cluster=sys.argv[1])
print(json.dumps({"local": local, "cluster": placed, "module": native_module().__file__, "workers": workers}))
"""


@pytest.mark.parametrize("install", ["source build", "wheel"])
def test_pipeline_run_places_a_node_on_the_cluster_with_the_local_outputs(
    ray_cluster, remotemedia_bin, binary_env, wheel_site, install, tmp_path
):
    native_module = remotemedia_bin.parent / "libremotemedia_python_ext.so"
    # The source build finds its module through REMOTEMEDIA_NATIVE_MODULE (as the tests do); the
    # wheel's is inside the package. Neither may name the worker: the extension must find it.
    python_path, module_env = {
        "source build": (REPO_ROOT / "python", str(native_module)),
        "wheel": (wheel_site, None),
    }[install]
    env = binary_env(
        {
            "PYTHONPATH": str(python_path),
            "REMOTEMEDIA_NATIVE_MODULE": module_env,
            "REMOTEMEDIA_CLUSTER_WORKER": None,
            "REMOTEMEDIA_ENGINE": None,
            "RAY_ADDRESS": None,
        }
    )
    before = {actor["name"] for actor in ray_cluster.actor_table()}
    ran = subprocess.run(
        [sys.executable, "-c", CLIENT, ray_cluster.address],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=RUN_TIMEOUT_S,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["cluster"] == result["local"] == [(n + 5) ** 2 * 4 for n in range(1, 6)]

    # The node ran in a worker Ray started, of the kind this installation provides.
    assert Path(result["module"]).parent == (native_module.parent if install == "source build" else wheel_site / "remotemedia")
    (worker,) = result["workers"]
    if install == "source build":
        assert worker.startswith(f"{remotemedia_bin} serve --one-run"), worker
    else:
        assert "from remotemedia._native import main" in worker, worker
    # Ray's actor table has the node's actor, on a machine of the cluster, released after the run.
    placed = [actor for actor in ray_cluster.actor_table() if actor["name"] not in before]
    assert [actor["name"].rsplit("-", 1)[1] for actor in placed] == ["double_1"], placed
    assert placed[0]["ip"] in ("127.0.0.2", "127.0.0.3"), placed
    ray_cluster.wait_for_actors(lambda actors: actors == [], 30, "the actor is gone after the run")
