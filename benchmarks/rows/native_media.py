"""Issue 13 — the native media engine: resampling and the speech pipeline against CPython and
RustPython, the start-up of an all-native manifest, and the sinc resampler's quality."""

from __future__ import annotations

import dataclasses
import json
import math
import wave
from array import array
from pathlib import Path

from benchmarks import workloads
from benchmarks.context import Bench, child_figures, node_metrics, run_metrics
from benchmarks.measure import BenchError, Contender, ProcessSample, compare, pairwise, run_process, stats
from benchmarks.results import Figure, Ratio, Row, Target
from benchmarks.rows.compute import NODE, long_speech

RESAMPLE_TARGET = "native resampling ≥ 20× faster than CPython's reference"
PIPELINE_TARGET = "speech pipeline in the binary ≥ 10× faster than the SDK's CPython run"
STARTUP_TARGET = "all-native manifest start-up ≤ 5 ms"

# The pinned Python engine: the binary runs the nodes' Python classes, not their native code.
RUSTPYTHON = {"REMOTEMEDIA_PYTHON_RUNTIME": "rustpython"}


def run(bench: Bench) -> list[Row]:
    seconds = bench.sizes.audio_seconds
    wav = long_speech(bench.repo / "examples/audio/speech.wav", bench.work / f"speech-{seconds}s.wav", seconds)
    return [_resampling(bench, wav, seconds), _speech_pipeline(bench, wav, seconds), _startup(bench),
            _sinc_quality(bench)]


def _resampling(bench: Bench, wav: Path, seconds: int) -> Row:
    row = Row("native_resample", f"Native resampling: {seconds} s of speech, native vs RustPython vs CPython",
              f"Time inside the resampler converting {seconds} s of real speech (44.1 kHz stereo, 20 ms frames) to "
              "16 kHz with linear interpolation: `ResampleNode` natively in the binary (its Rust implementation, "
              "the executor's per-node process time), the same node's Python class in the binary's RustPython "
              "(REMOTEMEDIA_PYTHON_RUNTIME=rustpython) and in CPython (its `process` calls timed in a plain "
              "loop). All three outputs are checked equal, bit for bit.")
    spec = workloads.resample(str(wav))
    inputs = bench.inputs("resample", [None])
    native = bench.binary_run("native (binary)", spec, inputs, metrics=True, figures=_node_time)
    rustpython = _pinned(bench.binary_run("RustPython (binary)", spec, inputs, metrics=True, figures=_node_time))
    cpython = bench.cpython_run("CPython", "node-time", spec, inputs, NODE, figures=child_figures)
    row.checks += [_placed(bench, native, "native"), _placed(bench, rustpython, "rustpython")]
    comparison = compare([native, rustpython, cpython], bench.sizes.repetitions, progress=bench.log)
    times = {c.name: comparison.values(c.name, "node_seconds") for c in (native, rustpython, cpython)}
    row.figures += [Figure(name, "s", stats(values)) for name, values in times.items()]
    versus_cpython = pairwise(times[cpython.name], times[native.name], lambda a, b: a / b)
    versus_rustpython = pairwise(times[rustpython.name], times[native.name], lambda a, b: a / b)
    row.ratios += [Ratio("CPython ÷ native (speed-up)", versus_cpython),
                   Ratio("RustPython ÷ native (speed-up)", versus_rustpython)]
    row.targets.append(Target.judge(RESAMPLE_TARGET, versus_cpython.median >= 20.0,
                                    f"{versus_cpython.median:.0f}× (RustPython: {versus_rustpython.median:.0f}×)"))
    row.checks += comparison.checked
    return row


def _speech_pipeline(bench: Bench, wav: Path, seconds: int) -> Row:
    row = Row("native_pipeline", f"Speech pipeline: {seconds} s of speech, binary vs the SDK's CPython run",
              "Whole processes, spawn to exit: WAV reader → mix-down → resample to 16 kHz → energy VAD, with a "
              "WAV writer branch (examples/pipelines/speech_recording.py's shape) — `remotemedia run` (every "
              "node native) against a fresh `python3` running the same pipeline with the SDK's local run. "
              "Outputs (segments, the writer's summary) are checked equal.")
    spec = workloads.speech(str(wav), str(bench.work / "speech-16k.wav"))
    inputs = bench.inputs("speech", [None])
    binary = bench.binary_run("binary (native)", spec, inputs)
    cpython = bench.cpython_run("CPython SDK", "sdk", spec, inputs)
    # Two sinks: the binary tags each output with its sink, and at the end either sink may go first,
    # so the outputs are compared here as sets of values, those of the last run of each.
    row.checks.append(_placed(bench, binary, "native"))
    comparison = compare([binary, cpython], bench.sizes.repetitions, progress=bench.log, outputs_are_timings=True)
    ours = sorted(json.dumps(json.loads(line)["value"], sort_keys=True) for line in binary.output.read_text().splitlines())
    theirs = sorted(json.dumps(json.loads(line), sort_keys=True) for line in cpython.output.read_text().splitlines())
    if ours != theirs:
        raise BenchError(f"outputs differ between {binary.name} and {cpython.name}: {ours} != {theirs}")
    row.checks.append(f"same outputs ({len(ours)} values: segments and the recording's summary) from "
                      f"{binary.name}, {cpython.name}")
    binary_times, cpython_times = comparison.values(binary.name), comparison.values(cpython.name)
    row.figures += [Figure(binary.name, "s", stats(binary_times)), Figure(cpython.name, "s", stats(cpython_times))]
    ratio = pairwise(cpython_times, binary_times, lambda a, b: a / b)
    row.ratios.append(Ratio("CPython ÷ binary (speed-up)", ratio))
    row.targets.append(Target.judge(PIPELINE_TARGET, ratio.median >= 10.0, f"{ratio.median:.0f}×"))
    row.checks += comparison.checked
    return row


def _startup(bench: Bench) -> Row:
    row = Row("native_startup", "Start-up of an all-native manifest",
              "`remotemedia run --metrics` on an all-native manifest (mix-down → gain → resample) with one "
              "20 ms frame: the run's start-up as the executor reports it (engines started, every node "
              "initialized; no interpreter is built), and the whole process, spawn to exit, beside the "
              "executable's own floor (`--version`).")
    frame = {"samples": [0.25, -0.25] * 882, "sample_rate": 44100, "channels": 2, "timestamp": 0.0}
    spec = workloads.NATIVE_CHAIN
    inputs = bench.inputs("native-startup", [frame])
    binary = bench.binary_run("binary (native)", spec, inputs, metrics=True, figures=_startup_figures)
    row.checks.append(_placed(bench, binary, "native"))
    comparison = compare([binary], bench.sizes.cold_start_repetitions, progress=bench.log)
    startup = comparison.values(binary.name, "startup_seconds")
    row.figures += [Figure("run start-up (engines + node init)", "s", stats(startup)),
                    Figure("whole process", "s", stats(comparison.values(binary.name)))]
    bare = [run_process([str(bench.binary), "--version"]).wall for _ in range(bench.sizes.cold_start_repetitions)]
    row.figures.append(Figure("process alone (`--version`)", "s", stats(bare), note="loading the executable"))
    median = stats(startup).median
    row.targets.append(Target.judge(STARTUP_TARGET, median <= 0.005, f"{median * 1e3:.2f} ms"))
    row.checks += comparison.checked
    return row


def _sinc_quality(bench: Bench) -> Row:
    """Tones through SincResampleNode 48 kHz → 16 kHz: the gain of each pass-band tone, and what
    is left of each tone above the new Nyquist frequency (aliases), native and numpy's reference."""
    row = Row("sinc_quality", "Sinc resampler quality: 48 kHz → 16 kHz, tone sweep",
              "A stepped sine sweep (0.25 s tones at 0.5 full scale, 32-bit WAV) through `SincResampleNode` to "
              "16 kHz, natively (rubato, Blackman-Harris² window) and with the numpy reference (Kaiser window, "
              "beta 8.6), both at the default zero_crossings 16 and rolloff 0.945 (cutoff 7.56 kHz), each tone's "
              "output level relative to its input. Pass-band ripple: the spread of the gains of the tones from "
              "100 Hz to 5.6 kHz; then the roll-off near the cutoff; aliasing: what is left of the tones that "
              "cannot exist at 16 kHz (8.5 to 22.5 kHz), which fold back into the band.")
    passband = [100.0 * 1.25 ** step for step in range(20) if 100.0 * 1.25 ** step <= 7000.0]
    stopband = [8500.0 + 1000.0 * step for step in range(15)]
    tones = passband + stopband
    rate, tone_seconds = 48000, 0.25
    path = bench.work / "sweep.wav"
    _write_sweep(path, tones, rate, tone_seconds)

    document = {"version": "v1", "metadata": {"name": "sinc-quality"}, "nodes": [
        {"id": "reader", "node_type": "WavReaderNode", "params": {"path": str(path), "frame_ms": 20}},
        {"id": "sinc", "node_type": "SincResampleNode", "params": {"target_rate": 16000}, "runtime_hint": "native"}],
        "connections": [{"from": "reader", "to": "sinc"}]}
    manifest = bench.work / "sinc-quality.json"
    manifest.write_text(json.dumps(document))
    result = run_process([str(bench.binary), "run", str(manifest), "--input", "null", "--quiet"])
    native = [value for line in result.stdout.splitlines() for value in json.loads(line)["samples"]]

    from remotemedia.core.pipeline import Pipeline

    reference_document = json.loads(json.dumps(document))
    reference_document["nodes"][1]["runtime_hint"] = "cpython"
    reference = [value for frame in Pipeline.from_manifest(reference_document).run([None], engine="python")
                 for value in frame["samples"]]
    flat = [index for index, tone in enumerate(passband) if tone <= 5600.0]
    for name, samples in (("native (rubato)", native), ("numpy reference", reference)):
        gains = _tone_gains(samples, tones, 16000, tone_seconds)
        ripple = max(gains[i] for i in flat) - min(gains[i] for i in flat)
        row.figures += [
            Figure(f"{name}: pass-band ripple", "dB", stats([ripple]), note="max − min gain, 100 Hz – 5.6 kHz"),
            Figure(f"{name}: gain at {passband[-1] / 1000:.2f} kHz", "dB", stats([gains[len(passband) - 1]]),
                   note="the filter's roll-off towards the 7.56 kHz cutoff"),
            Figure(f"{name}: alias of 8.5 kHz", "dB", stats([gains[len(passband)]]),
                   note="folds to 7.5 kHz, inside the transition band"),
            Figure(f"{name}: aliasing, 9.5 – 22.5 kHz", "dB", stats([max(gains[len(passband) + 1:])]),
                   note="the strongest alias of the tones beyond the transition band"),
        ]
    row.checks.append(f"both outputs hold {len(native)} samples" if len(native) == len(reference)
                      else f"native {len(native)} samples, reference {len(reference)}")
    return row


def _write_sweep(path: Path, tones: list[float], rate: int, seconds: float) -> None:
    count = int(rate * seconds)
    samples = array("i", (round(0.5 * math.sin(2 * math.pi * tone * i / rate) * 2147483647)
                          for tone in tones for i in range(count)))
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(4)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())


def _tone_gains(samples: list[float], tones: list[float], rate: int, seconds: float) -> list[float]:
    """Each tone's output level in dB relative to its input (0.5 peak), from the middle half of
    its segment (away from the transitions between tones)."""
    count = int(rate * seconds)
    gains = []
    for index in range(len(tones)):
        middle = samples[index * count + count // 4: index * count + 3 * count // 4]
        rms = math.sqrt(sum(value * value for value in middle) / len(middle))
        gains.append(20 * math.log10(max(rms * math.sqrt(2) / 0.5, 1e-12)))
    return gains


def _placed(bench: Bench, contender: Contender, engine: str) -> str:
    """Checks with `plan --json`, in the contender's environment, that every node of its manifest
    runs on `engine`: a node that fell back to an interpreter would time the wrong code."""
    manifest = contender.argv[contender.argv.index("run") + 1]
    plan = run_process([str(bench.binary), "plan", "--json", manifest], env=contender.env)
    engines = sorted({node["engine"]["kind"] for node in json.loads(plan.stdout)["nodes"]})
    if engines != [engine]:
        raise BenchError(f"{contender.name}: nodes placed on {engines}, not only on {engine}")
    return f"plan --json: every node of {contender.name} on {engine}"


def _pinned(contender):
    return dataclasses.replace(contender, env={**(contender.env or {}), **RUSTPYTHON})


def _node_time(sample: ProcessSample) -> dict[str, float]:
    return {"node_seconds": float(node_metrics(sample)[NODE]["process_seconds"])}


def _startup_figures(sample: ProcessSample) -> dict[str, float]:
    return {"startup_seconds": float(run_metrics(sample)["startup_seconds"])}
