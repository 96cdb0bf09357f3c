"""Fixtures for driving the real `remotemedia` binary: manifests on disk, machine profiles, a runner."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"
# Generous: a hung binary fails the test instead of hanging the suite.
RUN_TIMEOUT_S = 60


@pytest.fixture(scope="session")
def profile() -> Callable[[str], Path]:
    """Path of a machine profile in tests/profiles/, by name (`cuda-8gb`)."""

    def path(name: str) -> Path:
        found = PROFILES_DIR / f"{name}.json"
        assert found.is_file(), f"no machine profile {found}"
        return found

    return path


@pytest.fixture
def manifest_file(tmp_path: Path) -> Callable[..., Path]:
    """Writes a v1 manifest of `nodes` (and `connections`) to a file and returns its path."""

    def write(
        nodes: list[dict[str, Any]],
        connections: Iterable[tuple[str, str]] = (),
        name: str = "placement-test",
    ) -> Path:
        document = {
            "version": "v1",
            "metadata": {"name": name},
            "nodes": nodes,
            "connections": [{"from": a, "to": b} for a, b in connections],
        }
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document, indent=2))
        return path

    return write


@pytest.fixture
def run_remotemedia(remotemedia_bin: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs the binary with `args`; `env` entries are added to (or, when None, removed from) the environment."""

    def run(*args: str | Path, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
        environment = dict(os.environ)
        # The tests choose the Python runtime themselves; a developer's setting must not leak in.
        environment.pop("REMOTEMEDIA_PYTHON_RUNTIME", None)
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return subprocess.run(
            [str(remotemedia_bin), *map(str, args)],
            capture_output=True,
            text=True,
            env=environment,
            timeout=RUN_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )

    return run

