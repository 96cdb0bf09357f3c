"""The Whisper node's own behaviour in the local CPython run (the reference semantics): the model is
loaded once, long speech is split at Whisper's window, window mode, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from remotemedia.core.exceptions import NodeError
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode
from remotemedia.nodes.ml.whisper_transcription import WhisperTranscriptionNode
from speech_corpus import make_corpus, word_error_rate

WER_BOUND = 0.35


def vad_pipeline(wav: Path, whisper: WhisperTranscriptionNode, min_silence_ms: int = 400) -> Pipeline:
    reader = WavReaderNode(name="reader", path=str(wav))
    vad = EnergyVADNode(name="vad", min_silence_ms=min_silence_ms)
    return Pipeline(name="asr").connect(reader, vad).connect(reader, whisper).connect(vad, whisper)


def test_the_model_is_loaded_once_for_all_segments(corpus, monkeypatch):
    import faster_whisper

    loads = []
    real = faster_whisper.WhisperModel

    def counting(*args, **kwargs):
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(faster_whisper, "WhisperModel", counting)
    whisper = WhisperTranscriptionNode(name="whisper", segmentation="vad")
    transcripts = vad_pipeline(corpus.wav, whisper).run([None], engine="python")
    assert len(transcripts) == len(corpus.utterances) >= 5
    assert len(loads) == 1
    # The local run leaves the node's timing samples on it: one per transcript.
    assert [name for name, _ in whisper.__dict__["_timing_samples"]] == ["segment_latency"] * len(transcripts)


SPEECH = (
    "Once upon a time there was a small town by a river. Every morning the baker opened his shop "
    "and the children walked to school along the water. In the afternoon the farmers came to the "
    "market to sell their vegetables and fruit, and in the evening the whole town gathered in the "
    "square to listen to music and talk about the day. Nobody was ever in a hurry there. On Sundays "
    "the families walked up the hill behind the church, where they had lunch in the grass and watched "
    "the boats on the river until the sun went down."
)


def test_speech_longer_than_the_window_is_split_between_words(tmp_path):
    (long,) = make_corpus(tmp_path, (SPEECH,)).utterances
    assert long.end - long.start > 30  # one utterance longer than Whisper's window
    whisper = WhisperTranscriptionNode(name="whisper", segmentation="vad")
    # A long min_silence keeps the sentences' pauses from splitting the speech: one VAD segment.
    transcripts = vad_pipeline(tmp_path / "corpus.wav", whisper, min_silence_ms=3000).run([None], engine="python")
    assert len(transcripts) >= 2
    assert all(t["end"] - t["start"] <= 30 for t in transcripts)
    assert all(a["end"] == b["start"] for a, b in zip(transcripts, transcripts[1:]))
    assert abs(transcripts[0]["start"] - long.start) < 0.1 and abs(transcripts[-1]["end"] - long.end) < 0.1
    wer = word_error_rate([(SPEECH, " ".join(t["text"] for t in transcripts))])
    print(f"long speech WER {wer:.3f} in {len(transcripts)} pieces")
    assert wer <= WER_BOUND


def test_window_mode_transcribes_a_plain_chain(corpus):
    whisper = WhisperTranscriptionNode(name="whisper")
    pipeline = Pipeline(name="asr").add_node(WavReaderNode(name="reader", path=str(corpus.wav))).add_node(whisper)
    (transcript,) = pipeline.run([None], engine="python")  # the corpus is shorter than one window
    assert transcript["start"] == 0.0
    assert word_error_rate([(corpus.text, transcript["text"])]) <= WER_BOUND


def test_audio_that_is_not_16k_mono_is_refused_naming_the_fix(corpus):
    frame = {"samples": [0.0] * 882, "sample_rate": 44100, "channels": 1, "timestamp": 0.0}
    with pytest.raises(NodeError, match="needs 16 kHz mono audio, got 44100 Hz with 1 channel"):
        Pipeline(name="asr").add_node(WhisperTranscriptionNode(name="whisper")).run([frame], engine="python")


def test_a_segment_in_window_mode_says_how_to_use_a_vad(corpus):
    with pytest.raises(NodeError, match="set segmentation='vad'"):
        vad_pipeline(corpus.wav, WhisperTranscriptionNode(name="whisper")).run([None], engine="python")
