"""Input is bounded (issue 16, findings 4 and 5): a line that never ends is refused at the limit
(exit 2, naming the line, the lines before it processed), and an error quoting a huge bad value
shows a bounded excerpt of it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

EXIT_FAILURE = 1
EXIT_INVALID = 2
TIMEOUT_S = 60
RSS_BOUND_MB = 400


def calculator(repo_root: Path) -> Path:
    return repo_root / "examples" / "manifests" / "calculator.json"


def test_an_endless_line_is_refused_at_the_limit_in_bounded_memory(remotemedia_bin, binary_env, repo_root, tmp_path):
    # Two good lines, then /dev/zero's endless line of NUL bytes (a named pipe joins them).
    fifo = tmp_path / "inputs"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [remotemedia_bin, "run", calculator(repo_root), "--input-file", fifo, "--max-input-line-mib", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=binary_env(),
    )
    writer = subprocess.Popen(["sh", "-c", f"{{ printf '1\\n2\\n'; cat /dev/zero; }} > {fifo}"])
    try:
        peak_mb = 0
        deadline = time.monotonic() + TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            peak_mb = max(peak_mb, _rss_mb(process.pid))
            assert peak_mb < RSS_BOUND_MB, f"{peak_mb} MB of RSS reading one line"
            time.sleep(0.01)
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    finally:
        process.kill()
        writer.kill()
        writer.wait()
    assert process.returncode == EXIT_INVALID, stderr
    assert f"`{fifo}` line 3: longer than 2 MiB (see --max-input-line-mib)" in stderr
    assert stdout.split() == ["144", "196"]


def test_the_default_line_limit_refuses_a_20_mb_line(run_remotemedia, repo_root, tmp_path):
    inputs = tmp_path / "big.jsonl"
    inputs.write_text("7\n" + json.dumps([1] * 10_000_000) + "\n")
    result = run_remotemedia("run", calculator(repo_root), "--input-file", inputs)
    assert result.returncode == EXIT_INVALID, result.stderr
    assert "line 2: longer than 16 MiB (see --max-input-line-mib)" in result.stderr
    assert result.stdout.split() == ["576"]


def test_an_error_quoting_a_huge_value_shows_a_bounded_excerpt(run_remotemedia, repo_root, tmp_path):
    inputs = tmp_path / "str.jsonl"
    inputs.write_text(json.dumps("x" * 10_000_000) + "\n")
    result = run_remotemedia("run", calculator(repo_root), "--input-file", inputs)
    assert result.returncode == EXIT_FAILURE
    assert "node `plus_five_1` failed in process" in result.stderr
    assert "characters left out" in result.stderr
    assert len(result.stderr) < 50_000, f"{len(result.stderr)} characters of error"


def _rss_mb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
