"""Shared fixtures: where the repository is, the built `remotemedia` binary, and a runner for it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Generous: a hung binary fails the test instead of hanging the suite.
RUN_TIMEOUT_S = 60


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


@pytest.fixture
def run_remotemedia(remotemedia_bin: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs the binary with `args`; `env` entries are added to (or, when None, removed from) the environment."""

    def run(
        *args: str | Path, env: dict[str, str | None] | None = None, timeout: float = RUN_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
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
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run
