"""Large arrays into an isolated node are lent, not copied: the parent makes them in its array pool,
which the worker maps read-only and reads in place (numpy views it). What a worker keeps stays
intact while the parent goes on making arrays, and a worker that must not read the process's
other arrays (sandboxed) or whose memory is limited never maps the pool, but gets the same values."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ITEMS = 30
"""Arrays of 400 KB each: more than the pool could hold apart if it reused lent blocks."""


def run_keeping(remotemedia_bin, binary_env, chain, nodes_dir, cpython_env, *args: str, **keep_fields):
    """Streams ints 0..ITEMS-1 into `Filled` (in the binary) → `Keep` (in a worker, CPython), one
    at a time; returns the outputs and whether the worker mapped the pool while it ran."""
    nodes = [
        {"id": "fill", "node_type": "Filled", "module": "iso_nodes"},
        {"id": "keep", "node_type": "Keep", "module": "iso_nodes", "runtime_hint": "cpython", **keep_fields},
    ]
    process = subprocess.Popen(
        [str(remotemedia_bin), "run", str(chain(nodes)), "--input-file", "-", "--python-path", str(nodes_dir), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=binary_env(cpython_env),
    )
    assert process.stdin and process.stdout
    outputs, pool_mapped = [], None
    try:
        for item in range(ITEMS):
            process.stdin.write(f"{item}\n")
            process.stdin.flush()
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            outputs.append(json.loads(line))
            if pool_mapped is None:
                # The worker is alive and has its first array: look at what it maps.
                maps = Path(f"/proc/{outputs[0][0]}/maps").read_text()
                pool_mapped = "remotemedia-arrays" in maps
        process.stdin.close()
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return outputs, pool_mapped


def test_an_isolated_worker_reads_lent_arrays_in_place_and_what_it_keeps_stays_intact(
    remotemedia_bin, binary_env, chain, nodes_dir, cpython_env
) -> None:
    outputs, pool_mapped = run_keeping(
        remotemedia_bin, binary_env, chain, nodes_dir, cpython_env, isolation="process"
    )
    assert pool_mapped
    pid, received, kept = outputs[-1]
    assert received == "numpy"
    # Every array the worker kept still holds what it was made with: no lent block was reused.
    assert kept == [float(item) for item in range(ITEMS)]
    assert {output[0] for output in outputs} == {pid}


@pytest.mark.parametrize(
    ("fields", "args"),
    [({"isolation": "sandbox"}, ()), ({"isolation": "process"}, ("--memory-limit", "2048"))],
    ids=["sandboxed", "memory-limited"],
)
def test_a_sandboxed_or_memory_limited_worker_never_maps_the_pool(
    fields, args, remotemedia_bin, binary_env, chain, nodes_dir, cpython_env
) -> None:
    outputs, pool_mapped = run_keeping(remotemedia_bin, binary_env, chain, nodes_dir, cpython_env, *args, **fields)
    assert pool_mapped is False
    assert outputs[-1][2] == [float(item) for item in range(ITEMS)]
