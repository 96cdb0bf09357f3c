"""What `serve` bounds so that one client cannot take it down (issue 16, points 4 and 7): a frame
whose resampled size would be absurd fails that client's node, not the server, in bounded memory;
a message over the limit ends its stream with RESOURCE_EXHAUSTED and the server keeps serving; and
placement's GPU memory check admits a GPU with exactly the memory a node asks for."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from raw_grpc import active_nodes, run_node_status

CUDA = {"gpu": {"type": "cuda"}}
EXIT_FAILURE = 1
# The server's peak resident memory (VmHWM) after the frame bomb: its own ~40 MB, the node, and
# room for a loaded allocator; the unchecked resampler grew by ~290 MB/s until the kernel said no.
SERVER_RSS_BOUND_MB = 200
SLOT_FREED_S = 2.0
BOMB = {"samples": [0.0] * 1000, "sample_rate": 1, "channels": 1}


def peak_rss_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmHWM:"))


def one_node(node: dict[str, Any]) -> dict[str, Any]:
    return {"version": "v1", "metadata": {"name": "limits"}, "nodes": [node], "connections": []}


def test_a_frame_bomb_fails_the_clients_node_and_the_server_stays_small_and_serving(
    serve, remotemedia, profile, write_manifest
):
    server = serve("--capabilities", profile("cuda-8gb"))
    resample = write_manifest(one_node({"id": "resample", "node_type": "ResampleNode", "params": {"target_rate": 16000},
                                        "host": server.address, "capabilities": CUDA}), "resample")
    bombed = remotemedia("run", resample, "--capabilities", profile("no-gpu"), "--input", json.dumps(BOMB))
    assert bombed.returncode == EXIT_FAILURE, bombed.stderr
    assert "node `resample` failed in process" in bombed.stderr
    assert "would make the frame 16000 times larger" in bombed.stderr
    assert "lost host" not in bombed.stderr
    assert "node stream opened node=resample" in server.log()

    assert server.process.poll() is None, server.log()
    assert peak_rss_mb(server.process.pid) < SERVER_RSS_BOUND_MB
    # The same node with a sane frame runs on the same server afterwards.
    frame = {"samples": [0.0, 0.5] * 80, "sample_rate": 8000, "channels": 1}
    fine = remotemedia("run", resample, "--capabilities", profile("no-gpu"), "--input", json.dumps(frame))
    assert fine.returncode == 0, fine.stderr
    out = json.loads(fine.stdout)
    assert (out["sample_rate"], out["channels"]) == (16000, 1)
    assert abs(len(out["samples"]) - 2 * len(frame["samples"])) <= 2


def node_request_item(payload_bytes: int) -> bytes:
    """A `NodeRequest` whose `item` (field 2) is `payload_bytes` long: never decoded, it is too large."""
    length, varint = payload_bytes, bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x12" + bytes(varint) + b"\x00" * payload_bytes


def test_a_message_over_the_limit_ends_its_stream_with_resource_exhausted(serve, profile):
    """docs/remote.md: oversized messages end the stream with RESOURCE_EXHAUSTED; malformed ones
    with INVALID_ARGUMENT; the server keeps serving either way."""
    server = serve("--capabilities", profile("cuda-8gb"), "--max-message-mib", "1")
    assert run_node_status(server.address, node_request_item(2 * 2**20)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert run_node_status(server.address, b"\x12\x05\xff\xff") == grpc.StatusCode.INVALID_ARGUMENT
    # The refused streams' slots are given back (just after their status is sent).
    deadline = time.monotonic() + SLOT_FREED_S
    while active_nodes(server.address) != 0:
        assert time.monotonic() < deadline, "the refused streams still count as open nodes"
        time.sleep(0.02)
    assert server.process.poll() is None


@pytest.mark.parametrize("where", ["here", "host"])
def test_a_gpu_with_exactly_the_memory_asked_for_is_enough(serve, remotemedia, profile, write_manifest, where):
    """cuda-8gb's GPU has 8 GB: a node asking for 8 GB runs on it — here with that profile, or on
    a host with it for a client without a GPU (the host's Describe carries the figure)."""
    node: dict[str, Any] = {"id": "exact", "node_type": "PassThroughNode",
                            "capabilities": {"gpu": {"type": "cuda", "min_memory_gb": 8}}}
    if where == "host":
        server = serve("--capabilities", profile("cuda-8gb"))
        node["host"] = server.address
        client_profile = profile("no-gpu")
    else:
        client_profile = profile("cuda-8gb")
    manifest = write_manifest(one_node(node), "exact")
    result = remotemedia("run", manifest, "--capabilities", client_profile, "--input", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3"]
    if where == "host":
        assert "node stream opened node=exact" in server.log()
    # A hair more is not enough.
    node["capabilities"]["gpu"]["min_memory_gb"] = 8.001
    more = write_manifest(one_node(node), "more")
    refused = remotemedia("run", more, "--capabilities", client_profile, "--input", "3")
    assert refused.returncode == 2, refused.stderr
    assert "needs gpu cuda ≥ 8.001 GB — largest cuda GPU has 8 GB" in refused.stderr, refused.stderr

