"""Node types that do not resolve stop `plan` and `run` with exit 2 before any node is created, naming
the node and why (with the closest catalogue names for a mistyped one); `validate --resolve` reports
the same at each node's `node_type`. Nodes CPython must load: tests/cpython/test_cpython_resolution.py."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

EXIT_INVALID = 2

# Leaves a mark for every node it creates, so a test can tell that none was.
MARKING_NODES = textwrap.dedent(
    '''
    import os

    from remotemedia.core.node import Node


    class Marked(Node):
        def __init__(self, marks: str, **kwargs):
            super().__init__(**kwargs)
            with open(marks, "a", encoding="utf-8") as file:
                file.write("created\\n")

        def process(self, data):
            return data
    '''
)


def _write(path: Path, nodes: list[dict]) -> Path:
    path.write_text(json.dumps({"version": "v1", "metadata": {"name": path.stem}, "nodes": nodes}))
    return path


def _setup(tmp_path: Path, bad: dict) -> tuple[Path, Path, Path]:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "marking.py").write_text(MARKING_NODES)
    (modules / "broken.py").write_text("def oops(:\n")
    (modules / "needs_missing.py").write_text("import a_package_nobody_installed\n")
    marks = tmp_path / "marks.txt"
    manifest = _write(
        tmp_path / "resolve.json",
        [{"id": "good", "node_type": "marking:Marked", "params": {"marks": str(marks)}}, bad],
    )
    return manifest, modules, marks


def _check_refused(run_remotemedia, tmp_path: Path, bad: dict, *expected: str) -> None:
    manifest, modules, marks = _setup(tmp_path, bad)
    for command in (["plan", manifest], ["run", manifest, "--input", "1"]):
        result = run_remotemedia(*command, "--python-path", modules)
        assert result.returncode == EXIT_INVALID, result.stderr
        assert result.stdout == ""
        assert "1 node's type does not resolve:" in result.stderr, result.stderr
        assert f"node `bad` ({bad['node_type']}): " in result.stderr, result.stderr
        for text in expected:
            assert text in result.stderr, result.stderr
        assert "node `good`" not in result.stderr
    assert not marks.exists(), "a node was created"


def test_an_unknown_type_names_the_closest_catalogue_names(run_remotemedia, tmp_path: Path) -> None:
    _check_refused(
        run_remotemedia,
        tmp_path,
        {"id": "bad", "node_type": "WhisperNode"},
        "not in the node catalogue",
        "closest catalogue names: WhisperTranscriptionNode",
    )


def test_a_type_nothing_is_close_to_is_named_without_suggestions(run_remotemedia, tmp_path: Path) -> None:
    _check_refused(run_remotemedia, tmp_path, {"id": "bad", "node_type": "AudioTransform"}, "not in the node catalogue")


def test_a_missing_module_says_where_it_was_looked_for(run_remotemedia, tmp_path: Path) -> None:
    _check_refused(
        run_remotemedia,
        tmp_path,
        {"id": "bad", "node_type": "marking_typo:Marked"},
        "No module named 'marking_typo'",
        "(Python path: ",
    )


def test_a_module_that_does_not_import_is_named_with_its_error(run_remotemedia, tmp_path: Path) -> None:
    _check_refused(run_remotemedia, tmp_path, {"id": "bad", "node_type": "broken:Node"}, "SyntaxError")


def test_a_module_whose_imports_fail_in_rustpython_is_named(run_remotemedia, tmp_path: Path) -> None:
    _check_refused(
        run_remotemedia,
        tmp_path,
        {"id": "bad", "node_type": "needs_missing:Node", "runtime_hint": "rustpython"},
        "its module does not import in RustPython",
        "a_package_nobody_installed",
    )


def test_a_missing_class_is_named(run_remotemedia, tmp_path: Path) -> None:
    _check_refused(
        run_remotemedia, tmp_path, {"id": "bad", "node_type": "Markd", "module": "marking"}, "has no class 'Markd'"
    )


def test_validate_resolve_reports_each_node_at_its_node_type(run_remotemedia, tmp_path: Path) -> None:
    manifest, modules, marks = _setup(tmp_path, {"id": "bad", "node_type": "CalculaterNode"})
    assert run_remotemedia("validate", manifest).returncode == 0  # the manifest itself is valid
    result = run_remotemedia("validate", "--resolve", "--python-path", modules, manifest, "--json")
    assert result.returncode == EXIT_INVALID, result.stderr
    (report,) = json.loads(result.stdout)
    assert report["valid"] is False
    (error,) = report["errors"]
    assert error["pointer"] == "/nodes/1/node_type"
    assert error["message"].startswith("node type `CalculaterNode` does not resolve: not in the node catalogue")
    assert error["message"].endswith("closest catalogue names: CalculatorNode")
    # Without the Python path, the user's own module does not resolve either.
    alone = run_remotemedia("validate", "--resolve", manifest)
    assert alone.returncode == EXIT_INVALID
    assert "/nodes/0/node_type: node type `marking:Marked` does not resolve" in alone.stderr
    assert not marks.exists()


def test_validate_resolve_accepts_what_resolves_and_python_path_needs_it(run_remotemedia, tmp_path: Path) -> None:
    manifest, modules, _ = _setup(tmp_path, {"id": "bad", "node_type": "CalculatorNode"})
    result = run_remotemedia("validate", "--resolve", "--python-path", modules, manifest)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{manifest}: valid"
    misuse = run_remotemedia("validate", "--python-path", modules, manifest)
    assert misuse.returncode == EXIT_INVALID
    assert "give --resolve too" in misuse.stderr


def test_plan_finds_user_modules_on_its_python_path(run_remotemedia, tmp_path: Path) -> None:
    manifest, modules, marks = _setup(tmp_path, {"id": "bad", "node_type": "PassThroughNode"})
    result = run_remotemedia("plan", manifest, "--python-path", modules, "--json")
    assert result.returncode == 0, result.stderr
    assert [node["engine"]["kind"] for node in json.loads(result.stdout)["nodes"]] == ["rustpython", "rustpython"]
    assert not marks.exists()  # planning loads classes; it creates no node


def test_a_node_placed_on_its_host_is_the_hosts_to_resolve(run_remotemedia, tmp_path: Path, profile) -> None:
    manifest = _write(
        tmp_path / "remote.json",
        [{"id": "asr", "node_type": "OnlyOnTheGpuBox", "host": "gpu-box:50051",
          "capabilities": {"gpu": {"type": "cuda"}}}],
    )
    result = run_remotemedia("plan", manifest, "--offline", "--capabilities", profile("no-gpu"))
    assert result.returncode == 0, result.stderr
    assert "remote gpu-box:50051" in result.stdout


def test_a_manifest_in_the_upstream_remote_form_runs_and_plan_says_so(run_remotemedia, repo_root: Path) -> None:
    manifest = repo_root / "tests/manifests/valid/upstream_remote_node.json"
    plan = run_remotemedia("plan", manifest, "--offline", "--json")
    assert plan.returncode == 0, plan.stderr
    nodes = {node["id"]: node for node in json.loads(plan.stdout)["nodes"]}
    calc = nodes["remote_calc_1"]
    assert calc["node_type"] == "CalculatorNode" and calc["engine"] == {"kind": "rustpython"}
    assert calc["reason"].endswith(
        "written as RemoteExecutionNode (the upstream SDK's remote form), runs as CalculatorNode"
    )
    assert "host gpu-server:50051 is not needed (local first)" in calc["reason"]
    # Nothing it needs is missing here, so it runs here: no host is contacted.
    result = run_remotemedia("run", manifest, "--input", "10", "--input", "-1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["15", "4"]


def test_an_isolated_nodes_module_is_left_to_its_worker(run_remotemedia, tmp_path: Path) -> None:
    """Its user code is not imported in the parent, outside its sandbox; a bare name is still
    checked against the catalogue, which imports nothing of the user's."""
    modules = tmp_path / "modules"
    modules.mkdir()
    imported = tmp_path / "imported.txt"
    (modules / "noisy.py").write_text(
        f"open({str(imported)!r}, 'a').write('imported\\n')\n"
        "from remotemedia.core.node import Node\n\n\n"
        "class Echo(Node):\n    def process(self, data):\n        return data\n"
    )
    for isolation in ("process", "sandbox"):
        manifest = _write(
            tmp_path / f"isolated-{isolation}.json",
            [{"id": "mine", "node_type": "noisy:Echo", "runtime_hint": "rustpython", "isolation": isolation}],
        )
        result = run_remotemedia("plan", manifest, "--python-path", modules)
        assert result.returncode == 0, result.stderr
        assert not imported.exists(), "the parent imported an isolated node's module"
    manifest = _write(
        tmp_path / "isolated-typo.json",
        [{"id": "bad", "node_type": "CalculaterNode", "isolation": "process"}],
    )
    result = run_remotemedia("run", manifest, "--input", "1")
    assert result.returncode == EXIT_INVALID, result.stderr
    assert "node `bad` (CalculaterNode): not in the node catalogue" in result.stderr
    assert "closest catalogue names: CalculatorNode" in result.stderr
