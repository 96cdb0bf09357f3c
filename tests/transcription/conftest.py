"""Fixtures for speech-to-text through the real binary: a spoken corpus made with espeak-ng, the
example transcription pipeline written as a manifest for any WAV file, and the binary run with the
interpreter that has faster-whisper and the model package — offline, as every test here is."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from remotemedia.core.pipeline import Pipeline
from remotemedia.pipeline_scripts import load_script
from speech_corpus import Corpus, make_corpus
from transcription_helpers import RUN_TIMEOUT_S

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model hub, in this process and in every binary it starts."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def write_pipeline(tmp_path: Path) -> Callable[[Pipeline], Path]:
    """Writes a pipeline's manifest into the test's directory; returns its path."""

    def write(pipeline: Pipeline) -> Path:
        path = tmp_path / f"{pipeline.name}.json"
        path.write_text(pipeline.serialize())
        return path

    return write


@pytest.fixture
def transcribe_manifest(tmp_path: Path, write_pipeline: Callable[[Pipeline], Path]) -> Callable[[Path], Path]:
    """The example pipeline (examples/pipelines/transcribe.py) on `wav`, subtitles into tmp_path."""

    def manifest(wav: Path) -> Path:
        script = REPO_ROOT / "examples" / "pipelines" / "transcribe.py"
        return write_pipeline(load_script(script).build(path=str(wav), subtitles_path=str(tmp_path / "subtitles.srt")))

    return manifest


@pytest.fixture
def run_binary(
    run_remotemedia: Callable[..., subprocess.CompletedProcess[str]],
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`remotemedia ARGS…` with this interpreter (faster-whisper, the model package) as its CPython."""

    def run(
        *args: str | Path, env: dict[str, str | None] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {"REMOTEMEDIA_PYTHON": sys.executable, **(env or {})}
        return run_remotemedia(*args, env=environment, stdin=stdin, timeout=RUN_TIMEOUT_S)

    return run

