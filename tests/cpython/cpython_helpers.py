"""Shared by the CPython engine's tests: the speech example, its truth, a chain of mixed engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.sinc_resample import SincResampleNode
from remotemedia.nodes.audio.transforms import MixDownNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode

SPEECH_WAV = Path(__file__).resolve().parent.parent.parent / "examples" / "audio" / "speech.wav"
# Where the speech is in speech.wav, by construction (examples/audio/README.md).
SPEECH_TRUTH = [(0.250, 1.570), (2.570, 3.754), (4.754, 5.282)]


def speech_pipeline() -> Pipeline:
    """RustPython (reader, mix-down) -> CPython (numpy resampler) -> RustPython (energy VAD)."""
    return (Pipeline("mixed-engines")
            .add_node(WavReaderNode(name="reader", path=str(SPEECH_WAV), frame_ms=20))
            .add_node(MixDownNode(name="mono"))
            .add_node(SincResampleNode(name="resample", target_rate=16000))
            .add_node(EnergyVADNode(name="vad", threshold_db=-45.0, min_silence_ms=200)))


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines()]
