"""Transcription (issue 14): the example pipeline in the binary against faster-whisper called directly."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.context import Bench, node_metrics, run_metrics
from benchmarks.measure import Contender, ProcessSample, compare, pairwise, stats
from benchmarks.results import Figure, Ratio, Row, Target
from benchmarks.rows.compute import long_speech

TARGET = "transcription: binary's real-time factor ≤ 1.05 × faster-whisper called directly"
CHILD = Path(__file__).resolve().parent.parent / "transcribe_child.py"
WHISPER = "whisper_4"


def run(bench: Bench) -> Row:
    seconds = bench.sizes.transcribe_seconds
    wav = speech_16k(bench, seconds)
    row = Row("transcription", f"Transcription: {seconds} s of speech, VAD segments through Whisper tiny.en",
              f"{seconds} s of real speech (examples/audio/speech.wav repeated, as 16 kHz mono 16-bit PCM so both "
              "sides read the very same samples) through examples/pipelines/transcribe.py in the binary — WAV "
              "reader, mix-down, resampler, energy VAD and subtitle writer in-process, WhisperTranscriptionNode "
              "(faster-whisper, CPU int8, beam 5) on the CPython the binary loads — against one CPython process "
              "calling faster-whisper directly on the same segments with the same model and decoding "
              "(`benchmarks/transcribe_child.py`). Real-time factor = time ÷ audio duration: the binary's "
              "streaming phase (`--metrics`; start-up, where the model loads, excluded) against the direct "
              "transcription loop (model load excluded likewise). Latency per segment: the node's own "
              "`segment_latency` samples, from holding a closed segment and its audio to handing its transcript "
              "on; the file is read faster than real time, so a segment may wait in the node's inbox before "
              "that clock starts.")
    manifest = _manifest(bench, wav)
    inputs = bench.inputs("transcription", [None])
    output = bench.work / "outputs-transcription-binary.jsonl"
    binary = Contender("binary (pipeline)", [str(bench.binary), "run", str(manifest), "--input-file", str(inputs),
                                             "--output", str(output), "--quiet", "--metrics", "--json"],
                       output, {**bench.child_env(), "HF_HUB_OFFLINE": "1"}, _binary_figures)
    output = bench.work / "outputs-transcription-direct.jsonl"
    direct = Contender("faster-whisper directly (CPython)", [bench.python, str(CHILD), str(wav), str(output)],
                       output, {**bench.child_env(), "HF_HUB_OFFLINE": "1"}, _direct_figures)
    comparison = compare([binary, direct], bench.sizes.repetitions, progress=bench.log)

    binary_rtf = [value / seconds for value in comparison.values(binary.name, "streaming_seconds")]
    direct_rtf = [value / seconds for value in comparison.values(direct.name, "transcribe_seconds")]
    row.figures += [
        Figure(f"{binary.name}: real-time factor, streaming", "×", stats(binary_rtf)),
        Figure(f"{direct.name}: real-time factor, transcribing", "×", stats(direct_rtf)),
        Figure(f"{binary.name}: whole process", "s", stats(comparison.values(binary.name))),
        Figure(f"{direct.name}: whole process", "s", stats(comparison.values(direct.name))),
        Figure(f"{binary.name}: segment latency, median", "s",
               stats(comparison.values(binary.name, "latency_median_seconds"))),
        Figure(f"{binary.name}: segment latency, p90", "s",
               stats(comparison.values(binary.name, "latency_p90_seconds"))),
    ]
    overhead = pairwise(binary_rtf, direct_rtf, lambda a, b: a / b)
    row.ratios.append(Ratio("binary ÷ direct (real-time factor)", overhead))
    row.targets.append(Target.judge(TARGET, overhead.median <= 1.05,
                                    f"{overhead.median:.3f}× (binary RTF {stats(binary_rtf).median:.3f}, "
                                    f"direct {stats(direct_rtf).median:.3f})"))
    row.checks += comparison.checked
    return row


def speech_16k(bench: Bench, seconds: int) -> Path:
    """`seconds` of the bundled speech as 16 kHz mono 16-bit PCM, converted by the SDK's own nodes."""
    from remotemedia.core.pipeline import Pipeline
    from remotemedia.nodes.audio.transforms import MixDownNode, ResampleNode
    from remotemedia.nodes.audio.wav import WavReaderNode, WavWriterNode

    source = long_speech(bench.repo / "examples/audio/speech.wav", bench.work / f"speech-{seconds}s.wav", seconds)
    target = bench.work / f"speech-{seconds}s-16k.wav"
    (Pipeline("to-16k").add_node(WavReaderNode(path=str(source))).add_node(MixDownNode())
     .add_node(ResampleNode(target_rate=16000)).add_node(WavWriterNode(path=str(target))).run([None], engine="python"))
    return target


def _manifest(bench: Bench, wav: Path) -> Path:
    from remotemedia.pipeline_scripts import load_script

    pipeline = load_script(bench.repo / "examples/pipelines/transcribe.py").build(
        path=str(wav), subtitles_path=str(bench.work / "transcription.srt"))
    path = bench.work / "manifest-transcription.json"
    path.write_text(pipeline.serialize(), encoding="utf-8")
    return path


def _binary_figures(sample: ProcessSample) -> dict[str, float]:
    (latency,) = node_metrics(sample)[WHISPER]["timings"]
    return {"streaming_seconds": run_metrics(sample)["streaming_seconds"],
            "latency_median_seconds": latency["median_seconds"], "latency_p90_seconds": latency["p90_seconds"]}


def _direct_figures(sample: ProcessSample) -> dict[str, float]:
    return json.loads(sample.stdout.strip().splitlines()[-1])

