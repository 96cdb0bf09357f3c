"""Speech recognition with OpenAI Whisper (the `openai-whisper` package)."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node
from remotemedia.nodes.audio.frames import Frame
from remotemedia.nodes.ml.requirements import check_device, gpu_capabilities, import_dependency, resolve_device

WHISPER_RATE = 16000

# GPU memory each model size needs, in GB, as published with the Whisper models.
MODEL_MEMORY_GB = {"tiny": 1.0, "base": 1.0, "small": 2.0, "medium": 5.0, "large": 10.0, "turbo": 6.0}


class WhisperTranscriptionNode(Node):
    """Transcribes 16 kHz mono audio frames; emits `{"text", "start", "end", "language"}` per chunk.

    Audio is gathered into chunks of `chunk_seconds` (Whisper's window is 30 s) and the rest is
    transcribed at end of stream. Put a MixDownNode and a ResampleNode(16000) in front of it.
    """

    runtime_hint = "cpython"

    def __init__(
        self,
        model_size: str = "base",
        device: str = "auto",
        language: str | None = None,
        chunk_seconds: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if _size_family(model_size) not in MODEL_MEMORY_GB:
            raise ConfigurationError(
                f"unknown Whisper model size {model_size!r}; "
                f"choose one of {', '.join(MODEL_MEMORY_GB)} (or a variant like large-v3)"
            )
        if not isinstance(chunk_seconds, (int, float)) or not 0 < chunk_seconds <= 30:
            raise ConfigurationError(f"chunk_seconds must be in (0, 30], got {chunk_seconds!r}")
        self.model_size = model_size
        self.device = check_device(device)
        self.language = language
        self.chunk_samples = int(chunk_seconds * WHISPER_RATE)
        self._model: Any = None
        self._buffer = array("f")
        self._buffer_start = 0.0

    def get_capabilities(self) -> dict[str, Any] | None:
        memory = MODEL_MEMORY_GB[_size_family(self.model_size)]
        return gpu_capabilities(self.device, min_memory_gb=memory, memory_gb=max(2.0, memory))

    def initialize(self) -> None:
        whisper = import_dependency("whisper", "openai-whisper", type(self).__name__)
        torch = import_dependency("torch", "torch", type(self).__name__)
        self._model = whisper.load_model(self.model_size, device=resolve_device(self.device, torch))

    def process(self, data: Any) -> Iterator[dict[str, Any]]:
        frame = Frame.from_item(data, self.name)
        if frame.sample_rate != WHISPER_RATE or frame.channels != 1:
            raise NodeError(
                f"{self.name} needs 16 kHz mono audio, got {frame.sample_rate} Hz with "
                f"{frame.channels} channels; add MixDownNode and ResampleNode(target_rate=16000) before it"
            )
        if not self._buffer:
            self._buffer_start = frame.timestamp
        self._buffer.extend(array("f", frame.samples))
        while len(self._buffer) >= self.chunk_samples:
            chunk, self._buffer = self._buffer[: self.chunk_samples], self._buffer[self.chunk_samples :]
            yield self._transcribe(chunk)

    def flush(self) -> Iterator[dict[str, Any]]:
        if self._buffer:
            chunk, self._buffer = self._buffer, array("f")
            yield self._transcribe(chunk)

    def cleanup(self) -> None:
        self._model = None

    def _transcribe(self, chunk: array) -> dict[str, Any]:
        import numpy

        start = self._buffer_start
        self._buffer_start += len(chunk) / WHISPER_RATE
        result = self._model.transcribe(
            numpy.frombuffer(chunk.tobytes(), dtype=numpy.float32), language=self.language, fp16=False
        )
        return {
            "text": result["text"].strip(),
            "start": round(start, 3),
            "end": round(self._buffer_start, 3),
            "language": result.get("language"),
        }


def _size_family(model_size: str) -> str:
    """'large-v3' → 'large', 'base.en' → 'base'."""
    return model_size.split("-")[0].split(".")[0] if isinstance(model_size, str) else ""
