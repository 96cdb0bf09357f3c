"""Fixtures for the CPython engine's tests: manifests on disk and the binary run with a chosen
environment (PATH, REMOTEMEDIA_PYTHON …)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[..., Path]:
    """Writes a chain of `nodes` (each feeding the next) as a v1 manifest; returns its path."""

    def write(nodes: list[dict[str, Any]], name: str = "cpython-test") -> Path:
        document = {
            "version": "v1",
            "metadata": {"name": name},
            "nodes": nodes,
            "connections": [{"from": a["id"], "to": b["id"]} for a, b in zip(nodes, nodes[1:])],
        }
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document, indent=2))
        return path

    return write


@pytest.fixture
def run_binary(
    run_remotemedia: Callable[..., subprocess.CompletedProcess[str]],
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_remotemedia`, with the interpreter running the tests (the one with numpy, onnxruntime …
    installed) as the CPython engine unless the environment or `env` names another."""

    def run(*args: str | Path, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
        interpreter = {} if "REMOTEMEDIA_PYTHON" in os.environ else {"REMOTEMEDIA_PYTHON": sys.executable}
        return run_remotemedia(*args, env={**interpreter, **(env or {})}, timeout=120)

    return run


@pytest.fixture(scope="session", autouse=True)
def native_module_from_the_build(remotemedia_bin: Path) -> None:
    """`Pipeline.run()` on the runtime uses the native module the same `cargo build --release` made,
    next to the binary (no second build through maturin)."""
    built = remotemedia_bin.parent / "libremotemedia_python_ext.so"
    if not built.is_file():
        pytest.fail(f"the native module is missing at {built}; build it with `make build`", pytrace=False)
    os.environ.setdefault("REMOTEMEDIA_NATIVE_MODULE", str(built))


@pytest.fixture(autouse=True)
def pipeline_run_default_engine(monkeypatch: pytest.MonkeyPatch, pure_cpython_pipeline_runs: None) -> None:
    """Here `Pipeline.run()` keeps its default, the runtime (the suite pins the local run)."""
    monkeypatch.delenv("REMOTEMEDIA_ENGINE", raising=False)
