"""`remotemedia validate` as users run it: the real release binary on the shared manifest corpus.

Exit codes (0 valid, 2 invalid or unreadable), where each message goes, the JSON pointers of every
error, `-` for standard input, `--json`, several files at once, and extreme inputs generated here
(100 000 nested arrays, a 50 MB manifest of 100 000 nodes) that must end promptly and never panic.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent.parent / "manifests"
INVALID = CORPUS / "invalid"
EXPECTED_POINTERS: dict[str, list[str]] = json.loads((CORPUS / "invalid_expected_pointers.json").read_text())
VALID = sorted((CORPUS / "valid").glob("*.json"))
EXAMPLES = sorted((CORPUS.parent.parent / "examples" / "manifests").glob("*.json"))

# Generous: a guard against a hang, not a performance assertion.
TIMEOUT_SECONDS = 300


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def validate(remotemedia_bin: Path):
    """Runs `remotemedia validate ARGS` and checks what every run must satisfy: no panic."""

    def run(*args: str | Path, stdin: bytes | None = None, cwd: Path | None = None) -> Run:
        done = subprocess.run(
            [str(remotemedia_bin), "validate", *map(str, args)],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            cwd=cwd,
            timeout=TIMEOUT_SECONDS,
        )
        result = Run(done.returncode, done.stdout.decode(), done.stderr.decode())
        assert "panicked" not in result.stdout + result.stderr, result.stderr
        assert result.code in (0, 2), result
        return result

    return run


def error_pointers(stderr: str, file: str) -> list[str]:
    """The pointers of the `FILE: POINTER: message` lines, `(root)` read back as ""."""
    pointers = []
    for line in stderr.splitlines():
        assert line.startswith(f"{file}: "), line
        pointer = line[len(file) + 2 :].split(": ", 1)[0]
        pointers.append("" if pointer == "(root)" else pointer)
    return pointers


def test_every_invalid_corpus_file_is_listed_with_its_expected_pointers():
    on_disk = sorted(path.name for path in INVALID.glob("*.json"))
    assert on_disk == sorted(EXPECTED_POINTERS)


@pytest.mark.parametrize("name", sorted(EXPECTED_POINTERS))
def test_invalid_manifest_exits_2_naming_every_pointer(validate, name):
    result = validate(name, cwd=INVALID)
    assert result.code == 2
    assert result.stdout == ""
    assert sorted(error_pointers(result.stderr, name)) == sorted(EXPECTED_POINTERS[name])


@pytest.mark.parametrize("path", VALID + EXAMPLES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_valid_manifest_exits_0(validate, path):
    result = validate(path)
    assert (result.code, result.stdout, result.stderr) == (0, f"{path}: valid\n", "")


def test_the_seed_manifest_validates_from_standard_input(validate):
    result = validate("-", stdin=(CORPUS / "valid" / "seed.json").read_bytes())
    assert (result.code, result.stdout, result.stderr) == (0, "-: valid\n", "")


def test_an_invalid_manifest_on_standard_input(validate):
    result = validate("-", stdin=(INVALID / "duplicate_id.json").read_bytes())
    assert result.code == 2
    assert result.stderr == "-: /nodes/2/id: duplicate node id 'a' (first at /nodes/0/id)\n"


def test_several_files_are_all_reported_and_one_bad_file_fails_the_run(validate):
    result = validate("valid/seed.json", "invalid/self_loop.json", "valid/minimal.json", cwd=CORPUS)
    assert result.code == 2
    assert result.stdout == "valid/seed.json: valid\nvalid/minimal.json: valid\n"
    assert result.stderr == "invalid/self_loop.json: /connections/1: node 'b' is connected to itself\n"


def test_unreadable_files_are_named_and_exit_2(validate, tmp_path):
    missing = tmp_path / "missing.json"
    result = validate(missing, tmp_path, CORPUS / "valid" / "seed.json")
    assert result.code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{missing}: (root): cannot read '{missing}': ")
    assert lines[1].startswith(f"{tmp_path}: (root): cannot read '{tmp_path}': ")
    assert result.stdout == f"{CORPUS / 'valid' / 'seed.json'}: valid\n"


def test_json_output_shape(validate, tmp_path):
    missing = tmp_path / "missing.json"
    result = validate("--json", "valid/seed.json", "invalid/two_cycles.json", "-", missing,
                      stdin=b"[1, 2", cwd=CORPUS)
    assert result.code == 2
    assert result.stderr == ""
    reports = json.loads(result.stdout)
    assert [report["file"] for report in reports] == ["valid/seed.json", "invalid/two_cycles.json", "-", str(missing)]
    assert [report["valid"] for report in reports] == [True, False, False, False]
    for report in reports:
        assert set(report) == {"file", "valid", "errors"}
        assert report["valid"] == (report["errors"] == [])
        for error in report["errors"]:
            assert set(error) == {"pointer", "message"}
            assert isinstance(error["pointer"], str) and error["message"]
    assert reports[1]["errors"] == [
        {"pointer": "/connections/0", "message": "cycle: a -> b -> a"},
        {"pointer": "/connections/2", "message": "cycle: x -> y -> z -> x"},
    ]
    assert reports[2]["errors"] == [
        {"pointer": "", "message": "malformed JSON: EOF while parsing a list at line 1 column 5"}
    ]
    assert reports[3]["errors"][0]["message"].startswith(f"cannot read '{missing}'")


def test_json_output_of_all_valid_files_exits_0(validate):
    result = validate("--json", *VALID)
    assert result.code == 0
    assert json.loads(result.stdout) == [{"file": str(path), "valid": True, "errors": []} for path in VALID]


# Snapshots of the exact text users see, for representative cases.

def test_snapshot_unknown_field_with_a_suggestion(validate):
    result = validate("unknown_node_field.json", "unknown_top_level_field.json", cwd=INVALID)
    assert result.stderr == (
        "unknown_node_field.json: /nodes/0: missing required field 'node_type'\n"
        "unknown_node_field.json: /nodes/0/node_typ: unknown field 'node_typ' (did you mean 'node_type'?)\n"
        "unknown_top_level_field.json: /conections: unknown field 'conections' (did you mean 'connections'?)\n"
    )


def test_snapshot_all_graph_errors_at_once(validate):
    result = validate("many_graph_errors.json", cwd=INVALID)
    assert result.stderr == (
        "many_graph_errors.json: /nodes/1/host: port 0 is outside 1-65535\n"
        "many_graph_errors.json: /nodes/2/id: duplicate node id 'a' (first at /nodes/0/id)\n"
        "many_graph_errors.json: /connections/1/to: no node has id 'nowhere'\n"
        "many_graph_errors.json: /connections/2: node 'c' is connected to itself\n"
        "many_graph_errors.json: /connections/0: cycle: a -> b -> a\n"
    )


def test_snapshot_wrong_types_say_expected_and_found(validate):
    result = validate("memory_gb_string.json", "gpu_type_unknown.json", "root_number.json", cwd=INVALID)
    assert result.stderr == (
        "memory_gb_string.json: /nodes/0/capabilities/memory_gb: expected a number, got the string \"8GB\"\n"
        "gpu_type_unknown.json: /nodes/0/capabilities/gpu/type: "
        "must be one of \"cuda\", \"rocm\", \"metal\", \"vulkan\", \"any\", got the string \"tpu\"\n"
        "root_number.json: (root): expected an object, got the number 42\n"
    )


# Extreme inputs, generated rather than committed.

def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_one_hundred_thousand_nested_arrays(validate, tmp_path):
    at_root = tmp_path / "deep_root.json"
    at_root.write_text(nested_arrays(100_000))
    in_params = tmp_path / "deep_params.json"
    in_params.write_text('{"version": "v1", "metadata": {"name": "p"}, "nodes": [{"id": "a", '
                         f'"node_type": "T", "params": {{"deep": {nested_arrays(100_000)}}}}}]}}')
    result = validate(at_root, in_params)
    assert result.code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    for path, line in zip((at_root, in_params), lines):
        assert line.startswith(f"{path}: (root): malformed JSON: nested more than 127 arrays and objects deep")


def chain(count: int, filler: str = "") -> dict:
    return {
        "version": "v1",
        "metadata": {"name": "large"},
        "nodes": [{"id": f"n{i}", "node_type": "PassThroughNode", "params": {"filler": filler}} for i in range(count)],
        "connections": [{"from": f"n{i - 1}", "to": f"n{i}"} for i in range(1, count)],
    }


def test_a_fifty_megabyte_manifest_of_100_000_nodes_is_valid(validate, tmp_path):
    path = tmp_path / "large.json"
    path.write_text(json.dumps(chain(100_000, "x" * 440)))
    assert path.stat().st_size > 50_000_000
    result = validate(path)
    assert (result.code, result.stdout, result.stderr) == (0, f"{path}: valid\n", "")


def test_a_ring_of_100_000_nodes_is_one_named_cycle(validate, tmp_path):
    ring = chain(100_000)
    ring["connections"].append({"from": "n99999", "to": "n0"})
    path = tmp_path / "ring.json"
    path.write_text(json.dumps(ring))
    result = validate("--json", path)
    assert result.code == 2
    (report,) = json.loads(result.stdout)
    (error,) = report["errors"]
    assert error["pointer"] == "/connections/0"
    assert error["message"].startswith("cycle: n0 -> n1 -> n2 -> ")
    assert error["message"].endswith(" -> n99999 -> n0")


def test_a_cycle_is_named_along_its_edges_when_they_are_declared_out_of_node_order(validate, tmp_path):
    """The loop a -> c -> b -> a, its edges listed backwards: the message follows the edges (a name
    list in node order, a -> b -> c, would describe edges that do not exist)."""
    manifest = tmp_path / "backwards.json"
    manifest.write_text(json.dumps({
        "version": "v1",
        "metadata": {"name": "backwards"},
        "nodes": [{"id": node_id, "node_type": "PassThroughNode"} for node_id in ("a", "b", "c", "d")],
        "connections": [{"from": "d", "to": "a"}, {"from": "b", "to": "a"}, {"from": "c", "to": "b"},
                        {"from": "a", "to": "c"}],
    }))
    result = validate(manifest.name, cwd=tmp_path)
    assert result.code == 2
    assert result.stderr == "backwards.json: /connections/1: cycle: a -> c -> b -> a\n"
