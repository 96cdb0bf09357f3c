"""Fixtures for remote execution: a real `remotemedia serve` on an ephemeral loopback port."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
PROFILES_DIR = REPO_ROOT / "tests" / "profiles"
# Hang guards only: a broken server or client fails the test instead of stalling the suite.
START_TIMEOUT_S = 30
RUN_TIMEOUT_S = 60


@dataclass
class Server:
    """A running `remotemedia serve`: its `host:port`, its process, and what it logged."""

    address: str
    process: subprocess.Popen[str]
    _log: list[str]

    def log(self) -> str:
        return "".join(self._log)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=RUN_TIMEOUT_S)


@pytest.fixture
def serve(remotemedia_bin: Path, binary_env: Callable[..., dict[str, str]]) -> Iterator[Callable[..., Server]]:
    """Starts `remotemedia serve --listen 127.0.0.1:0 ARGS…` and waits for its `listening on` line."""
    started: list[Server] = []

    def start(*args: str | Path) -> Server:
        process = subprocess.Popen(
            [str(remotemedia_bin), "serve", "--listen", "127.0.0.1:0", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=binary_env({"RUST_LOG": "info"}),
        )
        lines: queue.Queue[str] = queue.Queue()
        log: list[str] = []
        threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
        threading.Thread(target=lambda: [log.append(line) for line in process.stderr], daemon=True).start()
        try:
            first = lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            process.kill()
            pytest.fail(f"serve did not start: {''.join(log)}")
        assert first.startswith("listening on 127.0.0.1:"), first + "".join(log)
        server = Server(first.removeprefix("listening on ").strip(), process, log)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                server.process.kill()


@pytest.fixture
def remotemedia(
    run_remotemedia: Callable[..., subprocess.CompletedProcess[str]],
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs the binary to completion (tests/conftest.py's `run_remotemedia`), under this suite's name."""
    return run_remotemedia


@pytest.fixture
def profile() -> Callable[[str], Path]:
    def path(name: str) -> Path:
        return PROFILES_DIR / f"{name}.json"

    return path


@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    def write(manifest: dict[str, Any], name: str = "manifest") -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(manifest))
        return path

    return write
