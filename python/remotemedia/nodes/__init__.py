"""The node catalogue: the nodes a manifest can name by class name alone.

`catalogue()` and `load_node_class()` are the one place where a manifest's `node_type` (and
optional `module`) becomes a Python class — the runtime's Python engines call them too. Nothing
here imports a node module until that node is asked for, so loading the catalogue stays cheap
under RustPython.

`RemoteExecutionNode` is not listed: it serializes as the node it wraps, plus a `host`.

Every catalogue class (and `RemoteExecutionNode`, `Node`) is also a name of this package —
`from remotemedia.nodes import PassThroughNode, CalculatorNode`, as code written for the upstream
SDK imports them — loaded on first use, like the rest of the catalogue.
"""

from __future__ import annotations

import importlib

from remotemedia import _lazy_exports
from remotemedia.core.exceptions import ConfigurationError

_CATALOGUE: dict[str, str] = {
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
    "WhisperTranscriptionNode": "remotemedia.nodes.ml.whisper_transcription",
    "TransformersPipelineNode": "remotemedia.nodes.ml.transformers_pipeline",
}

_NAMES = {**_CATALOGUE, "RemoteExecutionNode": "remotemedia.nodes.remote", "Node": "remotemedia.core.node"}
__all__ = list(_NAMES)
__getattr__, __dir__ = _lazy_exports(globals(), _NAMES)


def catalogue() -> dict[str, str]:
    """Every catalogue node: class name → module that defines it."""
    return dict(_CATALOGUE)


def load_node_class(node_type: str, module: str | None = None) -> type:
    """Resolve a manifest node to its class.

    `node_type` is a catalogue class name, or a class name in the given `module`, or
    `"package.module:ClassName"`. Anything unresolvable raises ConfigurationError saying why
    (and, for an unknown catalogue name, which names are close).
    """
    from remotemedia.core.node import Node

    if ":" in node_type:
        module_part, _, class_name = node_type.partition(":")
        if module is not None and module != module_part:
            raise ConfigurationError(f"node_type '{node_type}' names module '{module_part}' but module is '{module}'")
        module = module_part
    else:
        class_name = node_type
        if module is None:
            module = _CATALOGUE.get(node_type)
            if module is None:
                raise ConfigurationError(_unknown_node_message(node_type))
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import module '{module}' for node type '{class_name}': {exc}") from exc
    cls = getattr(imported, class_name, None)
    if cls is None:
        raise ConfigurationError(f"module '{module}' has no class '{class_name}'")
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise ConfigurationError(f"'{module}:{class_name}' is not a remotemedia Node subclass")
    return cls


def _unknown_node_message(node_type: str) -> str:
    import difflib

    close = difflib.get_close_matches(node_type, _CATALOGUE, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (
        f"unknown node type '{node_type}': not in the catalogue.{hint} "
        "For your own node classes give `module` or use 'package.module:ClassName'."
    )
