"""Audio nodes in pure Python (`wave`, `array`, `math`), so audio pipelines also run in the
runtime's embedded interpreter, with no C extension.

Frames flow as dicts (see `remotemedia.nodes.audio.frames`):
`{"samples": array('f', interleaved float32 in [-1, 1]), "sample_rate": int, "channels": int,
"timestamp": float seconds of the frame's first sample}`.
"""

from remotemedia.nodes.audio.reader import AudioReaderNode
from remotemedia.nodes.audio.transforms import GainNode, MixDownNode, ResampleNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode, WavWriterNode

__all__ = ["AudioReaderNode", "EnergyVADNode", "GainNode", "MixDownNode", "ResampleNode", "WavReaderNode", "WavWriterNode"]
