"""Speech detection on any audio file or stream: the pipeline starts where a reader would end.

Its inputs are audio frames — from `remotemedia run examples/manifests/speech_audio.json --audio
FILE` (WAV, FLAC, MP3, Ogg Vorbis; `-` reads stdin), or `AudioSource` in Python — mixed to mono,
resampled to 16 kHz, then recorded to a WAV file and scanned for speech segments. Every node has
a native implementation, so the executable runs it without starting any Python.

Run locally: PYTHONPATH=python python examples/pipelines/speech_audio.py examples/audio/speech.mp3
Manifest:    examples/manifests/speech_audio.json
"""

import sys

from remotemedia.audio import AudioSource
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.transforms import MixDownNode, ResampleNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavWriterNode


def build(output_path: str = "speech-16k-mono.wav") -> Pipeline:
    mono = MixDownNode(name="mono")
    resample = ResampleNode(name="resample", target_rate=16000)
    return (
        Pipeline(name="speech-audio")
        .connect(mono, resample)
        .connect(resample, WavWriterNode(name="recorder", path=output_path))
        .connect(resample, EnergyVADNode(name="vad"))
    )


if __name__ == "__main__":
    audio = sys.argv[1] if len(sys.argv) > 1 else "examples/audio/speech.wav"
    for output in build().run(AudioSource(audio)):
        print(output)
