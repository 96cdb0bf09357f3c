"""Timing samples a node reports itself (`Node.record_timing`) reach `run --metrics`, summarised per
name, from both Python engines."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

TIMED_MODULE = textwrap.dedent(
    """
    from remotemedia.core.node import Node

    class Timed(Node):
        \"\"\"Reports item/1000 s as `wait` per item, and 0.5 s as `final` at flush.\"\"\"

        def process(self, data):
            self.record_timing("wait", data / 1000)
            return data

        def flush(self):
            self.record_timing("final", 0.5)

    class BadTiming(Node):
        def process(self, data):
            self.record_timing("wait", -1)
    """
)


def manifest(tmp_path: Path, node_type: str, engine: str) -> Path:
    (tmp_path / "timed_nodes.py").write_text(TIMED_MODULE)
    node = {"id": "timed", "node_type": node_type, "module": "timed_nodes", "runtime_hint": engine}
    path = tmp_path / "timed.json"
    path.write_text(json.dumps({"version": "v1", "metadata": {"name": "timed"}, "nodes": [node], "connections": []}))
    return path


@pytest.mark.parametrize("engine", ["rustpython", "cpython"])
def test_timing_samples_are_summarised_per_node_and_name(run_remotemedia, tmp_path, engine):
    path = manifest(tmp_path, "Timed", engine)
    inputs = [arg for value in range(1, 11) for arg in ("--input", str(value))]
    env = {"REMOTEMEDIA_PYTHON": sys.executable}
    result = run_remotemedia("run", path, "--python-path", tmp_path, *inputs, "--metrics", "--json", env=env)
    assert result.returncode == 0, result.stderr
    (node,) = json.loads(result.stderr.strip().splitlines()[-1])["nodes"]
    assert node["timings"] == [
        {"name": "final", "count": 1, "median_seconds": 0.5, "p90_seconds": 0.5, "max_seconds": 0.5},
        {"name": "wait", "count": 10, "median_seconds": 0.005, "p90_seconds": 0.009, "max_seconds": 0.01},
    ]
    table = run_remotemedia("run", path, "--python-path", tmp_path, *inputs, "--metrics", env=env)
    assert table.returncode == 0, table.stderr
    assert re.search(
        r"^timed wait: 10 samples, median 5\.000 ms, p90 9\.000 ms, max 10\.000 ms$", table.stderr, re.MULTILINE
    ), table.stderr


def test_a_bad_timing_sample_fails_the_node_that_recorded_it(run_remotemedia, tmp_path):
    result = run_remotemedia("run", manifest(tmp_path, "BadTiming", "rustpython"), "--python-path", tmp_path,
                             "--input", "1")
    assert result.returncode == 1
    assert "node `timed` failed in process" in result.stderr
    assert "seconds must be a finite number >= 0, got -1" in result.stderr
