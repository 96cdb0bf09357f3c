"""The C-extension catalogue nodes run for real on real speech: the numpy resampler, the WebRTC VAD
and Silero's ONNX model, in the executable's CPython and in the pure-CPython local run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpython_helpers import SPEECH_TRUTH, SPEECH_WAV, json_lines
from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.silero_vad import SileroVADNode
from remotemedia.nodes.audio.sinc_resample import SincResampleNode
from remotemedia.nodes.audio.transforms import MixDownNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode
from remotemedia.nodes.audio.webrtc_vad import WebRTCVADNode

# Each detector's segment boundaries are within this of the truth (and so of each other): WebRTC
# judges 30 ms windows and keeps a little hangover, Silero 32 ms windows, energy 30 ms windows.
TOLERANCE_S = 0.15


def detector_pipeline(vad: Node) -> Pipeline:
    return (Pipeline("speech-detection")
            .add_node(WavReaderNode(path=str(SPEECH_WAV), frame_ms=20))
            .add_node(MixDownNode())
            .add_node(SincResampleNode(target_rate=16000))
            .add_node(vad))


DETECTORS = {
    "webrtc": lambda: WebRTCVADNode(aggressiveness=2),
    "silero": lambda: SileroVADNode(threshold=0.5),
    "energy": lambda: EnergyVADNode(threshold_db=-45.0, min_silence_ms=400),
}


def assert_finds_the_sentences(segments: list[dict]) -> None:
    found = [(segment["start"], segment["end"]) for segment in segments]
    assert len(found) == len(SPEECH_TRUTH), found
    for (start, end), (true_start, true_end) in zip(found, SPEECH_TRUTH):
        assert abs(start - true_start) <= TOLERANCE_S and abs(end - true_end) <= TOLERANCE_S, (found, SPEECH_TRUTH)


@pytest.mark.parametrize("name", ["webrtc", "silero"])
def test_the_vad_finds_the_three_sentences_in_the_executable(name: str, run_binary, tmp_path: Path):
    manifest = tmp_path / f"{name}.json"
    manifest.write_text(detector_pipeline(DETECTORS[name]()).serialize())
    result = run_binary("run", manifest, "--input", "null", "--quiet")
    assert result.returncode == 0, result.stderr
    segments = json_lines(result.stdout)
    assert_finds_the_sentences(segments)
    # The executable's CPython gives exactly what the pure-CPython run gives.
    assert segments == detector_pipeline(DETECTORS[name]()).run([None], engine="python")


def test_the_three_detectors_agree_with_each_other():
    found = {name: detector_pipeline(make()).run([None], engine="python") for name, make in DETECTORS.items()}
    for name, segments in found.items():
        assert_finds_the_sentences(segments)
    for a in found.values():
        for b in found.values():
            for left, right in zip(a, b):
                assert abs(left["start"] - right["start"]) <= 2 * TOLERANCE_S
                assert abs(left["end"] - right["end"]) <= 2 * TOLERANCE_S


def test_silence_has_no_speech():
    frames = [{"samples": [0.0] * 320, "sample_rate": 16000, "channels": 1, "timestamp": i * 0.02} for i in range(100)]
    for make in (DETECTORS["webrtc"], DETECTORS["silero"]):
        assert Pipeline("silence").add_node(make()).run(frames, engine="python") == []


def test_the_resampler_removes_what_16_khz_cannot_carry():
    import numpy

    rate = 44100
    time = numpy.arange(rate) / rate
    tone = 0.5 * numpy.sin(2 * numpy.pi * 440 * time)
    alias_bait = 0.3 * numpy.sin(2 * numpy.pi * 12000 * time)  # above 8 kHz: must vanish, not fold to 4 kHz
    samples = (tone + alias_bait).astype(numpy.float32)
    frames = [{"samples": samples[i:i + 441].tolist(), "sample_rate": rate, "channels": 1, "timestamp": i / rate}
              for i in range(0, rate, 441)]
    out = Pipeline("resample").add_node(SincResampleNode(target_rate=16000)).run(frames, engine="python")
    result = numpy.concatenate([numpy.asarray(frame["samples"]) for frame in out])
    assert len(result) == 16000 and all(frame["sample_rate"] == 16000 for frame in out)
    expected = 0.5 * numpy.sin(2 * numpy.pi * 440 * numpy.arange(16000) / 16000)
    assert numpy.abs(result[100:-100] - expected[100:-100]).max() < 1e-3


def test_wrong_audio_formats_say_what_to_add_in_front():
    stereo = {"samples": [0.0] * 640, "sample_rate": 16000, "channels": 2}
    for make in (DETECTORS["webrtc"], DETECTORS["silero"]):
        with pytest.raises(NodeError, match="MixDownNode and SincResampleNode"):
            Pipeline("stereo").add_node(make()).run([stereo], engine="python")


def test_bad_parameters_are_refused_naming_them():
    with pytest.raises(ConfigurationError, match="aggressiveness"):
        WebRTCVADNode(aggressiveness=7)
    with pytest.raises(ConfigurationError, match="threshold"):
        SileroVADNode(threshold=1.5)
    with pytest.raises(ConfigurationError, match="target_rate"):
        SincResampleNode(target_rate=0)
    with pytest.raises(NodeError, match="does not exist"):
        Pipeline("model").add_node(SileroVADNode(model="/nonexistent/model.onnx")).run([], engine="python")
