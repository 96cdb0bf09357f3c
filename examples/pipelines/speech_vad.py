"""Speech detection: read a WAV file, mix to mono, resample to 16 kHz, find the speech segments.

Pure Python audio nodes, so this also runs in the runtime's embedded interpreter. The reader
takes its file from the `path` parameter when its input is null (run from the repository root).

Run locally: PYTHONPATH=python python examples/pipelines/speech_vad.py
Manifest:    examples/manifests/speech_vad.json
"""

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.transforms import MixDownNode, ResampleNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode

SPEECH_WAV = "examples/audio/speech.wav"


def build() -> Pipeline:
    return (
        Pipeline(name="speech-vad")
        .add_node(WavReaderNode(name="reader", path=SPEECH_WAV, frame_ms=20))
        .add_node(MixDownNode(name="mono"))
        .add_node(ResampleNode(name="resample", target_rate=16000))
        .add_node(EnergyVADNode(name="vad", threshold_db=-40.0, min_silence_ms=400))
    )


if __name__ == "__main__":
    for segment in build().run([None]):
        print(segment)
