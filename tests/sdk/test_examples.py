"""The example pipelines: their committed manifests are current and valid, and they run."""

from __future__ import annotations

import json
import wave

import pytest
from remotemedia.manifest import validate
from remotemedia.pipeline_scripts import build_pipeline, export_manifest


def scripts(repo_root):
    return sorted((repo_root / "examples" / "pipelines").glob("*.py"))


def without_timestamp(manifest: dict) -> dict:
    return {**manifest, "metadata": {k: v for k, v in manifest["metadata"].items() if k != "created_at"}}


def test_every_script_has_its_committed_manifest_and_no_other(repo_root):
    manifests = sorted(path.stem for path in (repo_root / "examples" / "manifests").glob("*.json"))
    assert manifests == [path.stem for path in scripts(repo_root)]
    assert len(manifests) >= 5


def test_committed_manifests_equal_regenerated_ones(repo_root):
    for script in scripts(repo_root):
        committed = json.loads((repo_root / "examples" / "manifests" / f"{script.stem}.json").read_text())
        regenerated = json.loads(export_manifest(script))
        assert without_timestamp(committed) == without_timestamp(regenerated), (
            f"{script.name} changed: python -m remotemedia export examples/pipelines/*.py --out-dir examples/manifests"
        )


def test_committed_manifests_are_valid(repo_root):
    for path in (repo_root / "examples" / "manifests").glob("*.json"):
        assert validate(path.read_text()) == [], path.name


SEED_USAGE = """from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.io_nodes import DataSourceNode, DataSinkNode

# Create pipeline
pipeline = Pipeline(name="example")
pipeline.add_node(DataSourceNode(name="input"))
pipeline.add_node(CalculatorNode(name="calc", operation="add", operand=5))
pipeline.add_node(DataSinkNode(name="output"))

# Serialize to Rust-compatible manifest
manifest_json = pipeline.serialize(description="My pipeline")
"""


def test_seed_example_runs_verbatim_and_prints_a_valid_manifest(run_python, repo_root):
    assert SEED_USAGE in (repo_root / "examples" / "seed_pipeline.py").read_text()
    manifest = json.loads(run_python("examples/seed_pipeline.py").stdout)
    assert validate(manifest) == []
    assert manifest["metadata"]["description"] == "My pipeline"
    assert [node["node_type"] for node in manifest["nodes"]] == ["DataSourceNode", "CalculatorNode", "DataSinkNode"]


@pytest.mark.parametrize(
    "name, inputs, expected",
    [
        ("calculator", [1, 2, 3], [144, 196, 256]),
        (
            "text_processing",
            ["  pipelines   with remote media  ", "run\tanywhere"],
            ["Pipelines With Remotemedia", "Run Anywhere"],
        ),
    ],
)
def test_linear_examples_run(repo_root, name, inputs, expected):
    assert build_pipeline(repo_root / "examples" / "pipelines" / f"{name}.py").run(inputs) == expected


def test_fan_out_fan_in_example_merges_both_branches(repo_root):
    pipeline = build_pipeline(repo_root / "examples" / "pipelines" / "fan_out_fan_in.py")
    assert sorted(pipeline.run([1, 2, 3])) == [1, 2, 4, 4, 6, 9]


def test_speech_recording_example_writes_the_16k_stream_and_finds_speech(repo_root, tmp_path):
    from remotemedia.pipeline_scripts import load_script

    output = tmp_path / "speech-16k.wav"
    pipeline = load_script(repo_root / "examples" / "pipelines" / "speech_recording.py").build(output_path=str(output))
    outputs = pipeline.run([str(repo_root / "examples" / "audio" / "speech.wav")])
    segments = [item for item in outputs if "start" in item]
    (summary,) = [item for item in outputs if "path" in item]
    assert len(segments) == 3
    with wave.open(str(output)) as written, wave.open(str(repo_root / "examples/audio/speech.wav")) as source:
        assert (written.getframerate(), written.getnchannels()) == (16000, 1)
        assert written.getnframes() == summary["frames"] == (source.getnframes() - 1) * 16000 // 44100 + 1
    assert summary["duration"] == pytest.approx(5.53, abs=0.01)


@pytest.mark.parametrize("audio", ["speech.wav", "speech.mp3"])
def test_speech_audio_example_finds_the_three_sentences_in_any_format(repo_root, tmp_path, audio):
    """The pure-CPython run of the --audio example: WAV with `wave`, MP3 with soundfile."""
    from remotemedia.audio import AudioSource
    from remotemedia.pipeline_scripts import load_script

    pipeline = load_script(repo_root / "examples" / "pipelines" / "speech_audio.py").build(
        output_path=str(tmp_path / "out.wav"))
    outputs = pipeline.run(AudioSource(repo_root / "examples" / "audio" / audio))
    segments = [(item["start"], item["end"]) for item in outputs if "start" in item]
    # examples/audio/README.md: the sentences are at 0.25-1.57, 2.57-3.754 and 4.754-5.282 s.
    assert [(round(start), round(end)) for start, end in segments] == [(0, 2), (3, 4), (5, 5)]
