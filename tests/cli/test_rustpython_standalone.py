"""The binary needs no Python: it links no libpython and runs in a root holding nothing but itself,
the libraries `ldd` lists and the pipeline's files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

SPEECH_WAV = Path("examples/audio/speech.wav")
SPEECH_MP3 = Path("examples/audio/speech.mp3")


def linked_libraries(binary: Path) -> list[Path]:
    """The shared objects the dynamic loader maps for `binary` (the vDSO has no file)."""
    output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    return [Path(match) for match in re.findall(r"(/\S+) \(0x", output)]


def test_the_binary_links_no_libpython(remotemedia_bin):
    output = subprocess.run(["ldd", str(remotemedia_bin)], capture_output=True, text=True, check=True).stdout
    assert "python" not in output.lower(), output


@pytest.fixture(scope="module")
def bare_root(remotemedia_bin, repo_root, tmp_path_factory) -> Path:
    """A directory tree with the binary, its libraries and the example WAV — and no Python at all."""
    root = tmp_path_factory.mktemp("bare-root")
    for library in linked_libraries(remotemedia_bin):
        target = root / library.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library.resolve(), target)
    (root / "bin").mkdir()
    shutil.copy2(remotemedia_bin, root / "bin" / "remotemedia")
    (root / "data").mkdir()
    shutil.copy2(repo_root / SPEECH_WAV, root / "data" / "speech.wav")
    shutil.copy2(repo_root / SPEECH_MP3, root / "data" / "speech.mp3")
    (root / "tmp").mkdir()
    if os.geteuid() != 0:
        pytest.skip("chroot needs root privileges")
    try:
        probe = run_in_root(root, "--version")
    except subprocess.SubprocessError as exc:  # chroot(2) refused in the child (no CAP_SYS_CHROOT)
        pytest.skip(f"this machine does not allow chroot: {exc}")
    assert probe.returncode == 0, probe.stderr
    return root


def run_in_root(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs /bin/remotemedia with `root` as `/`: nothing outside it is visible."""
    def enter_root() -> None:
        os.chroot(root)
        os.chdir("/")

    return subprocess.run(["/bin/remotemedia", *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/bin", **(env or {})}, preexec_fn=enter_root)


# The audio nodes have native implementations, which placement prefers: pinned to RustPython, the
# run shows the embedded interpreter doing the work with no Python around.
IN_RUSTPYTHON = {"REMOTEMEDIA_PYTHON_RUNTIME": "rustpython"}


def test_the_root_holds_no_python(bare_root):
    everything = [path.name.lower() for path in bare_root.rglob("*")]
    assert not [name for name in everything if "python" in name], everything


def test_the_seed_example_runs_without_python(bare_root, run_python):
    (bare_root / "data" / "seed.json").write_text(run_python("examples/seed_pipeline.py").stdout)

    result = run_in_root(bare_root, "run", "/data/seed.json", "--input", "10")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["15"]


def test_the_audio_pipeline_runs_without_python(bare_root, repo_root):
    """The speech pipeline with its recording branch; compared with the SDK's CPython run."""
    from remotemedia.core.pipeline import Pipeline

    document = json.loads((repo_root / "examples" / "manifests" / "speech_recording.json").read_text())
    for node in document["nodes"]:
        if node["node_type"] == "WavReaderNode":
            node["params"]["path"] = "/data/speech.wav"
        if node["node_type"] == "WavWriterNode":
            node["params"]["path"] = "/tmp/recording.wav"
    (bare_root / "data" / "speech.json").write_text(json.dumps(document))

    plan = run_in_root(bare_root, "plan", "--json", "/data/speech.json", env=IN_RUSTPYTHON)
    assert {node["engine"]["kind"] for node in json.loads(plan.stdout)["nodes"]} == {"rustpython"}, plan.stderr
    result = run_in_root(bare_root, "run", "/data/speech.json", "--input", "null", env=IN_RUSTPYTHON)

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    segments = [line["value"] for line in lines if line["sink"] == "vad_4"]
    [summary] = [line["value"] for line in lines if line["sink"] == "recorder_3"]

    # The same pipeline in CPython, reading the same WAV.
    for node in document["nodes"]:
        if node["node_type"] == "WavReaderNode":
            node["params"]["path"] = str(repo_root / SPEECH_WAV)
        if node["node_type"] == "WavWriterNode":
            node["params"]["path"] = str(bare_root / "tmp" / "reference.wav")
    reference = Pipeline.from_manifest(document).run([None])
    assert segments == [item for item in reference if "start" in item]
    assert len(segments) >= 1
    assert summary["frames"] == next(item for item in reference if "frames" in item)["frames"]
    with wave.open(str(bare_root / "tmp" / "recording.wav")) as ours, \
            wave.open(str(bare_root / "tmp" / "reference.wav")) as theirs:
        assert (ours.getframerate(), ours.getnchannels()) == (16000, 1)
        assert ours.readframes(ours.getnframes()) == theirs.readframes(theirs.getnframes())


def test_the_speech_pipeline_runs_natively_from_an_mp3_without_python(bare_root, repo_root):
    """The --audio example on the MP3: decoded and processed natively, no interpreter started; the
    segments are the reference's on the WAV it was made from, within one 30 ms window."""
    from remotemedia.audio import AudioSource
    from remotemedia.pipeline_scripts import load_script

    document = json.loads((repo_root / "examples" / "manifests" / "speech_audio.json").read_text())
    for node in document["nodes"]:
        if node["node_type"] == "WavWriterNode":
            node["params"]["path"] = "/tmp/recording.wav"
    (bare_root / "data" / "speech_audio.json").write_text(json.dumps(document))

    plan = run_in_root(bare_root, "plan", "--json", "/data/speech_audio.json")
    assert {node["engine"]["kind"] for node in json.loads(plan.stdout)["nodes"]} == {"native"}, plan.stderr
    result = run_in_root(bare_root, "run", "/data/speech_audio.json", "--audio", "/data/speech.mp3",
                         env={"RUST_LOG": "remotemedia_rustpython=debug"})

    assert result.returncode == 0, result.stderr
    assert "RustPython interpreter ready" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    segments = [line["value"] for line in lines if line["sink"] == "vad_3"]
    reference = load_script(repo_root / "examples" / "pipelines" / "speech_audio.py").build(
        output_path=str(bare_root / "tmp" / "reference.wav")).run(AudioSource(repo_root / SPEECH_WAV))
    expected = [item for item in reference if "start" in item]
    assert len(segments) == len(expected) == 3
    for got, want in zip(segments, expected):
        assert abs(got["start"] - want["start"]) <= 0.03 + 1e-9 and abs(got["end"] - want["end"]) <= 0.03 + 1e-9
    with wave.open(str(bare_root / "tmp" / "recording.wav")) as ours:
        assert (ours.getframerate(), ours.getnchannels(), ours.getnframes()) == (16000, 1, 88520)
