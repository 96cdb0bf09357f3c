"""Numbers come out as they went in, or the run fails saying why (issue 16, finding 2): integers of
any size stay exact through RustPython and CPython nodes, and a float JSON cannot carry (NaN,
infinity) fails the node that produced it, naming the input, instead of being written as `null`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

EXIT_FAILURE = 1
EXIT_INVALID = 2
BIG = [2**64 + 1, -(2**200), 10**400, 2**63, -(2**63) - 1]


def chain(manifest_file: Callable[..., Path], nodes: list[dict[str, Any]]) -> Path:
    return manifest_file(nodes, [(a["id"], b["id"]) for a, b in zip(nodes, nodes[1:])], name="exact")


def cpython_env() -> dict[str, str]:
    return {} if "REMOTEMEDIA_PYTHON" in os.environ else {"REMOTEMEDIA_PYTHON": sys.executable}


@pytest.mark.parametrize("engine", ["rustpython", "cpython"])
def test_integers_of_any_size_round_trip_exactly(run_remotemedia, manifest_file, engine):
    manifest = chain(manifest_file, [{"id": "same", "node_type": "PassThroughNode", "runtime_hint": engine}])
    args = [arg for n in BIG for arg in ("--input", str(n))]
    result = run_remotemedia("run", manifest, *args, env=cpython_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(n) for n in BIG]


@pytest.mark.parametrize("engine", ["rustpython", "cpython"])
def test_arithmetic_on_big_integers_is_exact(run_remotemedia, manifest_file, engine):
    manifest = chain(
        manifest_file,
        [{"id": "square", "node_type": "CalculatorNode", "params": {"operation": "power", "operand": 2},
          "runtime_hint": engine}],
    )
    result = run_remotemedia("run", manifest, "--input", str(2**100 + 1), env=cpython_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str((2**100 + 1) ** 2)]


def test_a_float_beyond_double_range_is_refused_not_made_infinite(run_remotemedia, manifest_file):
    manifest = chain(manifest_file, [{"id": "same", "node_type": "PassThroughNode"}])
    result = run_remotemedia("run", manifest, "--input", "1", "--input", "1e400")
    assert result.returncode == EXIT_INVALID
    assert "--input #2 is not valid: the number 1e+400 is too large for a float" in result.stderr


def test_an_integer_longer_than_pythons_limit_is_refused_naming_the_line(run_remotemedia, manifest_file, tmp_path):
    manifest = chain(manifest_file, [{"id": "same", "node_type": "PassThroughNode"}])
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("1\n" + "9" * 5000 + "\n")
    result = run_remotemedia("run", manifest, "--input-file", inputs)
    assert result.returncode == EXIT_INVALID
    assert "line 2: an integer of 5000 digits (at most 4300)" in result.stderr
    assert result.stdout.split() == ["1"]


@pytest.mark.parametrize("engine", ["rustpython", "cpython"])
def test_an_overflow_to_infinity_fails_the_node_naming_the_input(run_remotemedia, manifest_file, engine):
    # 1e308 times ten overflows to inf (Python floats do not raise on it); 3 comes first and is fine.
    manifest = chain(
        manifest_file,
        [{"id": "times_ten", "node_type": "CalculatorNode", "params": {"operation": "multiply", "operand": 10.0},
          "runtime_hint": engine}],
    )
    result = run_remotemedia("run", manifest, "--input", "3", "--input", "1e308", "--input", "4", env=cpython_env())
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert result.stdout.split() == ["30.0"]
    assert "node `times_ten` failed in process: its output for input #2 holds Infinity at `$`, which JSON cannot " \
        "carry" in result.stderr
    assert "null" not in result.stdout


def test_a_non_finite_audio_sample_fails_the_node_naming_where(run_remotemedia, manifest_file):
    manifest = chain(manifest_file, [{"id": "mono", "node_type": "MixDownNode"}])
    frame = {"samples": [0.25, 0.0, 0.5, 1e308], "sample_rate": 16000, "channels": 2}
    result = run_remotemedia("run", manifest, "--input", json.dumps(frame))
    assert result.returncode == EXIT_FAILURE, result.stderr
    # (0.5 + 1e308) / 2 is infinite as a float32 sample, the second of the mono frame.
    assert "node `mono` failed in process: its output for input #1 holds Infinity at `$.samples[1]`" in result.stderr
