"""Every pure-Python catalogue node gives the same outputs in the SDK's CPython run and in the binary.

Each case is a small pipeline and its inputs. The reference is `Pipeline.run` in this CPython; the
candidate is `remotemedia run` (embedded RustPython) on the serialized manifest and the same inputs.
Both sides are compared in the canonical JSON form, `remotemedia.core.values.to_jsonable`, which
the runtime also writes.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline
from remotemedia.core.values import from_jsonable, to_jsonable
from remotemedia.engine_api import catalogue, load_node_class
from remotemedia.nodes.audio.transforms import GainNode, MixDownNode, ResampleNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode, WavWriterNode
from remotemedia.nodes.base import BufferNode, PassThroughNode
from remotemedia.nodes.calculator import OPERATIONS, CalculatorNode
from remotemedia.nodes.io_nodes import DataSinkNode, DataSourceNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.nodes.subtitles import SubtitleWriterNode
from remotemedia.nodes.text import OPERATIONS as TEXT_OPERATIONS
from remotemedia.nodes.text import TextTransformNode

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SPEECH_WAV = str(REPO_ROOT / "examples" / "audio" / "speech.wav")

NUMBERS = [0, 1, -7, 2**63 - 1, -(2**63), 2.5, -0.125, 1e300, [1, 2.5, -3], []]
TEXTS = ["  Hello   Wörld  ", "", "ünïcødé ✓ façade", "tab\tand\nnewline", "a" * 1000]
MIXED = [
    None, True, False, 0, -1, 2**63, 2**64 - 1, 3.14159, -0.0, "text", "émoji 🎧", b"\x00\xffbytes", b"",
    [], [1, "two", [3.0, None]], {}, {"nested": {"deep": [{"a": 1}, {"b": b"\x01"}]}, "n": None},
    {"order": 1, "kept": 2, "as": 3, "given": 4},
]
TRANSCRIPTS = [
    {"start": 0.27, "end": 1.59, "text": "Hello and welcome.", "language": "en"},
    {"start": 2.0, "end": 2.5, "text": "  ", "language": "en"},
    {"start": 3661.0005, "end": 3662.9999, "text": "Ünïcødé ✓\n\nlines --> here", "language": None},
]


@dataclass
class Case:
    """A pipeline built by `build` (given a scratch directory) and fed `inputs`."""

    name: str
    build: Callable[[Path], list[Node]]
    inputs: list[Any] = field(default_factory=lambda: [None])

    def nodes(self, scratch: Path) -> list[Node]:
        return self.build(scratch)


def single(node: Callable[[], Node], inputs: list[Any], name: str) -> Case:
    return Case(name, lambda _scratch: [node()], inputs)


CASES: list[Case] = [
    single(lambda: PassThroughNode(), MIXED, "PassThroughNode"),
    single(lambda: BufferNode(size=4), MIXED, "BufferNode"),
    single(lambda: DataSourceNode(), MIXED, "DataSourceNode"),
    Case("DataSinkNode", lambda scratch: [DataSinkNode(path=str(scratch / "sink.jsonl"))], MIXED),
    *[single(lambda op=op: CalculatorNode(operation=op, operand=3), NUMBERS[:-3] + [[1, 2.5, -3]],
             f"CalculatorNode-{op}") for op in OPERATIONS if op != "power"],
    single(lambda: CalculatorNode(operation="power", operand=0.5), [0, 2, 2.25, [4, 9]], "CalculatorNode-power"),
    single(lambda: CalculatorNode(operation="modulo", operand=-4), [7, -7, 7.5], "CalculatorNode-modulo-negative"),
    # Ints beyond 64 bits made inside the pipeline, crossing between nodes.
    Case("CalculatorNode-big-ints", lambda _s: [CalculatorNode(operation="power", operand=50), AddNode(addend=-1),
                                                MultiplyNode(factor=-3)], [3, -3, 2, 2**40]),
    # Ints beyond 64 bits as JSON inputs, exact (serde_json's arbitrary_precision).
    single(lambda: PassThroughNode(), [-(2**70), 2**64, 10**30], "big-int-inputs"),
    single(lambda: MultiplyNode(factor=2.5), NUMBERS, "MultiplyNode"),
    single(lambda: AddNode(addend=-1), NUMBERS, "AddNode"),
    *[single(lambda op=op: TextTransformNode(operation=op), TEXTS, f"TextTransformNode-{op}")
      for op in TEXT_OPERATIONS if op != "replace"],
    single(lambda: TextTransformNode(operation="replace", old="a", new="ä"), TEXTS, "TextTransformNode-replace"),
    # Real audio: the example recording, every frame compared sample by sample.
    Case("WavReaderNode", lambda _s: [WavReaderNode(path=SPEECH_WAV, frame_ms=25)]),
    Case("MixDownNode", lambda _s: [WavReaderNode(path=SPEECH_WAV), MixDownNode()]),
    Case("GainNode", lambda _s: [WavReaderNode(path=SPEECH_WAV), GainNode(gain_db=9.5)]),
    Case("ResampleNode", lambda _s: [WavReaderNode(path=SPEECH_WAV), ResampleNode(target_rate=11025)]),
    Case("EnergyVADNode", lambda _s: [WavReaderNode(path=SPEECH_WAV), MixDownNode(), ResampleNode(target_rate=16000),
                                      EnergyVADNode(threshold_db=-45.0, min_silence_ms=200)]),
    Case("SubtitleWriterNode-srt", lambda scratch: [SubtitleWriterNode(path=str(scratch / "out.srt"))], TRANSCRIPTS),
    Case("SubtitleWriterNode-vtt", lambda scratch: [SubtitleWriterNode(path=str(scratch / "out.vtt"))], TRANSCRIPTS),
    Case("WavWriterNode", lambda scratch: [WavReaderNode(path=SPEECH_WAV), ResampleNode(target_rate=8000),
                                           WavWriterNode(path=str(scratch / "out.wav"))]),
]


def run_in_cpython(nodes: list[Node], inputs: list[Any]) -> list[Any]:
    pipeline = Pipeline(name="reference")
    for node in nodes:
        pipeline.add_node(node)
    return [to_jsonable(output) for output in pipeline.run(inputs)]


def run_in_binary(binary: Path, nodes: list[Node], inputs: list[Any], scratch: Path) -> list[Any]:
    pipeline = Pipeline(name="candidate")
    for node in nodes:
        pipeline.add_node(node)
    manifest = scratch / "manifest.json"
    manifest.write_text(pipeline.serialize())
    input_file = scratch / "inputs.jsonl"
    input_file.write_text("".join(json.dumps(to_jsonable(item)) + "\n" for item in inputs))
    result = subprocess.run([str(binary), "run", str(manifest), "--input-file", str(input_file), "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def in_scratch(outputs: list[Any], scratch: Path) -> list[Any]:
    """Outputs with the side's own scratch directory (e.g. in a file path) written as `<scratch>`."""
    return json.loads(json.dumps(outputs).replace(json.dumps(str(scratch))[1:-1], "<scratch>"))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name if isinstance(case, Case) else None)
def test_binary_matches_cpython(case: Case, remotemedia_bin: Path, tmp_path: Path):
    cpython_dir, binary_dir = tmp_path / "cpython", tmp_path / "binary"
    cpython_dir.mkdir()
    binary_dir.mkdir()
    # The inputs as the binary reads them back from JSON (bytes included), so both sides get the same.
    inputs = [from_jsonable(to_jsonable(item)) for item in case.inputs]

    expected = in_scratch(run_in_cpython(case.nodes(cpython_dir), inputs), cpython_dir)
    actual = in_scratch(run_in_binary(remotemedia_bin, case.nodes(binary_dir), inputs, binary_dir), binary_dir)

    assert actual == expected
    assert expected, "a case whose pipeline emits nothing compares nothing"
    # Files the nodes wrote are the same, byte for byte.
    written = sorted(path.name for path in cpython_dir.iterdir())
    assert written == sorted(path.name for path in binary_dir.iterdir() if path.name not in
                             ("manifest.json", "inputs.jsonl"))
    for name in written:
        assert (binary_dir / name).read_bytes() == (cpython_dir / name).read_bytes(), name


def test_every_pure_python_catalogue_node_has_a_case():
    pure_python = {name for name, module in catalogue().items()
                   if getattr(load_node_class(name), "runtime_hint", None) != "cpython"}
    covered = {type(node).__name__ for case in CASES if isinstance(case, Case)
               for node in case.nodes(Path("/nonexistent"))}
    assert pure_python - covered == set()


@pytest.mark.parametrize("node, item", [
    ({"id": "calc_0", "node_type": "CalculatorNode", "params": {"operation": "divide", "operand": 0}}, 5),
    ({"id": "mono_0", "node_type": "MixDownNode"}, "not a frame"),
    ({"id": "text_0", "node_type": "TextTransformNode", "params": {"operation": "upper"}}, 42),
], ids=["division-by-zero", "not-a-frame", "not-text"])
def test_errors_carry_the_same_type_and_message(node: dict, item: Any, remotemedia_bin: Path, tmp_path: Path):
    """Both sides rebuild the node from the manifest, so it has the same name (its id) in its messages."""
    document = {"version": "v1", "metadata": {"name": "fails"}, "nodes": [node]}
    with pytest.raises(Exception) as raised:
        Pipeline.from_manifest(document).run([item])
    cause = raised.value.__cause__ or raised.value
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(document))

    result = subprocess.run([str(remotemedia_bin), "run", str(manifest), "--input", json.dumps(item)],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert f"{type(cause).__name__}: {cause}" in result.stderr, (cause, result.stderr)
