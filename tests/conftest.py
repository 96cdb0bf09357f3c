"""Shared fixtures: where the repository is, the built `remotemedia` binary, and a runner for it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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


# Settings a developer may have exported that would change what a test runs; each test sets its own.
_DEVELOPER_SETTINGS = ("REMOTEMEDIA_PYTHON_RUNTIME", "REMOTEMEDIA_TOKEN", "REMOTEMEDIA_PYTHON_PATH")


def _binary_env(changes: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment for a `remotemedia` process: this one without the developer's settings,
    with `changes` applied (a None value removes the variable)."""
    environment = {key: value for key, value in os.environ.items() if key not in _DEVELOPER_SETTINGS}
    for key, value in (changes or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return environment


@pytest.fixture(scope="session")
def binary_env() -> Callable[..., dict[str, str]]:
    """`binary_env(changes)`: the environment every `remotemedia` process of the tests runs with."""
    return _binary_env


@pytest.fixture
def run_remotemedia(remotemedia_bin: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs the binary with `args` to completion; `env` entries are added to (or, when None, removed
    from) the environment; `stdin` is its standard input (none when not given)."""

    def run(
        *args: str | Path,
        env: dict[str, str | None] | None = None,
        stdin: str | None = None,
        timeout: float = RUN_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(remotemedia_bin), *map(str, args)],
            capture_output=True,
            text=True,
            env=_binary_env(env),
            timeout=timeout,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            cwd=REPO_ROOT,
        )

    return run


# What a stop has to get past: a node busy in `process` for ever. Its log says how far it got.
SPIN_NODES = textwrap.dedent(
    """
    from pathlib import Path
    from remotemedia.core.node import Node

    class Spin(Node):
        \"\"\"Writes `busy` to its log, then loops forever inside process.\"\"\"

        def __init__(self, log, **kwargs):
            super().__init__(**kwargs)
            self.log = Path(log)

        def process(self, data):
            with self.log.open("a") as log:
                log.write("busy\\n")
            while True:
                pass

        def cleanup(self):
            with self.log.open("a") as log:
                log.write("cleanup\\n")
    """
)


@pytest.fixture
def spin_nodes(tmp_path: Path) -> Path:
    """`tmp_path/spin_nodes.py`, the module of the `Spin` node (see `SPIN_NODES`), for a Python path."""
    module = tmp_path / "spin_nodes.py"
    module.write_text(SPIN_NODES)
    return module
