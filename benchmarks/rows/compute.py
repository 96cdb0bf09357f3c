"""Row 4 — a compute-heavy pure-Python node: the SDK's resampler, RustPython against CPython.

The binary runs the node's Python class in RustPython, pinned with REMOTEMEDIA_PYTHON_RUNTIME (left
to itself it runs the node's native implementation: the native_media rows measure that)."""

from __future__ import annotations

import dataclasses
import wave
from pathlib import Path

from benchmarks import workloads
from benchmarks.context import Bench, child_figures, node_metrics
from benchmarks.measure import ProcessSample, compare, pairwise, stats
from benchmarks.results import Figure, Ratio, Row, Target

TARGET = "compute-heavy RustPython ≤ 4× CPython's time"
NODE = "resample_1"


def run(bench: Bench) -> Row:
    seconds = bench.sizes.audio_seconds
    wav = long_speech(bench.repo / "examples/audio/speech.wav", bench.work / f"speech-{seconds}s.wav", seconds)
    row = Row("compute_heavy", f"Compute-heavy pure-Python node: resampling {seconds} s of audio",
              f"Time spent inside `ResampleNode.process` (linear interpolation in pure Python) converting {seconds} s "
              "of real speech (examples/audio/speech.wav repeated; 44.1 kHz stereo, 20 ms frames) to 16 kHz. "
              "Both sides run the pipeline WAV reader → resampler; only the resampler is timed. RustPython: "
              "the executor's per-node process time (it includes converting each frame into and out of the "
              "interpreter). CPython: the same node's `process` calls, timed in a plain loop.")
    spec = workloads.resample(str(wav))
    inputs = bench.inputs("resample", [None])
    binary = bench.binary_run("RustPython (binary)", spec, inputs, metrics=True, figures=_binary_node_time)
    binary = dataclasses.replace(binary, env={**(binary.env or {}), "REMOTEMEDIA_PYTHON_RUNTIME": "rustpython"})
    cpython = bench.cpython_run("CPython", "node-time", spec, inputs, NODE, figures=child_figures)
    comparison = compare([binary, cpython], bench.sizes.repetitions, progress=bench.log)
    binary_times = comparison.values(binary.name, "node_seconds")
    cpython_times = comparison.values(cpython.name, "node_seconds")
    row.figures += [Figure(binary.name, "s", stats(binary_times)), Figure(cpython.name, "s", stats(cpython_times))]
    ratio = pairwise(binary_times, cpython_times, lambda a, b: a / b)
    row.ratios.append(Ratio("RustPython ÷ CPython (time)", ratio))
    row.targets.append(Target.judge(TARGET, ratio.median <= 4.0, f"{ratio.median:.1f}×"))
    row.checks += comparison.checked
    return row


def _binary_node_time(sample: ProcessSample) -> dict[str, float]:
    return {"node_seconds": float(node_metrics(sample)[NODE]["process_seconds"])}


def long_speech(source: Path, target: Path, seconds: int) -> Path:
    """`seconds` of real speech: the bundled recording repeated, as a WAV file of the same format."""
    with wave.open(str(source), "rb") as reader:
        params = reader.getparams()
        recording = reader.readframes(reader.getnframes())
    frame_bytes = params.nchannels * params.sampwidth
    needed = seconds * params.framerate * frame_bytes
    audio = (recording * (needed // len(recording) + 1))[:needed]
    with wave.open(str(target), "wb") as writer:
        writer.setnchannels(params.nchannels)
        writer.setsampwidth(params.sampwidth)
        writer.setframerate(params.framerate)
        writer.writeframes(audio)
    return target
