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
    (root / "tmp").mkdir()
    if os.geteuid() != 0:
        pytest.skip("chroot needs root privileges")
    try:
        probe = run_in_root(root, "--version")
    except subprocess.SubprocessError as exc:  # chroot(2) refused in the child (no CAP_SYS_CHROOT)
        pytest.skip(f"this machine does not allow chroot: {exc}")
    assert probe.returncode == 0, probe.stderr
    return root


def run_in_root(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs /bin/remotemedia with `root` as `/`: nothing outside it is visible."""
    def enter_root() -> None:
        os.chroot(root)
        os.chdir("/")

    return subprocess.run(["/bin/remotemedia", *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/bin"}, preexec_fn=enter_root)


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

    result = run_in_root(bare_root, "run", "/data/speech.json", "--input", "null")

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
