"""Speech detection with a recording branch: the 16 kHz mono stream fans out to a WAV writer and
to the voice activity detector.

The run's outputs are the speech segments and, at the end, the writer's summary of the file it
wrote. Paths are relative to the working directory (run from the repository root).

Run locally: PYTHONPATH=python python examples/pipelines/speech_recording.py
Manifest:    examples/manifests/speech_recording.json
"""

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.transforms import MixDownNode, ResampleNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode, WavWriterNode

SPEECH_WAV = "examples/audio/speech.wav"


def build(output_path: str = "speech-16k-mono.wav") -> Pipeline:
    reader = WavReaderNode(name="reader", path=SPEECH_WAV, frame_ms=20)
    mono = MixDownNode(name="mono")
    resample = ResampleNode(name="resample", target_rate=16000)
    return (
        Pipeline(name="speech-recording")
        .connect(reader, mono)
        .connect(mono, resample)
        .connect(resample, WavWriterNode(name="recorder", path=output_path))
        .connect(resample, EnergyVADNode(name="vad"))
    )


if __name__ == "__main__":
    for output in build().run([None]):
        print(output)
