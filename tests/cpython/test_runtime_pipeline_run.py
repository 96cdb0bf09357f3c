"""`Pipeline.run()` from Python executes on the Rust runtime in this process, with the same results
as the executable and the pure-CPython local run."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from cpython_helpers import json_lines, speech_pipeline
from remotemedia.runtime import RuntimeUnavailableError, choose_engine, native_module, runtime_plan
from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline
from remotemedia.core.values import to_jsonable
from remotemedia.nodes.calculator import CalculatorNode


class Counter(Node):
    """Defined in a test module RustPython cannot import: runs in this interpreter, as this object."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen: list = []

    def process(self, data):
        self.seen.append(data)
        return len(self.seen)


class Exploding(Node):
    def process(self, data):
        return {"ratio": 1 / data}


def test_the_three_ways_give_the_same_outputs(run_binary, tmp_path: Path):
    manifest = tmp_path / "mixed.json"
    manifest.write_text(speech_pipeline().serialize())
    binary = run_binary("run", manifest, "--input", "null", "--quiet")
    assert binary.returncode == 0, binary.stderr

    on_runtime = [to_jsonable(item) for item in speech_pipeline().run([None])]
    local = [to_jsonable(item) for item in speech_pipeline().run([None], engine="python")]
    assert on_runtime == local == json_lines(binary.stdout)
    assert len(local) == 3


def test_async_variant_returns_the_same():
    pipeline = Pipeline("p").add_node(CalculatorNode(operation="multiply", operand=3))
    assert asyncio.run(pipeline.run_async([1, 2.5, [2]])) == [3, 7.5, [6]]


def test_async_variant_takes_the_cluster_too():
    # A refused port: the run fails at once, naming the cluster it was given (tests/cluster has the
    # real ones).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"ray://127.0.0.1:{probe.getsockname()[1]}"
    node = CalculatorNode(name="calc", operation="add", operand=1)
    node.placement = "cluster"
    with pytest.raises(ConfigurationError, match=f"cannot reach the Ray cluster at {address}"):
        asyncio.run(Pipeline("p").add_node(node).run_async([1], cluster=address))


def test_user_nodes_run_as_the_callers_objects_and_pure_nodes_in_rustpython():
    counter = Counter(name="count")
    pipeline = Pipeline("p").add_node(CalculatorNode(name="calc", operation="add", operand=1)).add_node(counter)
    assert pipeline.run([1, 2, 3]) == [1, 2, 3]
    assert counter.seen == [2, 3, 4]  # the very object received the items
    engines = {entry["id"]: entry["engine"] for entry in runtime_plan(pipeline)}
    assert engines == {"calc_0": "rustpython", "count_1": "cpython"}


def test_a_node_exception_raises_node_error_with_node_type_and_traceback():
    pipeline = Pipeline("p").add_node(CalculatorNode(name="calc", operation="add", operand=-2)).add_node(
        Exploding(name="boom"))
    with pytest.raises(NodeError) as caught:
        pipeline.run([2])
    error = caught.value
    assert error.node_id == "boom_1" and error.stage == "process"
    assert error.exception_type == "ZeroDivisionError"
    assert "Traceback (most recent call last)" in error.traceback and "1 / data" in error.traceback
    assert str(error).startswith("node 'boom_1' failed in process: ZeroDivisionError: division by zero")


def test_errors_in_rustpython_nodes_read_as_in_the_local_run():
    pipeline = Pipeline("p").add_node(CalculatorNode(name="div", operation="divide", operand=0))
    messages = []
    for engine in ("runtime", "python"):
        with pytest.raises(NodeError) as caught:
            pipeline.run([4], engine=engine)
        messages.append(str(caught.value).splitlines()[0])
        assert caught.value.node_id == "div_0"
    assert messages[0] == messages[1]


def test_unknown_engine_is_refused():
    with pytest.raises(ConfigurationError, match="engine must be one of runtime, python"):
        choose_engine("gpu")


def test_a_missing_native_module_is_an_error_saying_how_to_get_it(monkeypatch, run_python):
    monkeypatch.delenv("REMOTEMEDIA_NATIVE_MODULE", raising=False)
    monkeypatch.delenv("REMOTEMEDIA_ENGINE", raising=False)
    result = run_python("-c", "from remotemedia.core.pipeline import Pipeline\n"
                              "from remotemedia.nodes.base import PassThroughNode\n"
                              "Pipeline('p').add_node(PassThroughNode()).run([1])\n", check=False)
    assert result.returncode != 0
    assert "RuntimeUnavailableError" in result.stderr and 'engine="python"' in result.stderr
    assert "pip install ." in result.stderr


def test_the_native_module_loads():
    assert native_module().__name__ == "remotemedia._native"


def test_an_audio_source_is_decoded_natively_and_runs_every_node_natively(repo_root, tmp_path: Path):
    """`Pipeline.run(AudioSource(...))` on the runtime: the MP3 is decoded in Rust, every node is
    native, and the results are the reference's (the pure-CPython run on the WAV it was made from)."""
    from remotemedia.audio import AudioSource
    from remotemedia.pipeline_scripts import load_script

    script = load_script(repo_root / "examples" / "pipelines" / "speech_audio.py")
    on_runtime = script.build(output_path=str(tmp_path / "runtime.wav"))
    assert {entry["engine"] for entry in runtime_plan(on_runtime)} == {"native"}

    from_wav = on_runtime.run(AudioSource(repo_root / "examples" / "audio" / "speech.wav"))
    reference = script.build(output_path=str(tmp_path / "reference.wav")).run(
        AudioSource(repo_root / "examples" / "audio" / "speech.wav"), engine="python")
    # The same segments and summary (the recording's own path aside); two sinks end in either order.
    def canonical(items):
        return sorted(json.dumps({**to_jsonable(item), "path": None} if "path" in item else to_jsonable(item))
                      for item in items)

    assert canonical(from_wav) == canonical(reference)
    assert (tmp_path / "runtime.wav").read_bytes() == (tmp_path / "reference.wav").read_bytes()

    from_mp3 = script.build(output_path=str(tmp_path / "mp3.wav")).run(
        AudioSource(repo_root / "examples" / "audio" / "speech.mp3"))
    segments = [(item["start"], item["end"]) for item in from_mp3 if "start" in item]
    expected = [(item["start"], item["end"]) for item in reference if "start" in item]
    assert len(segments) == len(expected) == 3
    assert all(abs(a - b) <= 0.03 + 1e-9 for got, want in zip(segments, expected) for a, b in zip(got, want))


def test_an_audio_source_that_cannot_be_read_says_which(tmp_path: Path):
    from remotemedia.audio import AudioSource
    from remotemedia.core.exceptions import PipelineError

    garbage = tmp_path / "noise.mp3"
    garbage.write_bytes(b"not audio at all" * 100)
    pipeline = Pipeline("p").add_node(CalculatorNode(operation="add", operand=1))
    with pytest.raises(PipelineError, match="noise.mp3"):
        pipeline.run(AudioSource(garbage))
