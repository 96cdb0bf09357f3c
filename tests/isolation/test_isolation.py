"""Process isolation through the real binary: a node in a worker process of its own gives the same
outputs, and when it crashes (segfault, abort, exit, memory) the run ends with exit 1 naming it,
every other node cleaned up, the outputs produced before written, and no worker left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from isolation_helpers import alive, worker_pids

EXIT_FAILURE = 1


def node(id: str, node_type: str, **fields) -> dict:
    return {"id": id, "node_type": node_type, "module": "iso_nodes", **fields}


def outputs(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("engine", ["rustpython", "cpython"])
def test_isolated_nodes_give_the_same_outputs(engine, run_remotemedia, chain, nodes_dir, cpython_env) -> None:
    """Small and large arrays (the latter through shared memory) both ways, ints, lists: equal."""
    hint = {"runtime_hint": engine}
    nodes = [
        node("make", "Arrays", **hint),
        {"id": "pass", "node_type": "PassThroughNode"},
        node("sum", "Arrays", **hint),
        node("pid", "Pid", **hint),
    ]
    inputs = ["--input", "3", "--input", "100000", "--input", "500000"]
    plain = run_remotemedia("run", chain(nodes), *inputs, "--python-path", nodes_dir, env=cpython_env)
    assert plain.returncode == 0, plain.stderr
    isolated_nodes = [{**n, "isolation": "process"} if "module" in n else n for n in nodes]
    isolated = run_remotemedia(
        "run", chain(isolated_nodes, name="isolated"), *inputs, "--python-path", nodes_dir, env=cpython_env
    )
    assert isolated.returncode == 0, isolated.stderr
    plain_out, isolated_out = outputs(plain.stdout), outputs(isolated.stdout)
    assert [value for value, _ in plain_out] == [value for value, _ in isolated_out]
    assert [value for value, _ in plain_out] == [float(sum(i % 7 for i in range(n))) for n in (3, 100000, 500000)]
    # In-process nodes run in the binary; the isolated one in a process of its own, gone now.
    binary_pids = {pid for _, pid in plain_out}
    worker = {pid for _, pid in isolated_out}
    assert len(worker) == 1 and worker.isdisjoint(binary_pids)
    assert not alive(worker.pop())


def test_isolate_switch_isolates_every_user_node(run_remotemedia, chain, nodes_dir) -> None:
    nodes = [node("pid_a", "Pid"), {"id": "pass", "node_type": "PassThroughNode"}]
    second = [node("pid_b", "Pid")]
    path = chain(nodes + second)
    run = run_remotemedia("run", path, "--input", "1", "--python-path", nodes_dir, "--isolate", "--metrics", "--json")
    assert run.returncode == 0, run.stderr
    [[[value, pid_a], pid_b]] = outputs(run.stdout)
    assert value == 1 and pid_a != pid_b
    metrics = json.loads(run.stderr.strip().splitlines()[-1])
    by_node = {row["node"]: row for row in metrics["nodes"]}
    # The executor measures an isolated node like any other.
    assert by_node["pid_a"]["items_in"] == 1 and by_node["pid_b"]["items_out"] == 1


CRASHES = [
    # (how, engine, what the error says)
    ("segfault", "cpython", "SIGSEGV"),
    ("abort", "cpython", "SIGABRT"),
    ("abort", "rustpython", "SIGABRT"),
    ("exit", "rustpython", "exited with status 3"),
]


@pytest.mark.parametrize(("how", "engine", "expected"), CRASHES, ids=[f"{c[0]}-{c[1]}" for c in CRASHES])
def test_a_crashing_isolated_node_fails_alone(
    how, engine, expected, run_remotemedia, chain, nodes_dir, tmp_path, cpython_env
) -> None:
    log = tmp_path / "lifecycle.log"
    nodes = [
        node("first", "Recorder", params={"log": str(log)}),
        node(
            "crash", "Crash", params={"how": how, "after": 2, "log": str(log)}, runtime_hint=engine, isolation="process"
        ),
        node("last", "Recorder", params={"log": str(log)}),
    ]
    run = run_remotemedia(
        "run",
        chain(nodes),
        *[a for i in range(1, 6) for a in ("--input", str(i))],
        "--python-path",
        nodes_dir,
        "--channel-capacity",
        "1",
        env=cpython_env,
    )
    assert run.returncode == EXIT_FAILURE, run.stderr
    assert "node `crash` failed in process" in run.stderr
    assert "isolated worker process" in run.stderr and expected in run.stderr
    # The last lines the worker printed come with the error.
    assert "about to crash" in run.stderr.split("last lines of the worker's stderr", 1)[1]
    # The outputs produced before the crash were written.
    assert outputs(run.stdout) == [1, 2]
    # Every other node was cleaned up; the worker is gone.
    marks = log.read_text().splitlines()
    assert any(line.startswith("first cleanup") for line in marks)
    assert any(line.startswith("last cleanup") for line in marks)
    pids = worker_pids(run.stderr) | {int(line.split()[-1]) for line in marks if line.startswith("crasher ")}
    assert pids and not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("engine", ["cpython", "rustpython"])
def test_a_node_allocating_past_its_memory_limit_fails_alone(
    engine, run_remotemedia, chain, nodes_dir, tmp_path, cpython_env
) -> None:
    log = tmp_path / "lifecycle.log"
    nodes = [
        node("first", "Recorder", params={"log": str(log)}),
        node(
            "hog",
            "Crash",
            params={"how": "memory", "after": 1, "log": str(log)},
            runtime_hint=engine,
            isolation="process",
        ),
    ]
    run = run_remotemedia(
        "run",
        chain(nodes),
        "--input",
        "1",
        "--input",
        "2",
        "--python-path",
        nodes_dir,
        "--memory-limit",
        "1024",
        "--channel-capacity",
        "1",
        env=cpython_env,
    )
    assert run.returncode == EXIT_FAILURE, run.stderr
    assert "node `hog` failed in process" in run.stderr
    # CPython raises MemoryError in the node; RustPython's allocator aborts the worker.
    assert "MemoryError" in run.stderr or "SIGABRT" in run.stderr
    assert outputs(run.stdout) == [1]
    assert any(line.startswith("first cleanup") for line in log.read_text().splitlines())
    pids = {int(line.split()[-1]) for line in log.read_text().splitlines() if line.startswith("crasher ")}
    assert pids and not any(alive(pid) for pid in pids)


def test_workers_die_with_a_killed_parent(remotemedia_bin, binary_env, chain, nodes_dir, tmp_path) -> None:
    """SIGKILL of the parent (no cleanup can run in it) still ends its workers."""
    log = tmp_path / "lifecycle.log"
    nodes = [node("sleepy", "Crash", params={"how": "sleep", "after": 0, "log": str(log)}, isolation="process")]
    process = subprocess.Popen(
        [str(remotemedia_bin), "run", str(chain(nodes)), "--input", "1", "--python-path", str(nodes_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=binary_env(),
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and "initialize" in log.read_text()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the worker never initialized"
            time.sleep(0.05)
        [worker] = [int(line.split()[-1]) for line in log.read_text().splitlines()]
        assert worker != process.pid and alive(worker)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(worker):
            assert time.monotonic() < deadline, f"worker {worker} outlived its killed parent"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_a_worker_subcommand_started_by_hand_says_what_it_is(run_remotemedia) -> None:
    run = run_remotemedia("__isolated-worker")
    assert run.returncode == EXIT_FAILURE
    assert "started by remotemedia itself" in run.stderr


def test_isolation_is_an_additive_manifest_field(run_remotemedia, chain) -> None:
    bad = chain([{"id": "a", "node_type": "PassThroughNode", "isolation": "container"}])
    run = run_remotemedia("validate", bad)
    assert run.returncode == 2
    assert "/nodes/0/isolation" in run.stdout + run.stderr
    good = chain([{"id": "a", "node_type": "PassThroughNode", "isolation": "process"}], name="good")
    assert run_remotemedia("run", good, "--input", "7").stdout.strip() == "7"


def test_os_environment_is_kept_by_plain_isolation(run_remotemedia, chain, nodes_dir, tmp_path) -> None:
    """Isolation alone is about crashes, not secrets: the worker sees the parent's environment
    (the sandbox is what cleans it, tests/isolation/test_sandbox.py)."""
    module = nodes_dir / "env_nodes.py"
    module.write_text(
        "import os\nfrom remotemedia.core.node import Node\n\n"
        "class Env(Node):\n    def process(self, item):\n        return os.environ.get(item)\n"
    )
    nodes = [{"id": "env", "node_type": "Env", "module": "env_nodes", "isolation": "process"}]
    run = run_remotemedia(
        "run",
        chain(nodes),
        "--input",
        '"ISOLATION_TEST_VALUE"',
        "--python-path",
        nodes_dir,
        env={"ISOLATION_TEST_VALUE": "kept"},
    )
    assert run.returncode == 0, run.stderr
    assert outputs(run.stdout) == ["kept"]
    assert os.environ.get("ISOLATION_TEST_VALUE") is None


def test_the_python_console_command_isolates_too(remotemedia_bin, binary_env, chain, nodes_dir, tmp_path) -> None:
    """The wheel's `remotemedia` command is the CLI inside `python`: its workers are that `python`
    running the same program, and a crash there fails only the node."""
    nodes = [
        node("pid", "Pid", isolation="process"),
        node("crash", "Crash", params={"how": "abort", "after": 1}, runtime_hint="cpython", isolation="process"),
    ]
    program = (
        "import sys; from remotemedia.runtime import native_module; "
        f"sys.argv = ['remotemedia', 'run', {str(chain(nodes))!r}, '--input', '1', '--input', '2', "
        f"'--python-path', {str(nodes_dir)!r}]; sys.exit(native_module().main())"
    )
    env = binary_env(
        {
            "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "python"),
            "REMOTEMEDIA_NATIVE_MODULE": str(remotemedia_bin.parent / "libremotemedia_python_ext.so"),
        }
    )
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )
    assert run.returncode == EXIT_FAILURE, run.stderr
    [[value, pid]] = outputs(run.stdout)
    assert value == 1 and not alive(pid)
    assert "node `crash` failed in process" in run.stderr and "SIGABRT" in run.stderr
    assert not any(alive(worker) for worker in worker_pids(run.stderr))
