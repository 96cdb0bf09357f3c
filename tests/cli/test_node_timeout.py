"""`run --node-timeout`, or a node's own `timeout_s`, fails one slow `process` call, naming the node
(issue 16, finding 4): the outputs before it are written and the run exits 1 — the node interrupted
and cleaned up where its engine can (CPython; RustPython with an interpreter of its own,
`--interpreters per-node`), the run stopped after --stop-timeout where it cannot (a RustPython node
sharing the run's interpreter, the default for a node that declares no core). An isolated or
sandboxed node is interrupted inside its worker process, and cleaned up there."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

EXIT_FAILURE = 1

STALL_MODULE = textwrap.dedent(
    """
    from pathlib import Path
    from remotemedia.core.node import Node

    class StallOnTwo(Node):
        \"\"\"Passes items through, but loops forever on the item 2.\"\"\"

        def __init__(self, log, **kwargs):
            super().__init__(**kwargs)
            self.log = Path(log)

        def process(self, data):
            while data == 2:
                pass
            return data

        def cleanup(self):
            self.log.write_text("cleanup")
    """
)


ENGINES = {
    "cpython": ("cpython",),
    "rustpython-per-node": ("rustpython", "--interpreters", "per-node"),
    "rustpython-shared": ("rustpython",),
    # In a worker process, a RustPython node has an interpreter of its own whatever --interpreters.
    "cpython-isolated": ("cpython", "--isolate"),
    "rustpython-isolated": ("rustpython", "--isolate"),
}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_call_past_the_node_timeout_fails_the_node(run_remotemedia, manifest_file, tmp_path, engine):
    hint, *options = ENGINES[engine]
    (tmp_path / "stall_nodes.py").write_text(STALL_MODULE)
    log = tmp_path / "cleanup.log"
    manifest = manifest_file(
        [{"id": "stall", "node_type": "StallOnTwo", "module": "stall_nodes", "params": {"log": str(log)},
          "runtime_hint": hint}],
        name="stall",
    )
    env = {} if "REMOTEMEDIA_PYTHON" in os.environ else {"REMOTEMEDIA_PYTHON": sys.executable}
    result = run_remotemedia(
        "run", manifest, "--python-path", tmp_path, "--input", "1", "--input", "2", "--input", "3",
        "--node-timeout", "1", "--stop-timeout", "1", *options, env=env,
    )
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "node `stall` failed in process: it took longer than the node timeout of 1 s" in result.stderr
    if engine != "rustpython-shared":
        assert result.stdout.split() == ["1"]
        assert log.read_text() == "cleanup"
        assert "did not stop" not in result.stderr
        # The timeout is the failure: the interruption that ended the call is not reported too.
        assert "KeyboardInterrupt" not in result.stderr, result.stderr
    else:
        # Left running, the node still holds the output of item 1 in the batch it was gathering
        # (it had more input waiting): the run exits without it. A known limit of a node sharing
        # the run's RustPython interpreter, which cannot be interrupted; the message says so.
        assert "node `stall` did not stop within 1 s (--stop-timeout)" in result.stderr
        assert "hint: `stall` shared the run's RustPython interpreter" in result.stderr


def test_calls_within_the_node_timeout_are_untouched(run_remotemedia, manifest_file, tmp_path):
    (tmp_path / "stall_nodes.py").write_text(STALL_MODULE)
    manifest = manifest_file(
        [{"id": "stall", "node_type": "StallOnTwo", "module": "stall_nodes",
          "params": {"log": str(tmp_path / "log")}}],
        name="stall",
    )
    result = run_remotemedia("run", manifest, "--python-path", tmp_path, "--input", "1", "--input", "3",
                             "--node-timeout", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "3"]


@pytest.mark.parametrize("engine", ["cpython", "rustpython-per-node"])
def test_a_nodes_own_timeout_in_the_manifest_fails_it_and_overrides_the_run_s(
    run_remotemedia, manifest_file, tmp_path, engine
):
    """`timeout_s` on the node: it applies without --node-timeout, and in place of a longer one;
    the other nodes keep the run's."""
    (tmp_path / "stall_nodes.py").write_text(STALL_MODULE)
    log = tmp_path / "cleanup.log"
    manifest = manifest_file(
        [{"id": "before", "node_type": "PassThroughNode"},
         {"id": "stall", "node_type": "StallOnTwo", "module": "stall_nodes", "params": {"log": str(log)},
          "runtime_hint": ENGINES[engine][0], "timeout_s": 0.5}],
        [("before", "stall")],
        name="own-timeout",
    )
    env = {} if "REMOTEMEDIA_PYTHON" in os.environ else {"REMOTEMEDIA_PYTHON": sys.executable}
    for run_timeout in ([], ["--node-timeout", "30"]):
        result = run_remotemedia(
            "run", manifest, "--python-path", tmp_path, "--input", "1", "--input", "2", "--input", "3",
            "--stop-timeout", "1", *ENGINES[engine][1:], *run_timeout, env=env,
        )
        assert result.returncode == EXIT_FAILURE, result.stderr
        assert "node `stall` failed in process: it took longer than the node timeout of 0.5 s" in result.stderr
        assert result.stdout.split() == ["1"]
        assert log.read_text() == "cleanup"
        assert "KeyboardInterrupt" not in result.stderr, result.stderr


@pytest.mark.parametrize("value", [0, -1, "1", 31536001])
def test_a_node_timeout_in_the_manifest_must_be_a_positive_number_of_seconds(run_remotemedia, manifest_file, value):
    manifest = manifest_file([{"id": "n", "node_type": "PassThroughNode", "timeout_s": value}], name="bad-timeout")
    result = run_remotemedia("validate", manifest)
    assert result.returncode == 2, result.stderr
    assert "/nodes/0/timeout_s" in result.stderr
