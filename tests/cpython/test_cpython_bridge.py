"""The executable runs nodes that need C extensions in a CPython it loads at run time, next to
RustPython nodes, and never links libpython itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cpython_helpers import SPEECH_WAV, json_lines, speech_pipeline
from remotemedia.core.values import to_jsonable

# The numpy resampler, with a Kaiser beta its native implementation does not offer: left to `auto`
# it runs its Python class, which needs numpy, so CPython.
NUMPY_NODE = {"id": "resample", "node_type": "SincResampleNode", "params": {"target_rate": 16000, "beta": 5.0}}


def test_the_executable_links_no_libpython_and_neither_does_the_bridge(remotemedia_bin: Path):
    bridge = remotemedia_bin.parent / "libremotemedia_cpython_bridge.so"
    for artefact in (remotemedia_bin, bridge):
        linked = subprocess.run(["ldd", str(artefact)], capture_output=True, text=True, check=True).stdout
        assert "libpython" not in linked, f"{artefact.name} links libpython:\n{linked}"


def test_rustpython_cpython_rustpython_equals_the_pure_cpython_run(run_binary, tmp_path: Path):
    document = json.loads(speech_pipeline().serialize())
    for node in document["nodes"]:  # the pure nodes in RustPython, not their native implementations
        node.setdefault("runtime_hint", "rustpython")
    manifest = tmp_path / "mixed.json"
    manifest.write_text(json.dumps(document))

    plan = run_binary("plan", manifest, "--json")
    assert plan.returncode == 0, plan.stderr
    engines = {node["id"]: node["engine"]["kind"] for node in json.loads(plan.stdout)["nodes"]}
    assert engines == {"reader_0": "rustpython", "mono_1": "rustpython", "resample_2": "cpython",
                       "vad_3": "rustpython"}

    result = run_binary("run", manifest, "--input", "null", "--quiet")
    assert result.returncode == 0, result.stderr
    expected = [to_jsonable(item) for item in speech_pipeline().run([None], engine="python")]
    assert json_lines(result.stdout) == expected
    assert len(expected) == 3  # the three sentences


def test_an_auto_node_goes_to_cpython_because_its_class_declares_it(run_binary, write_manifest):
    manifest = write_manifest([{**NUMPY_NODE, "runtime_hint": "auto"}])
    result = run_binary("plan", manifest)
    assert result.returncode == 0, result.stderr
    assert "its class declares runtime_hint cpython" in result.stdout


def test_an_auto_node_whose_module_imports_a_c_extension_goes_to_cpython(run_binary, write_manifest,
                                                                          tmp_path: Path):
    (tmp_path / "spectral.py").write_text(
        "import numpy\n"
        "from remotemedia.core.node import Node\n\n"
        "class Peak(Node):\n"
        "    def process(self, data):\n"
        "        return float(numpy.abs(numpy.asarray(data)).max())\n")
    manifest = write_manifest([{"id": "peak", "node_type": "Peak", "module": "spectral"}])
    path_env = {"REMOTEMEDIA_PYTHON_PATH": str(tmp_path)}

    plan = run_binary("plan", manifest, env=path_env)
    assert plan.returncode == 0, plan.stderr
    assert "cpython" in plan.stdout and "does not import in RustPython" in plan.stdout
    assert "numpy" in plan.stdout

    result = run_binary("run", manifest, "--input", "[0.5, -2, 1]", "--quiet", env=path_env)
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [2.0]


def test_the_override_forces_a_pure_node_into_cpython(run_binary, write_manifest):
    manifest = write_manifest([{"id": "calc", "node_type": "CalculatorNode",
                                "params": {"operation": "multiply", "operand": 3}}])
    env = {"REMOTEMEDIA_PYTHON_RUNTIME": "cpython"}
    plan = run_binary("plan", manifest, env=env)
    assert "REMOTEMEDIA_PYTHON_RUNTIME=cpython" in plan.stdout
    result = run_binary("run", manifest, "--input", "7", "--input", "[1, 2.5]", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [21, [3, 7.5]]


def test_without_any_python_a_numpy_manifest_fails_before_data_flows_and_a_pure_one_runs(
        run_binary, write_manifest, tmp_path: Path):
    hidden = {"PATH": str(tmp_path / "empty-bin"), "REMOTEMEDIA_PYTHON": str(tmp_path / "no-python"),
              "VIRTUAL_ENV": None}
    (tmp_path / "empty-bin").mkdir()
    marker = tmp_path / "flowed.jsonl"
    numpy_manifest = write_manifest([
        {"id": "source", "node_type": "DataSinkNode", "params": {"path": str(marker)}},
        NUMPY_NODE,
    ], name="numpy")
    result = run_binary("run", numpy_manifest, "--input", "1", "--quiet", env=hidden)
    assert result.returncode == 2
    assert "node `resample` needs the CPython engine" in result.stderr
    assert "REMOTEMEDIA_PYTHON" in result.stderr
    assert not marker.exists(), "data flowed into the pipeline before the failure"

    pure = write_manifest([{"id": "calc", "node_type": "CalculatorNode",
                            "params": {"operation": "add", "operand": 5}}], name="pure")
    result = run_binary("run", pure, "--input", "10", "--quiet", env=hidden)
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [15]


def test_a_python_exception_in_a_cpython_node_names_the_node_with_its_traceback(run_binary, write_manifest):
    manifest = write_manifest([
        {"id": "first", "node_type": "PassThroughNode"},
        {"id": "divide", "node_type": "CalculatorNode", "params": {"operation": "divide", "operand": 0},
         "runtime_hint": "cpython"},
    ])
    result = run_binary("run", manifest, "--input", "4", "--quiet")
    assert result.returncode == 1
    assert "node `divide` failed in process" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "ZeroDivisionError: division by zero" in result.stderr
    assert "in process" in result.stderr and "calculator.py" in result.stderr


def test_print_in_a_cpython_node_goes_to_stderr_labelled_leaving_stdout_to_results(run_binary, write_manifest,
                                                                                  tmp_path: Path):
    (tmp_path / "chatty.py").write_text(
        "from remotemedia.core.node import Node\n\n"
        "class Chatty(Node):\n"
        "    runtime_hint = 'cpython'\n"
        "    def process(self, data):\n"
        "        print('seen', data)\n"
        "        return data\n")
    manifest = write_manifest([{"id": "talker", "node_type": "chatty:Chatty"}])
    result = run_binary("run", manifest, "--input", "3", "--quiet", "--python-path", tmp_path)
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [3]
    assert "[talker] seen 3" in result.stderr


def test_arrays_reach_cpython_nodes_as_numpy_views_of_the_runtime_buffer(run_binary, write_manifest,
                                                                         tmp_path: Path):
    (tmp_path / "inspect_array.py").write_text(
        "from remotemedia.core.node import Node\n\n"
        "class Inspect(Node):\n"
        "    runtime_hint = 'cpython'\n"
        "    def process(self, frame):\n"
        "        samples = frame['samples']\n"
        "        return {'type': type(samples).__module__ + '.' + type(samples).__name__,\n"
        "                'dtype': str(samples.dtype), 'owns_data': bool(samples.flags.owndata),\n"
        "                'writeable': bool(samples.flags.writeable), 'base': type(samples.base).__name__,\n"
        "                'first': float(samples[0]), 'length': len(samples)}\n")
    manifest = write_manifest([
        {"id": "reader", "node_type": "WavReaderNode", "params": {"path": str(SPEECH_WAV), "frame_ms": 20}},
        {"id": "inspect", "node_type": "inspect_array:Inspect"},
    ])
    result = run_binary("run", manifest, "--input", "null", "--quiet", "--python-path", tmp_path)
    assert result.returncode == 0, result.stderr
    first = json_lines(result.stdout)[0]
    # No copy: numpy views the runtime's shared buffer, read-only because other nodes may share it.
    assert first["type"] == "numpy.ndarray" and first["dtype"] == "float32"
    assert first["owns_data"] is False and first["writeable"] is False and first["base"] == "SharedArray"
    assert first["length"] == 882 * 2  # 20 ms of 44.1 kHz stereo


def test_the_interpreter_named_by_remotemedia_python_is_the_one_used(run_binary, write_manifest, tmp_path: Path):
    (tmp_path / "which.py").write_text(
        "import sys\n"
        "from remotemedia.core.node import Node\n\n"
        "class Which(Node):\n"
        "    runtime_hint = 'cpython'\n"
        "    def process(self, data):\n"
        "        return {'prefix': sys.prefix, 'version': list(sys.version_info[:2])}\n")
    manifest = write_manifest([{"id": "which", "node_type": "which:Which"}])
    result = run_binary("run", manifest, "--input", "0", "--quiet", "--python-path", tmp_path,
                        env={"REMOTEMEDIA_PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [{"prefix": sys.prefix, "version": list(sys.version_info[:2])}]


@pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3 on PATH")
def test_a_python_without_numpy_fails_the_numpy_node_at_initialize_saying_what_to_install(
        run_binary, write_manifest, tmp_path: Path):
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    manifest = write_manifest([NUMPY_NODE])
    result = run_binary("run", manifest, "--input", "null", "--quiet",
                        env={"REMOTEMEDIA_PYTHON": None, "VIRTUAL_ENV": str(venv)})
    assert result.returncode == 1
    assert "node `resample` failed in initialize" in result.stderr
    assert "pip install numpy" in result.stderr
