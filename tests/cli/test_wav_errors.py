"""The WAV reader says what is wrong with a malformed file (issue 16, finding 7): a chunk size that
runs past the file, a sample rate of 0, a channel count out of range — each an error naming the
node and the problem, not a bare RuntimeError or a ZeroDivisionError.

The same file gets the same words from the node's Python class (pinned to the embedded RustPython)
and from its native implementation (what `auto` places; issue 13), and from `--audio`: each run
checks with `plan --json` that the node is on the engine it claims to test."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

EXIT_FAILURE = 1
EXIT_BEFORE_DATA = 2


def wav_bytes(rate: int = 16000, channels: int = 1, extra: bytes = b"", data: bytes = b"\0\0" * 8) -> bytes:
    width = 2
    fmt = struct.pack(
        "<HHIIHH", 1, channels, rate, (rate * channels * width) & 0xFFFFFFFF, (channels * width) & 0xFFFF, 16
    )
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


MALFORMED = {
    "absurd-chunk-size": (wav_bytes(extra=b"LIST" + struct.pack("<I", 0xFFFFFFF0)),
                          "a chunk's size runs past the end of the file"),
    "rate-0": (wav_bytes(rate=0), "sample rate 0 Hz (1 to 1536000 Hz expected)"),
    "rate-2MHz": (wav_bytes(rate=2_000_000), "sample rate 2000000 Hz (1 to 1536000 Hz expected)"),
    "65535-channels": (wav_bytes(channels=65535, data=b"\0" * 131070), "65535 channels (1 to 256 expected)"),
    "300-channels": (wav_bytes(channels=300, data=b"\0" * 600), "300 channels (1 to 256 expected)"),
    "0-channels": (wav_bytes(channels=0), "0 channels (1 to 256 expected)"),
    "cut-in-fmt": (wav_bytes()[:30], "the input ends inside its header: it is truncated, or not audio"),
}

# How each engine is asked for, and what `plan --json` must then show.
ENGINES = {"native": "auto", "rustpython": "rustpython"}


def engines_of(manifest: Path, run_remotemedia) -> set[str]:
    plan = run_remotemedia("plan", "--json", manifest)
    assert plan.returncode == 0, plan.stderr
    return {node["engine"]["kind"] for node in json.loads(plan.stdout)["nodes"]}


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("node_type", ["WavReaderNode", "AudioReaderNode"])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_wav_file_is_an_error_saying_what_is_wrong(
    run_remotemedia, manifest_file, tmp_path: Path, case: str, node_type: str, engine: str
):
    blob, reason = MALFORMED[case]
    path = tmp_path / "bad.wav"
    path.write_bytes(blob)
    manifest = manifest_file([{"id": "reader", "node_type": node_type, "runtime_hint": ENGINES[engine],
                               "params": {"path": str(path)}}], name="wav")
    assert engines_of(manifest, run_remotemedia) == {engine}

    result = run_remotemedia("run", manifest, "--input", "null")

    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "node `reader` failed in process" in result.stderr
    assert f"WAV file {str(path)!r}: {reason}" in result.stderr, result.stderr
    assert "ZeroDivisionError" not in result.stderr and "panicked" not in result.stderr


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_audio_on_a_malformed_wav_file_says_the_same(run_remotemedia, manifest_file, tmp_path: Path, case: str):
    blob, reason = MALFORMED[case]
    path = tmp_path / "bad.wav"
    path.write_bytes(blob)
    manifest = manifest_file([{"id": "gain", "node_type": "GainNode"}], name="gain")

    result = run_remotemedia("run", manifest, "--audio", path)

    assert result.returncode == EXIT_BEFORE_DATA, result.stderr
    assert f"WAV file {str(path)!r}: {reason}" in result.stderr, result.stderr
    assert "panicked" not in result.stderr
