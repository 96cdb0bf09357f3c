"""`remotemedia run`: the real binary streaming JSON inputs through manifests run by RustPython."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

EXIT_FAILURE = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
# Generous: a hung binary fails the test instead of hanging the suite.
TIMEOUT_S = 60

# A user-defined node whose lifecycle leaves marks on disk, so a test can see cleanup happen in
# the binary's embedded interpreter.
RECORDER_MODULE = textwrap.dedent(
    '''
    from remotemedia.core.node import Node


    class Recorder(Node):
        """Passes items through; appends each lifecycle call to the file `log`."""

        def __init__(self, log: str, **kwargs):
            super().__init__(**kwargs)
            self.log = log

        def _mark(self, step: str) -> None:
            with open(self.log, "a", encoding="utf-8") as file:
                file.write(step + "\\n")

        def initialize(self) -> None:
            self._mark("initialize")

        def process(self, data):
            return data

        def flush(self):
            self._mark("flush")
            return None

        def cleanup(self) -> None:
            self._mark("cleanup")
    '''
)


def write_manifest(directory: Path, nodes: list[dict[str, Any]], connections: list[tuple[str, str]]) -> Path:
    path = directory / "pipeline.json"
    path.write_text(
        json.dumps(
            {
                "version": "v1",
                "metadata": {"name": "run-test"},
                "nodes": nodes,
                "connections": [{"from": a, "to": b} for a, b in connections],
            }
        )
    )
    return path


def run(binary: Path, *args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "run", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def calculator(repo_root: Path) -> Path:
    """(x + 5) * 2, squared: DataSource → Calculator → Multiply → Calculator → DataSink."""
    return repo_root / "examples" / "manifests" / "calculator.json"


def test_outputs_are_json_lines_in_input_order(remotemedia_bin: Path, calculator: Path) -> None:
    result = run(remotemedia_bin, calculator, "--input", "1", "--input", "2.5", "--input", "-5")

    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [144, 225.0, 0]


def test_several_sinks_tag_each_line_with_its_sink(remotemedia_bin: Path, tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        [
            {"id": "source", "node_type": "PassThroughNode"},
            {"id": "tens", "node_type": "MultiplyNode", "params": {"factor": 10}},
            {"id": "same", "node_type": "PassThroughNode"},
        ],
        [("source", "tens"), ("source", "same")],
    )
    result = run(remotemedia_bin, manifest, "--input", "1", "--input", "2")

    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert all(set(line) == {"sink", "value"} for line in lines)
    assert [line["value"] for line in lines if line["sink"] == "tens"] == [10, 20]
    assert [line["value"] for line in lines if line["sink"] == "same"] == [1, 2]


def test_inputs_from_a_json_lines_file_and_from_stdin(remotemedia_bin: Path, calculator: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("1\n\n2\n")  # a blank line is skipped

    from_file = run(remotemedia_bin, calculator, "--input-file", inputs)
    from_stdin = run(remotemedia_bin, calculator, "--input-file", "-", stdin="1\n2\n")

    assert from_file.returncode == 0, from_file.stderr
    assert json_lines(from_file.stdout) == [144, 196]
    assert (from_stdin.returncode, from_stdin.stdout) == (0, from_file.stdout)


def test_values_keep_their_json_shape(remotemedia_bin: Path, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [{"id": "same", "node_type": "PassThroughNode"}], [])
    value = {"text": "héllo", "list": [1, 2.5, None, True], "bytes": {"$bytes": "AAEC"}}
    result = run(remotemedia_bin, manifest, "--input", json.dumps(value))

    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [value]


def test_output_file(remotemedia_bin: Path, calculator: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    result = run(remotemedia_bin, calculator, "--input", "1", "--output", output)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json_lines(output.read_text()) == [144]


def test_a_bad_input_line_ends_the_run_with_exit_2_naming_file_and_line(
    remotemedia_bin: Path, calculator: Path, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("1\n2\n{oops\n4\n")
    result = run(remotemedia_bin, calculator, "--input-file", inputs)

    assert result.returncode == EXIT_INVALID
    assert f"`{inputs}` line 3: invalid JSON" in result.stderr
    assert json_lines(result.stdout) == [144, 196], "the lines before the bad one are processed"


def test_a_bad_input_argument_is_exit_2(remotemedia_bin: Path, calculator: Path) -> None:
    result = run(remotemedia_bin, calculator, "--input", "1", "--input", "[1,")

    assert result.returncode == EXIT_INVALID
    assert "--input #2 is not valid: invalid JSON" in result.stderr
    assert result.stdout == ""


def test_a_missing_input_file_is_exit_2_naming_it(remotemedia_bin: Path, calculator: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    result = run(remotemedia_bin, calculator, "--input-file", missing)

    assert result.returncode == EXIT_INVALID
    assert f"cannot read input file `{missing}`" in result.stderr


def test_an_invalid_manifest_is_exit_2(remotemedia_bin: Path, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [{"id": "a", "node_typ": "PassThroughNode"}], [])
    result = run(remotemedia_bin, manifest, "--input", "1")

    assert result.returncode == EXIT_INVALID
    assert "/nodes/0" in result.stderr


def test_a_zero_channel_capacity_is_exit_2(remotemedia_bin: Path, calculator: Path) -> None:
    result = run(remotemedia_bin, calculator, "--channel-capacity", "0")

    assert result.returncode == EXIT_INVALID
    assert "--channel-capacity" in result.stderr


def test_a_node_failure_is_exit_1_naming_node_error_and_traceback_after_earlier_outputs(
    remotemedia_bin: Path, tmp_path: Path
) -> None:
    manifest = write_manifest(
        tmp_path,
        [
            {"id": "source", "node_type": "PassThroughNode"},
            {"id": "plus", "node_type": "CalculatorNode", "params": {"operation": "add", "operand": 5}},
        ],
        [("source", "plus")],
    )
    result = run(remotemedia_bin, manifest, "--input", "1", "--input", "2", "--input", '"seven"')

    assert result.returncode == EXIT_FAILURE
    assert json_lines(result.stdout) == [6, 7], "outputs before the failure are written"
    assert "node `plus` failed in process" in result.stderr
    assert "add expects a number or a list of numbers, got str 'seven'" in result.stderr
    assert "Traceback" in result.stderr


def test_an_initialize_failure_is_exit_1_and_no_data_flows(remotemedia_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "recorder_nodes.py").write_text(RECORDER_MODULE)
    log = tmp_path / "lifecycle.log"
    manifest = write_manifest(
        tmp_path,
        [
            {"id": "record", "node_type": "Recorder", "module": "recorder_nodes", "params": {"log": str(log)}},
            {"id": "sink", "node_type": "DataSinkNode", "params": {"path": str(tmp_path / "no" / "such" / "dir.jsonl")}},
        ],
        [("record", "sink")],
    )
    result = run(remotemedia_bin, manifest, "--python-path", tmp_path, "--input", "1")

    assert result.returncode == EXIT_FAILURE
    assert "node `sink` failed in initialize" in result.stderr
    assert result.stdout == ""
    assert log.read_text().split() == ["initialize", "cleanup"]


def test_metrics_as_json(remotemedia_bin: Path, calculator: Path) -> None:
    result = run(remotemedia_bin, calculator, "--input", "1", "--input", "2", "--metrics", "--json")

    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stderr.strip().splitlines()[-1])
    counts = {node["node"]: (node["items_in"], node["items_out"]) for node in metrics["nodes"]}
    assert counts == {name: (2, 2) for name in ("numbers_0", "plus_five_1", "double_2", "square_3", "results_4")}
    assert all(node["process_seconds"] >= 0 and node["blocked_seconds"] >= 0 for node in metrics["nodes"])


SLOW_START_MODULE = textwrap.dedent(
    """
    import time
    from remotemedia.core.node import Node

    class SlowStart(Node):
        \"\"\"Loads for a second (a model, say), then handles each item in 50 ms.\"\"\"

        def initialize(self):
            time.sleep(1.0)

        def process(self, data):
            time.sleep(0.05)
            return data
    """
)


def test_metrics_tell_start_up_and_streaming_apart(remotemedia_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "slow_nodes.py").write_text(SLOW_START_MODULE)
    manifest = write_manifest(tmp_path, [{"id": "slow", "node_type": "SlowStart", "module": "slow_nodes"}], [])

    result = run(remotemedia_bin, manifest, "--python-path", tmp_path, "--input", "1", "--input", "2",
                 "--metrics", "--json")

    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stderr.strip().splitlines()[-1])
    # Start-up holds the second of loading; streaming the two items (100 ms of work), not the load.
    assert metrics["startup_seconds"] >= 1.0
    assert 0.1 <= metrics["streaming_seconds"] < metrics["startup_seconds"]

    table = run(remotemedia_bin, manifest, "--python-path", tmp_path, "--input", "1", "--metrics")
    assert table.returncode == 0, table.stderr
    assert re.search(r"^start-up \d+\.\d{3} ms, streaming \d+\.\d{3} ms$", table.stderr, re.MULTILINE), table.stderr


def test_metrics_of_a_run_that_never_streamed(remotemedia_bin: Path, tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        [{"id": "sink", "node_type": "DataSinkNode", "params": {"path": str(tmp_path / "no" / "such" / "dir.jsonl")}}],
        [],
    )

    result = run(remotemedia_bin, manifest, "--input", "1", "--metrics", "--json")

    assert result.returncode == EXIT_FAILURE
    metrics = json.loads(next(line for line in result.stderr.splitlines() if line.startswith("{")))
    assert metrics["streaming_seconds"] is None and metrics["startup_seconds"] is None
    assert metrics["nodes"] == [
        {"node": "sink", "items_in": 0, "items_out": 0, "process_seconds": 0.0, "blocked_seconds": 0.0}
    ]


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_cleans_up_every_node_and_keeps_the_outputs(
    remotemedia_bin: Path, tmp_path: Path, signal_number: int
) -> None:
    (tmp_path / "recorder_nodes.py").write_text(RECORDER_MODULE)
    log = tmp_path / "lifecycle.log"
    manifest = write_manifest(
        tmp_path,
        [
            {"id": "source", "node_type": "DataSourceNode"},
            {"id": "record", "node_type": "Recorder", "module": "recorder_nodes", "params": {"log": str(log)}},
        ],
        [("source", "record")],
    )
    # A long run: inputs come from a stdin that stays open until the signal.
    process = subprocess.Popen(
        [remotemedia_bin, "run", manifest, "--python-path", tmp_path, "--input-file", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        received = []
        for number in range(1, 4):
            process.stdin.write(f"{number}\n")
            process.stdin.flush()
            # Each output arrives while the run goes on: outputs are written as produced.
            received.append(json.loads(process.stdout.readline()))
        assert received == [1, 2, 3]

        # stdin stays open: the run is waiting for more input when the signal comes.
        process.send_signal(signal_number)
        process.wait(timeout=TIMEOUT_S)
        rest, stderr = process.stdout.read(), process.stderr.read()
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()

    assert process.returncode == EXIT_INTERRUPTED, stderr
    assert rest == ""
    assert "interrupted" in stderr
    assert log.read_text().split() == ["initialize", "cleanup"], "cleaned up, not flushed"


def test_a_reader_that_stops_early_ends_the_run_quietly(
    remotemedia_bin: Path, calculator: Path, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(f"{n}\n" for n in range(100_000)))
    # As `remotemedia run ... | head -2`: the reader closes the pipe after two lines.
    process = subprocess.Popen(
        [remotemedia_bin, "run", calculator, "--input-file", inputs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    first = [process.stdout.readline(), process.stdout.readline()]
    process.stdout.close()
    process.wait(timeout=TIMEOUT_S)
    stderr = process.stderr.read()
    process.stderr.close()

    assert json_lines("".join(first)) == [100, 144]
    assert (process.returncode, stderr) == (0, "")


def test_an_unwritable_output_file_is_exit_2_naming_it(
    remotemedia_bin: Path, calculator: Path, tmp_path: Path
) -> None:
    output = tmp_path / "missing-dir" / "out.jsonl"
    result = run(remotemedia_bin, calculator, "--input", "1", "--output", output)

    assert result.returncode == EXIT_INVALID
    assert f"cannot write output file `{output}`" in result.stderr
