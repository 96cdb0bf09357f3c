"""Python-side manifest validation: the schema plus the graph rules, every error with its pointer."""

from __future__ import annotations

import copy
import json

import pytest
from remotemedia.core.exceptions import InvalidManifestError
from remotemedia.manifest import require_valid, validate

SEED_MANIFEST = """{
  "version": "v1",
  "metadata": {"name": "pipeline-name", "description": "Optional description", "created_at": "2025-10-22T12:00:00Z"},
  "nodes": [
    {"id": "node_0", "node_type": "NodeClassName", "params": {"key": "value"},
     "capabilities": {"gpu": {"type": "cuda", "min_memory_gb": 4.0, "required": false}, "memory_gb": 8.0},
     "host": "remote-server:50051"}
  ],
  "connections": []
}"""

VALID = {
    "version": "v1",
    "metadata": {"name": "p"},
    "nodes": [
        {"id": "a", "node_type": "PassThroughNode"},
        {"id": "b", "node_type": "PassThroughNode"},
        {"id": "c", "node_type": "PassThroughNode"},
    ],
    "connections": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}],
}


def changed(edit) -> dict:
    manifest = copy.deepcopy(VALID)
    edit(manifest)
    return manifest


def test_the_seed_manifest_is_valid():
    assert validate(SEED_MANIFEST) == []
    assert require_valid(SEED_MANIFEST)["nodes"][0]["host"] == "remote-server:50051"


INVALID = [
    ("wrong version", lambda m: m.update(version="v2"), "/version", 'must be "v1"'),
    ("empty nodes", lambda m: m.update(nodes=[], connections=[]), "/nodes", "must not be empty"),
    ("missing metadata", lambda m: m.pop("metadata"), "", "missing required field 'metadata'"),
    ("duplicate id", lambda m: m["nodes"][2].update(id="a"), "/nodes/2/id", "duplicate node id 'a'"),
    (
        "dangling connection",
        lambda m: m["connections"].append({"from": "c", "to": "ghost"}),
        "/connections/2/to",
        "no node has id 'ghost'",
    ),
    ("self-loop", lambda m: m["connections"].append({"from": "c", "to": "c"}), "/connections/2", "connected to itself"),
    ("cycle", lambda m: m["connections"].append({"from": "c", "to": "a"}), "/connections/0", "cycle: a -> b -> c -> a"),
    (
        "bad host",
        lambda m: m["nodes"][0].update(host="no spaces allowed:1"),
        "/nodes/0/host",
        "host must be 'host:port'",
    ),
    ("port out of range", lambda m: m["nodes"][0].update(host="gpu:70000"), "/nodes/0/host", "port 70000 is outside"),
    ("port zero", lambda m: m["nodes"][0].update(host="gpu:0"), "/nodes/0/host", "port 0 is outside"),
    ("host without port", lambda m: m["nodes"][0].update(host="gpu"), "/nodes/0/host", "host must be 'host:port'"),
    (
        "wrong type",
        lambda m: m["nodes"][1].update(params=[1, 2]),
        "/nodes/1/params",
        "expected an object, got an array",
    ),
    (
        "unknown field",
        lambda m: m["nodes"][1].update(parms={}),
        "/nodes/1/parms",
        "unknown field 'parms' (did you mean 'params'?)",
    ),
    (
        "bad gpu type",
        lambda m: m["nodes"][0].update(capabilities={"gpu": {"type": "tpu"}}),
        "/nodes/0/capabilities/gpu/type",
        'must be one of "cuda"',
    ),
    (
        "bad timestamp",
        lambda m: m["metadata"].update(created_at="2025-10-22 12:00"),
        "/metadata/created_at",
        "ending in Z",
    ),
    ("bad id", lambda m: m["nodes"][0].update(id="a b"), "/nodes/0/id", "may only contain"),
]


@pytest.mark.parametrize("edit, pointer, message", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_each_mistake_is_reported_where_it_is(edit, pointer, message):
    errors = validate(changed(edit))
    assert any(error.pointer == pointer and message in error.message for error in errors), errors


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"version": ', "malformed JSON"),
        ("[1, 2]", "expected an object, got an array"),
        ("[" * 100_000 + "]" * 100_000, "malformed JSON: nested more than 127 arrays and objects deep"),
        (" \n", "the manifest is empty; expected a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_unreadable_documents_are_one_error_at_the_root(text, message):
    (error,) = validate(text)
    assert error.pointer == "" and message in error.message


def test_all_schema_errors_are_reported_at_once():
    def many(m):
        m["version"] = "v0"
        m["metadata"]["nmae"] = "typo"
        m["nodes"][1]["params"] = "x=1"
        m["nodes"][2]["capabilities"] = {"gpu": {"type": "tpu"}, "memory_gb": -1}

    assert [error.pointer for error in validate(changed(many))] == [
        "/metadata/nmae",
        "/nodes/1/params",
        "/nodes/2/capabilities/gpu/type",
        "/nodes/2/capabilities/memory_gb",
        "/version",
    ]


def test_all_graph_errors_are_reported_at_once():
    def many(m):
        m["nodes"][1]["id"] = "a"
        m["nodes"][2]["host"] = "gpu:99999"
        m["connections"].append({"from": "c", "to": "c"})

    assert [str(error) for error in validate(changed(many))] == [
        "/nodes/1/id: duplicate node id 'a' (first at /nodes/0/id)",
        "/nodes/2/host: port 99999 is outside 1-65535",
        "/connections/0/to: no node has id 'b'",
        "/connections/1/from: no node has id 'b'",
        "/connections/2: node 'c' is connected to itself",
    ]


def test_graph_rules_wait_for_a_sound_structure_as_in_the_runtime():
    """A duplicate id is only reported once the schema errors are fixed, as the runtime does."""
    errors = validate(changed(lambda m: (m.update(version="v2"), m["nodes"][2].update(id="a"))))
    assert [error.pointer for error in errors] == ["/version"]


def test_too_deep_documents_are_refused_with_the_place():
    deep: list = []
    params = {"p": deep}
    for _ in range(200):
        deep.append([])
        deep = deep[0]
    manifest = changed(lambda m: m["nodes"][0].update(params=params))
    (error,) = validate(manifest)
    assert error.pointer == "/nodes/0/params/p" + "/0" * 123
    assert error.message == "nested more than 127 arrays and objects deep"


def test_every_cycle_is_named():
    manifest = {
        "version": "v1",
        "metadata": {"name": "p"},
        "nodes": [{"id": i, "node_type": "PassThroughNode"} for i in "abcxy"],
        "connections": [
            {"from": "a", "to": "b"},
            {"from": "b", "to": "c"},
            {"from": "c", "to": "a"},
            {"from": "x", "to": "y"},
            {"from": "y", "to": "x"},
        ],
    }
    messages = sorted(error.message for error in validate(manifest))
    assert messages == ["cycle: a -> b -> c -> a", "cycle: x -> y -> x"]


def test_a_very_large_manifest_validates():
    size = 5_000
    manifest = {
        "version": "v1",
        "metadata": {"name": "big"},
        "nodes": [{"id": f"n{i}", "node_type": "PassThroughNode"} for i in range(size)],
        "connections": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(size - 1)],
    }
    assert validate(json.dumps(manifest)) == []
    manifest["connections"].append({"from": f"n{size - 1}", "to": "n0"})
    (error,) = validate(manifest)
    assert error.message.startswith("cycle: n0 -> n1 -> ") and error.message.endswith(f"n{size - 1} -> n0")


def test_require_valid_raises_with_every_error():
    with pytest.raises(InvalidManifestError) as caught:
        require_valid(changed(lambda m: m["nodes"][2].update(id="a")))
    assert [error.pointer for error in caught.value.errors] == ["/nodes/2/id", "/connections/1/to"]
    assert "invalid manifest (2 errors):\n  /nodes/2/id: duplicate node id 'a'" in str(caught.value)


def test_the_shared_invalid_corpus_is_rejected(repo_root):
    """Every manifest the runtime's validator must reject, Python rejects too, with pointers."""
    corpus = sorted((repo_root / "tests" / "manifests" / "invalid").glob("*.json"))
    if not corpus:
        pytest.skip("tests/manifests/invalid is not in this checkout yet")
    for path in corpus:
        errors = validate(path.read_bytes())
        assert errors, f"{path.name} was accepted"
        assert all(error.pointer == "" or error.pointer.startswith("/") for error in errors), path.name
