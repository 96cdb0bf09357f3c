"""The pure-Python audio nodes on the real recording in examples/audio/speech.wav."""

from __future__ import annotations

import math
import struct
import wave
from array import array

import pytest
from remotemedia.core.driver import NodeDriver
from remotemedia.core.exceptions import NodeError
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.transforms import GainNode, MixDownNode, ResampleNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode, WavWriterNode

# Where the speech is in speech.wav, by construction (see examples/audio/README.md).
SPOKEN = [(0.250, 1.570), (2.570, 3.754), (4.754, 5.282)]


@pytest.fixture(scope="module")
def speech_wav(repo_root):
    return str(repo_root / "examples" / "audio" / "speech.wav")


@pytest.fixture(scope="module")
def speech_frames(speech_wav):
    return list(NodeDriver(WavReaderNode(frame_ms=20)).process(speech_wav))


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 0.5, start: float = 0.0) -> dict:
    count = int(seconds * rate)
    samples = array("f", [amplitude * math.sin(2 * math.pi * frequency * n / rate) for n in range(count)])
    return {"samples": samples, "sample_rate": rate, "channels": 1, "timestamp": start}


def silence(seconds: float, rate: int, start: float = 0.0) -> dict:
    return {
        "samples": array("f", bytes(4 * int(seconds * rate))),
        "sample_rate": rate,
        "channels": 1,
        "timestamp": start,
    }


def test_reader_emits_fixed_size_frames_with_format_and_time(speech_wav, speech_frames):
    with wave.open(speech_wav) as wav:
        total_frames = wav.getnframes()
    assert {(f["sample_rate"], f["channels"]) for f in speech_frames} == {(44100, 2)}
    assert all(len(f["samples"]) == 882 * 2 for f in speech_frames[:-1])  # 20 ms of stereo
    assert sum(len(f["samples"]) for f in speech_frames) == total_frames * 2
    assert [f["timestamp"] for f in speech_frames[:3]] == [0.0, 0.02, 0.04]
    assert isinstance(speech_frames[0]["samples"], array) and speech_frames[0]["samples"].typecode == "f"


def test_reader_decodes_pcm_exactly(speech_wav, speech_frames):
    with wave.open(speech_wav) as wav:
        wav.setpos(44100)  # one second in: speech
        raw = wav.readframes(882)
    expected = [value / 32768 for value in struct.unpack(f"<{882 * 2}h", raw)]
    frame = speech_frames[50]
    assert frame["timestamp"] == 1.0
    assert list(frame["samples"]) == pytest.approx(expected, abs=1e-7)


def test_reader_uses_its_path_param_when_the_input_is_none(speech_wav, speech_frames):
    frames = list(NodeDriver(WavReaderNode(path=speech_wav)).process(None))
    assert len(frames) == len(speech_frames)


@pytest.mark.parametrize("item, message", [(42, "expects a WAV file path"), ("/no/such.wav", "cannot read WAV file")])
def test_reader_errors_say_what_is_wrong(item, message):
    with pytest.raises(NodeError, match=message):
        list(NodeDriver(WavReaderNode()).process(item))


def test_mix_down_averages_the_channels(speech_frames):
    frame = speech_frames[50]
    (mono,) = NodeDriver(MixDownNode()).process(frame)
    left, right = frame["samples"][0::2], frame["samples"][1::2]
    assert mono["channels"] == 1 and mono["timestamp"] == frame["timestamp"]
    averaged = [(lft + rgt) / 2 for lft, rgt in zip(left, right, strict=True)]
    assert list(mono["samples"]) == pytest.approx(averaged, abs=1e-6)
    # The recording's right channel is the left at 60 %.
    assert sum(abs(rgt - 0.6 * lft) for lft, rgt in zip(left, right, strict=True)) / len(left) < 1e-3


def test_resampler_reproduces_a_sine_at_the_new_rate():
    source = tone(440, 0.5, 44100)
    frames = [{**source, "samples": source["samples"][start : start + 1000]} for start in range(0, 22050, 1000)]
    outputs = Pipeline("r").add_node(ResampleNode(target_rate=16000)).run(frames)
    samples = [value for frame in outputs for value in frame["samples"]]
    assert len(samples) == (22050 - 1) * 16000 // 44100 + 1
    expected = [0.5 * math.sin(2 * math.pi * 440 * n / 16000) for n in range(len(samples))]
    # 0.005 bounds the error of linear interpolation at 440 Hz.
    assert max(abs(a - b) for a, b in zip(samples, expected, strict=True)) < 0.005
    assert [frame["timestamp"] for frame in outputs[:2]] == [0.0, len(outputs[0]["samples"]) / 16000]


def test_resampling_does_not_depend_on_frame_boundaries(speech_frames):
    mono = [next(NodeDriver(MixDownNode()).process(frame)) for frame in speech_frames[40:60]]
    joined = {**mono[0], "samples": array("f", [v for frame in mono for v in frame["samples"]])}
    in_frames = Pipeline("a").add_node(ResampleNode(target_rate=16000)).run(mono)
    at_once = Pipeline("b").add_node(ResampleNode(target_rate=16000)).run([joined])
    assert [v for frame in in_frames for v in frame["samples"]] == list(at_once[0]["samples"])


def test_resampler_passes_the_target_rate_through_and_rejects_a_format_change():
    node = ResampleNode(target_rate=16000)
    driver = NodeDriver(node)
    frame = tone(440, 0.1, 16000)
    assert list(driver.process(frame)) == [frame]
    with pytest.raises(NodeError, match="stream changed"):
        list(driver.process(tone(440, 0.1, 8000)))


def test_gain_scales_and_clips():
    (louder,) = NodeDriver(GainNode(gain_db=6.0)).process(tone(100, 0.1, 8000, amplitude=0.25))
    assert max(louder["samples"]) == pytest.approx(0.25 * 10 ** (6 / 20), rel=1e-3)
    (clipped,) = NodeDriver(GainNode(gain_db=20.0)).process(tone(100, 0.1, 8000, amplitude=0.5))
    assert max(clipped["samples"]) == 1.0 and min(clipped["samples"]) == -1.0


def test_audio_nodes_reject_items_that_are_not_frames():
    with pytest.raises(NodeError, match="expects an audio frame"):
        list(NodeDriver(MixDownNode()).process("not audio"))


def test_vad_finds_the_three_sentences_between_the_silences(repo_root):
    from remotemedia.pipeline_scripts import build_pipeline

    pipeline = build_pipeline(repo_root / "examples" / "pipelines" / "speech_vad.py")
    segments = pipeline.run([str(repo_root / "examples" / "audio" / "speech.wav")])
    assert len(segments) == len(SPOKEN)
    for segment, (start, end) in zip(segments, SPOKEN, strict=True):
        assert segment["start"] == pytest.approx(start, abs=0.05)
        assert segment["end"] == pytest.approx(end, abs=0.05)


def test_vad_closes_a_segment_open_at_end_of_stream_and_ignores_clicks():
    vad = NodeDriver(EnergyVADNode(min_speech_ms=150, min_silence_ms=300))
    stream = [
        silence(0.5, 16000),
        tone(300, 0.05, 16000, start=0.5),  # a 50 ms click
        silence(0.5, 16000, start=0.55),
        tone(300, 1.0, 16000, start=1.05),
    ]
    segments = [segment for frame in stream for segment in vad.process(frame)] + list(vad.flush())
    assert segments == [{"start": 1.05, "end": 2.05}]


def test_writer_round_trips_through_the_reader_and_summarizes(tmp_path, speech_frames):
    path = str(tmp_path / "copy.wav")
    frames = speech_frames[:25]
    outputs = Pipeline("w").add_node(WavWriterNode(path=path)).run(frames)
    written = sum(len(f["samples"]) for f in frames) // 2
    assert outputs == [
        {"path": path, "sample_rate": 44100, "channels": 2, "frames": written, "duration": round(written / 44100, 3)}
    ]
    read_back = [v for frame in NodeDriver(WavReaderNode()).process(path) for v in frame["samples"]]
    original = [v for frame in frames for v in frame["samples"]]
    assert read_back == pytest.approx(original, abs=1 / 32767)


def test_writer_refuses_a_format_change_and_keeps_a_valid_file(tmp_path):
    path = tmp_path / "mixed.wav"
    pipeline = Pipeline("w").add_node(WavWriterNode(name="writer", path=str(path)))
    with pytest.raises(NodeError, match=r"stream changed from 16000 Hz, 1 channel\(s\) to 8000 Hz"):
        pipeline.run([tone(440, 0.1, 16000), tone(440, 0.1, 8000)])
    with wave.open(str(path)) as wav:  # cleanup closed it properly
        assert (wav.getframerate(), wav.getnframes()) == (16000, 1600)


def test_writer_without_frames_writes_nothing(tmp_path):
    path = tmp_path / "none.wav"
    assert Pipeline("w").add_node(WavWriterNode(path=str(path))).run([]) == []
    assert not path.exists()
