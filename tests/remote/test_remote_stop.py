"""A node busy on `serve` is not left behind when its client goes (issue 16, finding 4): a client
SIGKILLed mid-item gets its server-side node interrupted, cleaned up and its slot freed; a client
stopped with SIGTERM while its remote node is mid-item exits 130 within its stop timeout. The
server's own account (`Describe`'s open node streams) is what proves the slot is free."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from raw_grpc import active_nodes

EXIT_INTERRUPTED = 130
HANG_GUARD_S = 60
CLEANUP_BOUND_S = 5.0
STOP_TIMEOUT_S = 2
MARGIN_S = 1.0
CUDA = {"gpu": {"type": "cuda"}}

@pytest.fixture
def spinning_server(serve, profile, spin_nodes, monkeypatch):
    """A server with one node slot whose Python path holds the Spin node (run by its CPython)."""
    monkeypatch.setenv("REMOTEMEDIA_PYTHON", sys.executable)
    return serve("--capabilities", profile("cuda-8gb-cpython"), "--python-path", spin_nodes.parent, "--max-nodes", "1")


def spin_client(remotemedia_bin, binary_env, write_manifest, profile, server, log: Path, *args: str):
    manifest = write_manifest(
        {
            "version": "v1",
            "metadata": {"name": "spin"},
            "nodes": [{"id": "spin", "node_type": "Spin", "module": "spin_nodes", "params": {"log": str(log)},
                       "runtime_hint": "cpython", "host": server.address, "capabilities": CUDA}],
            "connections": [],
        },
        "spin",
    )
    client = subprocess.Popen(
        [remotemedia_bin, "run", manifest, "--capabilities", profile("no-gpu"), "--input", "1", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=binary_env({"RUST_LOG": "warn"}),
    )
    wait_for(lambda: log.exists() and "busy" in log.read_text(), "the remote node never started", client)
    time.sleep(0.2)
    return client


def wait_for(condition, what: str, process: subprocess.Popen | None = None, bound: float = HANG_GUARD_S) -> float:
    started = time.monotonic()
    while not condition():
        if process is not None:
            assert process.poll() is None, process.communicate()
        assert time.monotonic() - started < bound, what
        time.sleep(0.02)
    return time.monotonic() - started


def passthrough_runs_on(server, remotemedia, write_manifest, profile) -> subprocess.CompletedProcess[str]:
    manifest = write_manifest(
        {
            "version": "v1",
            "metadata": {"name": "same"},
            "nodes": [{"id": "same", "node_type": "PassThroughNode", "host": server.address, "capabilities": CUDA}],
            "connections": [],
        },
        "same",
    )
    return remotemedia("run", manifest, "--capabilities", profile("no-gpu"), "--input", "7")


def test_a_killed_clients_busy_node_is_interrupted_cleaned_up_and_its_slot_freed(
    spinning_server, remotemedia_bin, binary_env, remotemedia, write_manifest, profile, tmp_path
):
    log = tmp_path / "spin.log"
    client = spin_client(remotemedia_bin, binary_env, write_manifest, profile, spinning_server, log)
    # The one slot is taken: another client is refused.
    refused = passthrough_runs_on(spinning_server, remotemedia, write_manifest, profile)
    assert refused.returncode != 0
    assert "this host already runs 1 nodes, its limit" in refused.stderr, refused.stderr

    assert active_nodes(spinning_server.address) == 1

    client.kill()
    client.wait()
    took = wait_for(lambda: "cleanup" in log.read_text(), "the server never cleaned the node up")
    assert took < CLEANUP_BOUND_S, f"cleaned up {took:.2f} s after the client died"
    wait_for(lambda: "client gone" in spinning_server.log(), "the server did not end the stream", bound=CLEANUP_BOUND_S)
    # The server itself counts no open node stream within the bound (measured from the kill).
    wait_for(lambda: active_nodes(spinning_server.address) == 0, "Describe still counts the node",
             bound=CLEANUP_BOUND_S - took)
    # The slot is free again.
    again = passthrough_runs_on(spinning_server, remotemedia, write_manifest, profile)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["7"]


def test_sigterm_on_a_client_whose_remote_node_is_mid_item_exits_130_in_time(
    spinning_server, remotemedia_bin, binary_env, write_manifest, profile, tmp_path
):
    log = tmp_path / "spin.log"
    client = spin_client(
        remotemedia_bin, binary_env, write_manifest, profile, spinning_server, log, "--stop-timeout", str(STOP_TIMEOUT_S)
    )
    sent = time.monotonic()
    client.send_signal(signal.SIGTERM)
    try:
        _, stderr = client.communicate(timeout=HANG_GUARD_S)
    finally:
        client.kill()
    took = time.monotonic() - sent
    assert client.returncode == EXIT_INTERRUPTED, stderr
    assert took < STOP_TIMEOUT_S + MARGIN_S, f"took {took:.2f} s"
    # And the server does not keep the node: it is interrupted and cleaned up.
    wait_for(lambda: "cleanup" in log.read_text(), "the server never cleaned the node up", bound=CLEANUP_BOUND_S)
    wait_for(lambda: active_nodes(spinning_server.address) == 0, "Describe still counts the node",
             bound=CLEANUP_BOUND_S)


def test_serve_isolate_interrupts_a_gone_clients_busy_rustpython_node_cleans_it_up_and_frees_its_slot(
    serve, profile, remotemedia_bin, binary_env, remotemedia, write_manifest, spin_nodes, tmp_path
):
    """In-process RustPython on `serve` cannot be interrupted; under `serve --isolate` the node is
    interrupted inside its worker (an interpreter of its own there) and its cleanup runs."""
    server = serve("--capabilities", profile("cuda-8gb"), "--python-path", tmp_path, "--max-nodes", "1", "--isolate")
    log = tmp_path / "spin.log"
    manifest = write_manifest(
        {
            "version": "v1",
            "metadata": {"name": "spin"},
            "nodes": [{"id": "spin", "node_type": "Spin", "module": "spin_nodes", "params": {"log": str(log)},
                       "host": server.address, "capabilities": CUDA}],
            "connections": [],
        },
        "spin",
    )
    client = subprocess.Popen(
        [remotemedia_bin, "run", manifest, "--capabilities", profile("no-gpu"), "--input", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=binary_env({"RUST_LOG": "warn"}),
    )
    wait_for(lambda: log.exists() and "busy" in log.read_text(), "the remote node never started", client)
    client.kill()
    client.wait()
    took = wait_for(lambda: "client gone" in server.log(), "the server kept the node", bound=HANG_GUARD_S)
    assert took < CLEANUP_BOUND_S, f"the stream ended {took:.2f} s after the client died"
    wait_for(lambda: "cleanup" in log.read_text(), "the worker never cleaned the node up", bound=CLEANUP_BOUND_S)
    assert log.read_text().split() == ["busy", "cleanup"]
    wait_for(lambda: active_nodes(server.address) == 0, "Describe still counts the node", bound=CLEANUP_BOUND_S)
    again = passthrough_runs_on(server, remotemedia, write_manifest, profile)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["7"]
