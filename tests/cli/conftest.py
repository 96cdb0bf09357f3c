"""Fixtures for driving the real `remotemedia` binary: manifests on disk and machine profiles
(the runner, `run_remotemedia`, is shared from tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"


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

