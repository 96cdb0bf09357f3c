"""A manifest saved with a UTF-8 byte order mark (as some Windows editors write it) is accepted by
the binary and by the SDK's validator alike (issue 16, finding 7)."""

from __future__ import annotations

import json


def test_a_manifest_with_a_byte_order_mark_runs(run_remotemedia, run_python, repo_root, tmp_path):
    manifest = tmp_path / "bom.json"
    text = (repo_root / "examples" / "manifests" / "calculator.json").read_text()
    manifest.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = run_remotemedia("run", manifest, "--input", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["144"]
    check = run_python(
        "-c",
        "import sys; from remotemedia.manifest import validate; print(validate(open(sys.argv[1], 'rb').read()))",
        str(manifest),
    )
    assert check.stdout.strip() == "[]", check.stdout + check.stderr
    assert json.loads(text)["nodes"]
