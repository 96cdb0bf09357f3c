"""Shared fixtures: where the repository is, and the built `remotemedia` binary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def run_python():
    """Run this interpreter in a fresh process, from the repository root, with the SDK importable."""

    def run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "python")}
        return subprocess.run(
            [sys.executable, *args], input=stdin, capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=check
        )

    return run


@pytest.fixture(scope="session")
def remotemedia_bin() -> Path:
    """The release `remotemedia` binary: $REMOTEMEDIA_BIN, else <$CARGO_TARGET_DIR or ./target>/release.

    Missing is a failure, not a skip: the cross-language tests are the point of this suite.
    """
    explicit = os.environ.get("REMOTEMEDIA_BIN")
    if explicit:
        binary = Path(explicit)
    else:
        target_dir = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
        binary = target_dir / "release" / "remotemedia"
    if not binary.is_file():
        pytest.fail(
            f"the remotemedia binary is missing at {binary}; build it with "
            "`cargo build --release -p remotemedia-cli` (or set REMOTEMEDIA_BIN)",
            pytrace=False,
        )
    return binary


@pytest.fixture(autouse=True)
def pure_cpython_pipeline_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Across the suite `Pipeline.run()` is the reference: the pure-CPython local run. Its default,
    the Rust runtime in-process, is tested against it in tests/cpython, which lifts this."""
    monkeypatch.setenv("REMOTEMEDIA_ENGINE", "python")
