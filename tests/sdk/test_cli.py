"""`python -m remotemedia`: validate and export, as a user runs them."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def cli(run_python):
    def run(*args: str, stdin: str | None = None):
        return run_python("-m", "remotemedia", *args, stdin=stdin, check=False)

    return run


@pytest.fixture
def broken_manifest(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(
        json.dumps(
            {
                "version": "v1",
                "metadata": {"name": "x"},
                "nodes": [{"id": "a", "node_type": "X"}, {"id": "a", "node_type": "Y"}],
            }
        )
    )
    return path


def test_valid_manifests_exit_zero(cli):
    result = cli("validate", "examples/manifests/calculator.json", "examples/manifests/speech_vad.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "examples/manifests/calculator.json: valid",
        "examples/manifests/speech_vad.json: valid",
    ]


def test_invalid_manifest_exits_two_with_the_pointer(cli, broken_manifest):
    result = cli("validate", "examples/manifests/calculator.json", str(broken_manifest))
    assert result.returncode == 2
    assert f"{broken_manifest}: /nodes/1/id: duplicate node id 'a'" in result.stderr


def test_stdin_and_json_output(cli, broken_manifest):
    result = cli("validate", "--json", "-", stdin=broken_manifest.read_text())
    assert result.returncode == 2
    (report,) = json.loads(result.stdout)
    assert report["file"] == "-" and report["valid"] is False
    assert report["errors"] == [{"pointer": "/nodes/1/id", "message": "duplicate node id 'a' (first at /nodes/0/id)"}]


def test_missing_file_is_an_invalid_result_not_a_crash(cli, tmp_path):
    result = cli("validate", str(tmp_path / "absent.json"))
    assert result.returncode == 2
    assert "cannot read the file" in result.stderr and "Traceback" not in result.stderr


def test_export_prints_the_manifest_of_a_pipeline_script(cli):
    result = cli("export", "examples/pipelines/calculator.py")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["metadata"]["name"] == "calculator"
    assert manifest["metadata"]["description"] == "Arithmetic chain: add 5, double, then square each number."


def test_export_of_a_script_without_build_says_so(cli, tmp_path):
    script = tmp_path / "nothing.py"
    script.write_text("x = 1\n")
    result = cli("export", str(script))
    assert result.returncode == 1
    assert "must define build() -> Pipeline" in result.stderr
