"""Remote = local for what crosses the wire (issue 16, findings 2 and 6): big integers stay exact on
a remote node, and a remote node's error quoting a value larger than one message is still reported
as that node's error, bounded, not as a lost host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CUDA = {"gpu": {"type": "cuda"}}
EXIT_FAILURE = 1


def calculator_on(host: str) -> dict[str, Any]:
    manifest = json.loads((REPO_ROOT / "examples" / "manifests" / "calculator.json").read_text())
    for node in manifest["nodes"]:
        if node["id"] == "plus_five_1":
            node["host"] = host
            node["capabilities"] = CUDA
    return manifest


def test_big_integers_are_exact_through_a_remote_node(serve, remotemedia, profile, write_manifest):
    server = serve("--capabilities", profile("cuda-8gb"))
    remote = write_manifest(calculator_on(server.address))
    inputs = [2**200, -(10**50), 2**64 + 1]
    args = [arg for n in inputs for arg in ("--input", str(n))]
    result = remotemedia("run", remote, "--capabilities", profile("no-gpu"), *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(((n + 5) * 2) ** 2) for n in inputs]
    assert "node stream opened node=plus_five_1" in server.log()


def test_a_remote_error_quoting_a_huge_value_is_the_nodes_error(serve, remotemedia, profile, write_manifest, tmp_path):
    # The node's message quotes the 34 MB string twice over (message and traceback): more than the
    # 64 MiB message limit unless the server bounds it.
    server = serve("--capabilities", profile("cuda-8gb"))
    remote = write_manifest(calculator_on(server.address))
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("1\n" + json.dumps("x" * 34_000_000) + "\n")
    result = remotemedia(
        "run", remote, "--capabilities", profile("no-gpu"), "--input-file", inputs, "--max-input-line-mib", "64"
    )
    assert result.returncode == EXIT_FAILURE, result.stderr[-2000:]
    assert "node `plus_five_1` failed in process" in result.stderr, result.stderr[-2000:]
    assert "add expects a number or a list of numbers, got str" in result.stderr
    assert "characters left out" in result.stderr
    assert "lost host" not in result.stderr
    assert len(result.stderr) < 100_000
    assert result.stdout.split() == ["144"]
