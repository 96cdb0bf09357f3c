"""Frames are checked before a node trusts them (issue 16, finding 3): a tiny frame claiming 1 Hz no
longer makes the resampler allocate gigabytes (its peak RSS is measured), a boolean is not a sample
rate, and rates and channel counts stay in range — each an error naming the node, exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

EXIT_FAILURE = 1
TIMEOUT_S = 60
# The binary with RustPython and the SDK loaded peaks far below this; the 8 KB frame bomb below, on a
# resampler without the ratio check, passes it within seconds (it grew ~290 MB/s).
RSS_BOUND_MB = 300
BOMB = {"samples": [0.0] * 1000, "sample_rate": 1, "channels": 1}


def one_node(manifest_file: Callable[..., Path], node_type: str, params: dict[str, Any]) -> Path:
    return manifest_file([{"id": "audio_node", "node_type": node_type, "params": params}], name="frames")


def run_measured(binary: Path, *args: str | Path, env: dict[str, str]) -> tuple[int, str, int]:
    """Runs the binary to completion: its exit code, stderr and peak RSS in MB (the kernel's own count,
    from wait4). Kills it, failing the test, as soon as its RSS passes RSS_BOUND_MB, so a regression
    cannot take the shared machine's memory."""
    process = subprocess.Popen(
        [str(binary), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        rss_mb = _current_rss_mb(process.pid)
        if rss_mb > RSS_BOUND_MB or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the run reached {rss_mb} MB of RSS (bound {RSS_BOUND_MB} MB) or ran past {TIMEOUT_S} s")
        time.sleep(0.01)
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    return process.returncode, stderr, usage.ru_maxrss // 1024


def _current_rss_mb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)


@pytest.mark.parametrize("node_type", ["ResampleNode", "SincResampleNode"])
def test_a_frame_whose_resampled_size_is_absurd_fails_the_node_in_bounded_memory(
    remotemedia_bin, binary_env, manifest_file, node_type
):
    manifest = one_node(manifest_file, node_type, {"target_rate": 16000})
    env = binary_env({"REMOTEMEDIA_PYTHON": os.environ.get("REMOTEMEDIA_PYTHON") or _python()})
    code, stderr, peak_mb = run_measured(remotemedia_bin, "run", manifest, "--input", json.dumps(BOMB), env=env)
    assert code == EXIT_FAILURE, stderr
    assert "node `audio_node` failed in process" in stderr
    assert "resampling 1 Hz to 16000 Hz would make the frame 16000 times larger (at most 64)" in stderr
    assert peak_mb < RSS_BOUND_MB
    # A real upsampling ratio still passes: 8 kHz to 16 kHz doubles the frame.
    ok = {"samples": [0.0, 0.5] * 80, "sample_rate": 8000, "channels": 1}
    code, stderr, _ = run_measured(remotemedia_bin, "run", manifest, "--input", json.dumps(ok), env=env)
    assert code == 0, stderr


@pytest.mark.parametrize(
    ("sample_rate", "channels", "shown"),
    [
        (True, 1, "sample_rate=True"),
        (16000, True, "channels=True"),
        (0, 1, "sample_rate=0"),
        (1_536_001, 1, "sample_rate=1536001"),
        (16000, 65535, "channels=65535"),
        (16000.0, 1, "sample_rate=16000.0"),
    ],
)
def test_frames_with_a_rate_or_channel_count_out_of_range_are_refused(
    run_remotemedia, manifest_file, sample_rate, channels, shown
):
    manifest = one_node(manifest_file, "GainNode", {"gain_db": 6.0})
    frame = {"samples": [0.0] * 4, "sample_rate": sample_rate, "channels": channels}
    result = run_remotemedia("run", manifest, "--input", json.dumps(frame))
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "node `audio_node` failed in process" in result.stderr
    assert "audio_node: invalid audio frame: sample_rate=" in result.stderr
    assert shown in result.stderr
    assert "1 to 1536000 Hz" in result.stderr and "1 to 256 channels" in result.stderr


def _python() -> str:
    import sys

    return sys.executable
