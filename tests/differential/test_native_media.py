"""The native engine against the Python reference nodes, on real speech and on many formats.

The candidate is `remotemedia run`, with every node placed on the native engine — checked with
`plan --json`, so a node that silently fell back to an interpreter fails the test. The reference is
the SDK's pure-CPython run (`Pipeline.run` with REMOTEMEDIA_ENGINE=python, set for the whole suite)
of the same manifest. Outputs are compared in the canonical JSON form both sides write.

Bit-identical: WAV reading (8/16/24/32-bit, mono to 3 channels, 8 to 48 kHz), FLAC against the same
samples, mix-down, gain, linear resampling (down and up), energy VAD segments, the WAV writer's
file. Within a stated tolerance: the sinc resampler (rubato's filter, not numpy's; see
SINC_TOLERANCE) and lossy formats (MP3, Ogg: VAD segments within 0.03 s of the WAV's).

Speech comes from espeak-ng, converted with sox and lame (installed by .ci/run).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from array import array
from pathlib import Path
from typing import Any

import pytest

from remotemedia.core.pipeline import Pipeline
from remotemedia.core.values import to_jsonable

SENTENCES = "Remote media pipelines decode audio. They resample it, and find the speech."

# The sinc resampler: rubato's Blackman-Harris² filter against numpy's Kaiser filter of the same
# cutoff (crates/media/src/sinc.rs). On speech the difference stays below -50 dB relative to the
# signal's RMS (about -60 dB measured on examples/audio/speech.wav) and below MAX_ABS on every sample.
SINC_TOLERANCE_DB = -50.0
SINC_MAX_ABS = 0.005


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is needed for the speech tests (apt-get install espeak-ng sox libsox-fmt-mp3 lame)",
                    pytrace=False)
    return found


def sh(*args: str | Path) -> None:
    subprocess.run([str(arg) for arg in args], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict[str, Path]:
    """The same few seconds of speech as WAV files of every width and as FLAC, MP3 and Ogg."""
    directory = tmp_path_factory.mktemp("speech")
    base = directory / "espeak.wav"
    sh(tool("espeak-ng"), "-w", base, "-s", "150", SENTENCES)
    files = {"espeak": base}
    # 44.1 kHz stereo 16-bit (the usual file; the right channel quieter, so mixing mixes), 16 kHz mono.
    files["stereo44"] = directory / "stereo44.wav"
    sh(tool("sox"), base, "-r", "44100", "-b", "16", files["stereo44"], "remix", "1", "1v0.6")
    files["mono16"] = directory / "mono16.wav"
    sh("sox", base, "-r", "16000", "-c", "1", "-b", "16", files["mono16"])
    # Other rates and channel counts: 48 kHz with 3 channels, 22.05 kHz stereo, 8 kHz mono 8-bit.
    # (sox writes WAVE_FORMAT_EXTENSIBLE above 2 channels; Python's `wave` writes the plain header.)
    files["3ch48"] = directory / "3ch48.wav"
    raw = subprocess.run(["sox", str(base), "-r", "48000", "-b", "16", "-e", "signed-integer", "-t", "raw", "-",
                          "remix", "1", "1v0.5", "1v-0.25"], check=True, capture_output=True, timeout=120).stdout
    with wave.open(str(files["3ch48"]), "wb") as target:
        target.setnchannels(3)
        target.setsampwidth(2)
        target.setframerate(48000)
        target.writeframes(raw)
    files["stereo22"] = directory / "stereo22.wav"
    sh("sox", base, "-r", "22050", "-b", "16", files["stereo22"], "remix", "1v0.8", "1")
    files["mono8k-8bit"] = directory / "mono8k-8bit.wav"
    sh("sox", base, "-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer", files["mono8k-8bit"])
    # 8/24/32-bit PCM written by Python's wave (sox writes WAVE_FORMAT_EXTENSIBLE above 16 bits,
    # which the reference's `wave` reads only from Python 3.12 on).
    with wave.open(str(files["stereo44"])) as source:
        pcm16 = array("h", source.readframes(source.getnframes()))
        params = source.getparams()
    for bits in (8, 24, 32):
        path = directory / f"stereo44-{bits}bit.wav"
        with wave.open(str(path), "wb") as target:
            target.setnchannels(params.nchannels)
            target.setframerate(params.framerate)
            target.setsampwidth(bits // 8)
            if bits == 8:
                data = bytes((value >> 8) + 128 for value in pcm16)
            else:
                data = b"".join((value << (bits - 16)).to_bytes(bits // 8, "little", signed=True) for value in pcm16)
            target.writeframes(data)
        files[f"{bits}bit"] = path
    files["flac"] = directory / "speech.flac"
    sh("sox", files["stereo44"], files["flac"])
    files["ogg"] = directory / "speech.ogg"
    sh("sox", files["stereo44"], files["ogg"])
    # lame writes the Info tag (encoder delay and padding), which decoders use to trim them.
    files["mp3"] = directory / "speech.mp3"
    sh(tool("lame"), "--quiet", "-b", "128", files["stereo44"], files["mp3"])
    return files


def manifest(nodes: list[dict[str, Any]], name: str = "native-test") -> dict[str, Any]:
    """A linear pipeline of `nodes` (each `{"node_type", "params"}`)."""
    entries = [{"id": f"n{index}", **node} for index, node in enumerate(nodes)]
    connections = [{"from": f"n{index}", "to": f"n{index + 1}"} for index in range(len(nodes) - 1)]
    return {"version": "v1", "metadata": {"name": name}, "nodes": entries, "connections": connections}


def engines_of(document: dict[str, Any], run_remotemedia, tmp_path: Path, env: dict | None = None) -> list[str]:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    result = run_remotemedia("plan", "--json", path, env=env)
    assert result.returncode == 0, result.stderr
    return [node["engine"]["kind"] for node in json.loads(result.stdout)["nodes"]]


def run_binary(document: dict[str, Any], run_remotemedia, tmp_path: Path, *args: str) -> list[Any]:
    """Runs the manifest in the binary, after checking that every node is placed natively."""
    assert set(engines_of(document, run_remotemedia, tmp_path)) == {"native"}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    result = run_remotemedia("run", path, "--quiet", *(args or ("--input", "null")), timeout=300)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def run_reference(document: dict[str, Any], inputs: list[Any] | None = None) -> list[Any]:
    return [to_jsonable(item) for item in Pipeline.from_manifest(document).run(inputs or [None])]


def reader(path: Path, frame_ms: int = 20, node_type: str = "WavReaderNode") -> dict[str, Any]:
    return {"node_type": node_type, "params": {"path": str(path), "frame_ms": frame_ms}}


CASES = {
    # name: (input file key, nodes after the reader, frame_ms)
    "read-16bit-stereo": ("stereo44", [], 20),
    "read-8bit": ("8bit", [], 20),
    "read-24bit": ("24bit", [], 30),
    "read-32bit": ("32bit", [], 10),
    "read-mono-odd-frames": ("mono16", [], 7),
    "mixdown": ("stereo44", [{"node_type": "MixDownNode"}], 20),
    "gain": ("stereo44", [{"node_type": "GainNode", "params": {"gain_db": 7.25}}], 20),
    "gain-negative": ("24bit", [{"node_type": "GainNode", "params": {"gain_db": -13}}], 20),
    "resample-down-11025": ("stereo44", [{"node_type": "ResampleNode", "params": {"target_rate": 11025}}], 20),
    "resample-down-16k-mono": ("stereo44", [{"node_type": "MixDownNode"},
                                            {"node_type": "ResampleNode", "params": {"target_rate": 16000}}], 25),
    "resample-up-48k": ("mono16", [{"node_type": "ResampleNode", "params": {"target_rate": 48000}}], 20),
    "resample-up-odd-ratio": ("8bit", [{"node_type": "ResampleNode", "params": {"target_rate": 48001}}], 13),
    "resample-same-rate": ("mono16", [{"node_type": "ResampleNode", "params": {"target_rate": 16000}}], 20),
    "vad-default": ("stereo44", [{"node_type": "MixDownNode"},
                                 {"node_type": "ResampleNode", "params": {"target_rate": 16000}},
                                 {"node_type": "EnergyVADNode"}], 20),
    "vad-tuned": ("mono16", [{"node_type": "EnergyVADNode", "params": {"threshold_db": -35.5, "window_ms": 10,
                                                                       "min_speech_ms": 50, "min_silence_ms": 120}}], 30),
    "vad-stereo-windows": ("32bit", [{"node_type": "EnergyVADNode", "params": {"window_ms": 25}}], 20),
    "read-3ch-48k": ("3ch48", [], 20),
    "mixdown-3ch": ("3ch48", [{"node_type": "MixDownNode"}], 15),
    "resample-3ch-48k-to-16k": ("3ch48", [{"node_type": "ResampleNode", "params": {"target_rate": 16000}}], 20),
    "resample-down-22050-to-16k": ("stereo22", [{"node_type": "ResampleNode", "params": {"target_rate": 16000}}], 20),
    "resample-up-8k-to-44100": ("mono8k-8bit", [{"node_type": "ResampleNode", "params": {"target_rate": 44100}}], 20),
    "vad-8k-upsampled": ("mono8k-8bit", [{"node_type": "ResampleNode", "params": {"target_rate": 16000}},
                                         {"node_type": "EnergyVADNode", "params": {"min_silence_ms": 200}}], 20),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_native_matches_the_python_reference(name: str, speech, run_remotemedia, tmp_path: Path):
    key, nodes, frame_ms = CASES[name]
    document = manifest([reader(speech[key], frame_ms), *nodes])

    expected = run_reference(document)
    actual = run_binary(document, run_remotemedia, tmp_path)

    assert expected, "a case that emits nothing compares nothing"
    assert len(actual) == len(expected)
    assert actual == expected


def test_the_wav_writer_writes_the_same_file(speech, run_remotemedia, tmp_path: Path):
    ours, theirs = tmp_path / "native.wav", tmp_path / "reference.wav"
    steps = [reader(speech["stereo44"]), {"node_type": "ResampleNode", "params": {"target_rate": 22050}},
             {"node_type": "GainNode", "params": {"gain_db": 12}}]
    summary = run_binary(manifest([*steps, {"node_type": "WavWriterNode", "params": {"path": str(ours)}}]),
                         run_remotemedia, tmp_path)
    reference = run_reference(manifest([*steps, {"node_type": "WavWriterNode", "params": {"path": str(theirs)}}]))
    assert summary[0] | {"path": None} == reference[0] | {"path": None}
    assert ours.read_bytes() == theirs.read_bytes()


def test_flac_reads_as_the_same_samples(speech, run_remotemedia, tmp_path: Path):
    """Lossless: the FLAC's frames are the WAV's, bit for bit (the reference reads FLAC with soundfile)."""
    from_flac = run_binary(manifest([reader(speech["flac"], node_type="AudioReaderNode")]), run_remotemedia, tmp_path)
    from_wav = run_binary(manifest([reader(speech["stereo44"])]), run_remotemedia, tmp_path)
    reference = run_reference(manifest([reader(speech["flac"], node_type="AudioReaderNode")]))
    assert from_flac == from_wav == reference


def segments(document: dict[str, Any], run_remotemedia, tmp_path: Path) -> list[tuple[float, float]]:
    return [(item["start"], item["end"]) for item in run_binary(document, run_remotemedia, tmp_path)]


def test_every_format_gives_the_same_speech_segments(speech, run_remotemedia, tmp_path: Path):
    detect = [{"node_type": "MixDownNode"}, {"node_type": "ResampleNode", "params": {"target_rate": 16000}},
              {"node_type": "EnergyVADNode", "params": {"min_silence_ms": 200}}]
    found = {key: segments(manifest([reader(speech[key], node_type="AudioReaderNode"), *detect]),
                           run_remotemedia, tmp_path)
             for key in ("stereo44", "flac", "mp3", "ogg")}
    wav = found["stereo44"]
    assert len(wav) >= 2, wav
    for key in ("flac", "mp3", "ogg"):
        assert len(found[key]) == len(wav), (key, found[key], wav)
        for (start, end), (wav_start, wav_end) in zip(found[key], wav):
            assert abs(start - wav_start) <= 0.03 + 1e-9 and abs(end - wav_end) <= 0.03 + 1e-9, (key, found[key], wav)


def samples_of(outputs: list[Any]) -> list[float]:
    return [value for frame in outputs for value in frame["samples"]]


@pytest.mark.parametrize("source, target", [("stereo44", 16000), ("mono16", 44100), ("8bit", 22050)])
def test_the_sinc_resampler_is_within_its_tolerance_of_numpy(source: str, target: int, speech, run_remotemedia,
                                                             tmp_path: Path):
    pytest.importorskip("numpy")
    import numpy as np

    steps = [reader(speech[source]), {"node_type": "SincResampleNode", "params": {"target_rate": target}}]
    native_document = manifest(steps)
    native_document["nodes"][1]["runtime_hint"] = "native"
    ours = run_binary(native_document, run_remotemedia, tmp_path)
    reference = run_reference(manifest(steps))

    # The same stream: rate, channels, length, and the timestamps of a stream that starts at 0.
    assert {(f["sample_rate"], f["channels"]) for f in ours} == {(f["sample_rate"], f["channels"]) for f in reference}
    a, b = np.array(samples_of(ours)), np.array(samples_of(reference))
    assert a.shape == b.shape
    assert ours[0]["timestamp"] == reference[0]["timestamp"] == 0.0
    difference_db = 20 * np.log10(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b ** 2)))
    assert difference_db < SINC_TOLERANCE_DB, difference_db
    assert np.max(np.abs(a - b)) < SINC_MAX_ABS
