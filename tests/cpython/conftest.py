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
def run_binary(remotemedia_bin: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs `remotemedia ARGS`; `env` entries are set (or, when None, removed). The engine override
    of the developer's shell never leaks in."""

    def run(*args: str | Path, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
        environment = dict(os.environ)
        environment.pop("REMOTEMEDIA_PYTHON_RUNTIME", None)
        # The interpreter running the tests is the one with numpy, onnxruntime … installed.
        environment.setdefault("REMOTEMEDIA_PYTHON", sys.executable)
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return subprocess.run([str(remotemedia_bin), *map(str, args)], capture_output=True, text=True,
                              env=environment, timeout=120, stdin=subprocess.DEVNULL)

    return run


@pytest.fixture(scope="session", autouse=True)
def native_module_from_the_build(remotemedia_bin: Path) -> None:
    """`Pipeline.run()` on the runtime uses the native module the same `cargo build --release` made,
    next to the binary (no second build through maturin)."""
    built = remotemedia_bin.parent / "libremotemedia_native.so"
    if not built.is_file():
        pytest.fail(f"the native module is missing at {built}; build it with `make build`", pytrace=False)
    os.environ.setdefault("REMOTEMEDIA_NATIVE_MODULE", str(built))


@pytest.fixture(autouse=True)
def pipeline_run_default_engine(monkeypatch: pytest.MonkeyPatch, pure_cpython_pipeline_runs: None) -> None:
    """Here `Pipeline.run()` keeps its default, the runtime (the suite pins the local run)."""
    monkeypatch.delenv("REMOTEMEDIA_ENGINE", raising=False)
