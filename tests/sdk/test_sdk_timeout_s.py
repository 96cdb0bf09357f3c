"""A node's `timeout_s`, set in Python, reaches the manifest and the runtime: one slow call fails the
node, naming its timeout, instead of stalling the run (the manifest field of issue 16, point 3)."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path

from remotemedia.core.pipeline import Pipeline
from remotemedia.manifest import validate

EXIT_FAILURE = 1

STALL_MODULE = textwrap.dedent(
    """
    from remotemedia.core.node import Node

    class StallOnTwo(Node):
        \"\"\"Passes items through, but loops forever on the item 2.\"\"\"

        runtime_hint = "cpython"  # an interpreter the runtime can interrupt

        def process(self, data):
            while data == 2:
                pass
            return data
    """
)


def stall_pipeline(tmp_path: Path, monkeypatch, timeout_s: float | None) -> Pipeline:
    (tmp_path / "sdk_stall_nodes.py").write_text(STALL_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    stall = importlib.import_module("sdk_stall_nodes").StallOnTwo(name="stall")
    stall.timeout_s = timeout_s
    pipeline = Pipeline(name="own-timeout")
    pipeline.add_node(stall)
    return pipeline


def test_timeout_s_is_written_only_when_set(tmp_path, monkeypatch):
    unset = stall_pipeline(tmp_path, monkeypatch, None).export_definition()
    assert "timeout_s" not in unset["nodes"][0]
    manifest = stall_pipeline(tmp_path, monkeypatch, 0.5).export_definition()
    assert manifest["nodes"][0]["timeout_s"] == 0.5
    assert validate(manifest) == []


def test_a_node_past_its_own_timeout_fails_the_run_naming_it(tmp_path, monkeypatch, run_remotemedia):
    manifest = tmp_path / "own-timeout.json"
    manifest.write_text(stall_pipeline(tmp_path, monkeypatch, 0.5).serialize())
    env = {} if "REMOTEMEDIA_PYTHON" in os.environ else {"REMOTEMEDIA_PYTHON": sys.executable}
    result = run_remotemedia("run", manifest, "--python-path", tmp_path, "--input", "1", "--input", "2",
                             "--stop-timeout", "1", env=env)
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "node `stall_0` failed in process: it took longer than the node timeout of 0.5 s" in result.stderr
    assert result.stdout.split() == ["1"]
