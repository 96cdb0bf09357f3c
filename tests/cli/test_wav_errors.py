"""The WAV reader says what is wrong with a malformed file (issue 16, finding 7): a chunk size that
runs past the file, a sample rate of 0, a channel count out of range — each an error naming the
node and the problem, not a bare RuntimeError or a ZeroDivisionError."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

EXIT_FAILURE = 1


def wav_bytes(rate: int = 16000, channels: int = 1, extra: bytes = b"", data: bytes = b"\0\0" * 8) -> bytes:
    width = 2
    fmt = struct.pack(
        "<HHIIHH", 1, channels, rate, (rate * channels * width) & 0xFFFFFFFF, (channels * width) & 0xFFFF, 16
    )
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (wav_bytes(extra=b"LIST" + struct.pack("<I", 0xFFFFFFF0)), "a chunk's size runs past the end of the file"),
        (wav_bytes(rate=0), "sample rate 0 Hz (1 to 1536000 Hz expected)"),
        (wav_bytes(channels=65535, data=b"\0" * 131070), "65535 channels (1 to 256 expected)"),
        (wav_bytes(channels=0), "bad # of channels"),
    ],
    ids=["absurd-chunk-size", "rate-0", "65535-channels", "0-channels"],
)
def test_a_malformed_wav_file_is_an_error_saying_what_is_wrong(
    run_remotemedia, manifest_file, tmp_path: Path, blob: bytes, reason: str
):
    path = tmp_path / "bad.wav"
    path.write_bytes(blob)
    manifest = manifest_file([{"id": "reader", "node_type": "WavReaderNode", "params": {"path": str(path)}}], name="wav")
    result = run_remotemedia("run", manifest, "--input", "null")
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "node `reader` failed in process" in result.stderr
    assert f"WAV file {str(path)!r}: {reason}" in result.stderr
    assert "ZeroDivisionError" not in result.stderr
