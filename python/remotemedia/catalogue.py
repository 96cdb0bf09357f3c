"""The node catalogue's table: every node a manifest can name by class name alone → the module
that defines it.

A leaf module (it imports nothing), so anything may consult it — the node base class, the
runtime's engines, the lazy exports of `remotemedia.nodes` — without importing a node module or
forming an import circle. `remotemedia.engine_api.load_node_class` turns an entry into a class.

`RemoteExecutionNode` is not listed: it serializes as the node it wraps, plus a `host`.
"""

CATALOGUE: dict[str, str] = {
    "PassThroughNode": "remotemedia.nodes.base",
    "BufferNode": "remotemedia.nodes.base",
    "CalculatorNode": "remotemedia.nodes.calculator",
    "MultiplyNode": "remotemedia.nodes.simple_math",
    "AddNode": "remotemedia.nodes.simple_math",
    "TextTransformNode": "remotemedia.nodes.text",
    "DataSourceNode": "remotemedia.nodes.io_nodes",
    "DataSinkNode": "remotemedia.nodes.io_nodes",
    "WavReaderNode": "remotemedia.nodes.audio.wav",
    "WavWriterNode": "remotemedia.nodes.audio.wav",
    "GainNode": "remotemedia.nodes.audio.transforms",
    "MixDownNode": "remotemedia.nodes.audio.transforms",
    "ResampleNode": "remotemedia.nodes.audio.transforms",
    "EnergyVADNode": "remotemedia.nodes.audio.vad",
    "SincResampleNode": "remotemedia.nodes.audio.sinc_resample",
    "WebRTCVADNode": "remotemedia.nodes.audio.webrtc_vad",
    "SileroVADNode": "remotemedia.nodes.audio.silero_vad",
    "SubtitleWriterNode": "remotemedia.nodes.subtitles",
    "WhisperTranscriptionNode": "remotemedia.nodes.ml.whisper_transcription",
    "TransformersPipelineNode": "remotemedia.nodes.ml.transformers_pipeline",
}
