"""Nodes placed on CPython resolve through CPython: a class only CPython can import (its module needs
numpy, or lives only in CPython's site-packages) is found there, not reported missing; one CPython
cannot load either stops `plan` and `run` with exit 2 before any node is created."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

EXIT_INVALID = 2

NUMPY_NODES = textwrap.dedent(
    '''
    import numpy

    from remotemedia.core.node import Node


    class Doubler(Node):
        """Only CPython has numpy: RustPython cannot even import this module."""

        runtime_hint = "cpython"

        def process(self, data):
            return float(numpy.float64(data) * 2)
    '''
)


def _modules(tmp_path: Path) -> Path:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "numpy_nodes.py").write_text(NUMPY_NODES)
    (modules / "needs_missing.py").write_text("import a_package_nobody_installed\n")
    return modules


def test_a_class_only_cpython_can_import_resolves_there(run_binary, write_manifest, tmp_path: Path):
    modules = _modules(tmp_path)
    for hint in ("cpython", "auto"):
        manifest = write_manifest([{"id": "double", "node_type": "numpy_nodes:Doubler", "runtime_hint": hint}],
                                  name=f"numpy-{hint}")
        plan = run_binary("plan", manifest, "--python-path", modules, "--json")
        assert plan.returncode == 0, plan.stderr
        assert json.loads(plan.stdout)["nodes"][0]["engine"] == {"kind": "cpython"}
        run = run_binary("run", manifest, "--python-path", modules, "--input", "2.5")
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["5.0"]


def test_a_module_cpython_cannot_import_stops_the_run_before_it_starts(run_binary, write_manifest, tmp_path: Path):
    modules = _modules(tmp_path)
    for hint in ("cpython", "auto"):
        manifest = write_manifest(
            [{"id": "source", "node_type": "DataSourceNode"},
             {"id": "bad", "node_type": "needs_missing:Node", "runtime_hint": hint}],
            name=f"missing-{hint}",
        )
        for command in (["plan", manifest], ["run", manifest, "--input", "1"]):
            result = run_binary(*command, "--python-path", modules)
            assert result.returncode == EXIT_INVALID, result.stderr
            assert "node `bad` (needs_missing:Node): its module does not import in CPython" in result.stderr
            assert "a_package_nobody_installed" in result.stderr
            assert result.stdout == ""


def test_a_class_missing_from_cpython_is_named(run_binary, write_manifest, tmp_path: Path):
    modules = _modules(tmp_path)
    manifest = write_manifest([{"id": "bad", "node_type": "numpy_nodes:Tripler", "runtime_hint": "cpython"}])
    result = run_binary("run", manifest, "--python-path", modules, "--input", "1")
    assert result.returncode == EXIT_INVALID, result.stderr
    assert "node `bad` (numpy_nodes:Tripler): ConfigurationError: module 'numpy_nodes' has no class 'Tripler'" in (
        result.stderr
    )
