"""Fixtures for isolated and sandboxed nodes: a module of user nodes that crash, misbehave or
record their lifecycle, manifests using them, and checks that no worker process is left."""

from __future__ import annotations

import itertools
import json
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

NODES_MODULE = textwrap.dedent(
    '''
    import os
    import sys

    from remotemedia.core.node import Node


    class Recorder(Node):
        """Passes items through; appends each lifecycle step (and its process id) to `log`."""

        def __init__(self, log: str, **kwargs):
            super().__init__(**kwargs)
            self.log = log

        def _mark(self, step):
            with open(self.log, "a", encoding="utf-8") as file:
                file.write(f"{self.name} {step} {os.getpid()}\\n")

        def initialize(self):
            self._mark("initialize")

        def process(self, item):
            return item

        def cleanup(self):
            self._mark("cleanup")


    class Crash(Node):
        """Passes `after` items through, then crashes the way `how` says on the next one."""

        def __init__(self, how: str, after: int = 1, log: str = "", **kwargs):
            super().__init__(**kwargs)
            self.how = how
            self.after = after
            self.log = log
            self.seen = 0

        def initialize(self):
            if self.log:
                with open(self.log, "a", encoding="utf-8") as file:
                    file.write(f"crasher initialize {os.getpid()}\\n")

        def process(self, item):
            self.seen += 1
            if self.seen <= self.after:
                return item
            print(f"about to crash: {self.how}", file=sys.stderr, flush=True)
            if self.how == "segfault":
                import ctypes
                ctypes.string_at(0)
            elif self.how == "abort":
                os.abort()
            elif self.how == "exit":
                os._exit(3)
            elif self.how == "memory":
                hog = bytearray(8 * 1024 * 1024 * 1024)
                return len(hog)
            elif self.how == "sleep":
                import time
                time.sleep(3600)
            raise ValueError(f"unknown crash {self.how}")


    class Filled(Node):
        """Turns an int k into a float32 array of 100,000 elements (400 KB), each equal to k."""

        def process(self, item):
            import array
            return array.array("f", [float(item)]) * 100_000


    class Keep(Node):
        """Keeps every array it receives; emits its process id, the type it received and the
        first element of every array kept so far."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.kept = []

        def process(self, item):
            self.kept.append(item)
            return [os.getpid(), type(item).__module__, [float(kept[0]) for kept in self.kept]]


    class Arrays(Node):
        """Turns an int n into a float32 array of n elements, and sums arrays it receives."""

        def process(self, item):
            import array
            if isinstance(item, int):
                return array.array("f", (float(i % 7) for i in range(item)))
            return float(sum(item))


    class Pid(Node):
        """Outputs the id of the process it runs in, with the input."""

        def process(self, item):
            return [item, os.getpid()]
    '''
)


@pytest.fixture
def nodes_dir(tmp_path: Path) -> Path:
    """A --python-path directory holding the `iso_nodes` module."""
    directory = tmp_path / "pynodes"
    directory.mkdir()
    (directory / "iso_nodes.py").write_text(NODES_MODULE)
    return directory


@pytest.fixture
def chain(tmp_path: Path) -> Callable[..., Path]:
    """Writes `nodes` (dicts with an `id`) as a chain, each feeding the next; returns the path."""

    def write(nodes: list[dict[str, Any]], name: str = "isolation") -> Path:
        document = {
            "version": "v1",
            "metadata": {"name": name},
            "nodes": nodes,
            "connections": [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)],
        }
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document, indent=2))
        return path

    return write


@pytest.fixture
def cpython_env() -> dict[str, str]:
    """The interpreter running the tests as the binary's CPython engine."""
    return {} if "REMOTEMEDIA_PYTHON" in os.environ else {"REMOTEMEDIA_PYTHON": sys.executable}
