"""Remote = local for what crosses the wire (issue 16, findings 2 and 6): big integers stay exact on
a remote node, and a remote node's error quoting a value larger than one message is still reported
as that node's error, bounded, not as a lost host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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


MAX_DEPTH = 32  # remotemedia_core::value::MAX_DEPTH


def nested(levels: int, kind: str) -> Any:
    """`levels` lists or dicts, one inside the other, the innermost empty."""
    value: Any = [] if kind == "list" else {}
    for _ in range(levels - 1):
        value = [value] if kind == "list" else {"k": value}
    return value


def pass_through(host: str | None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": "same", "node_type": "PassThroughNode"}
    if host:
        node.update(host=host, capabilities=CUDA)
    return {"version": "v1", "metadata": {"name": "deep"}, "nodes": [node], "connections": []}


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_the_deepest_value_allowed_is_the_same_locally_and_remotely(
    serve, remotemedia, profile, write_manifest, kind
):
    server = serve("--capabilities", profile("cuda-8gb"))
    deepest = json.dumps(nested(MAX_DEPTH + 1, kind))
    too_deep = json.dumps(nested(MAX_DEPTH + 2, kind))
    for host in (None, server.address):
        manifest = write_manifest(pass_through(host), "remote" if host else "local")
        allowed = remotemedia("run", manifest, "--capabilities", profile("no-gpu"), "--input", deepest)
        assert allowed.returncode == 0, allowed.stderr
        assert json.loads(allowed.stdout) == json.loads(deepest)
        refused = remotemedia("run", manifest, "--capabilities", profile("no-gpu"), "--input", too_deep)
        assert refused.returncode == 2, refused.stderr
        assert f"nest more than {MAX_DEPTH} levels deep" in refused.stderr
    assert "node stream opened node=same" in server.log()


DEEP_MODULE = '''
from remotemedia.core.node import Node

class Deepen(Node):
    """Wraps each item in 40 lists."""

    def process(self, data):
        for _ in range(40):
            data = [data]
        return data
'''


def test_a_node_output_nested_too_deep_fails_the_same_way_locally_and_remotely(
    serve, remotemedia, profile, write_manifest, tmp_path
):
    (tmp_path / "deep_nodes.py").write_text(DEEP_MODULE)
    server = serve("--capabilities", profile("cuda-8gb"), "--python-path", tmp_path)
    node: dict[str, Any] = {"id": "deepen", "node_type": "Deepen", "module": "deep_nodes"}
    errors = []
    for host in (None, server.address):
        placed = dict(node, host=host, capabilities=CUDA) if host else node
        manifest = write_manifest({"version": "v1", "metadata": {"name": "d"}, "nodes": [placed], "connections": []})
        result = remotemedia("run", manifest, "--capabilities", profile("no-gpu"), "--python-path", tmp_path,
                             "--input", "1")
        assert result.returncode == EXIT_FAILURE, result.stderr
        assert "node `deepen` failed in process" in result.stderr
        assert f"the item nests lists/dicts more than {MAX_DEPTH} levels deep" in result.stderr
        assert "lost host" not in result.stderr
        errors.append(result.stderr)
