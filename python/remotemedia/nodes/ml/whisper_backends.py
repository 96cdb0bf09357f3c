"""The libraries a WhisperTranscriptionNode can run on, behind one small interface.

- faster-whisper (the default): CTranslate2, no torch. int8 on the CPU, float16 on a CUDA GPU.
- openai-whisper: the reference implementation, on torch.

`load_backend` imports the library (a missing one is an error saying what to install), finds the
model on this machine (`whisper_models.resolve_model`) and loads it from there: nothing is ever
downloaded.
"""

from __future__ import annotations

from typing import Any, Protocol

from remotemedia.nodes.ml.requirements import import_dependency, resolve_device
from remotemedia.nodes.ml.whisper_models import FASTER_WHISPER, resolve_model


class Backend(Protocol):
    """A loaded model that turns 16 kHz mono float32 audio (a numpy array) into text."""

    def transcribe(self, audio: Any) -> tuple[str, str | None]:
        """The text of `audio` (at most Whisper's 30 s window) and its language."""
        ...


class FasterWhisper:
    """faster-whisper's `WhisperModel`, loaded from a local CTranslate2 model directory."""

    def __init__(self, faster_whisper: Any, model_dir: str, device: str, compute_type: str | None,
                 cpu_threads: int, seed: int | None, options: dict[str, Any]) -> None:
        import ctranslate2  # a dependency of faster-whisper

        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.device = device
        self.compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        self._model = faster_whisper.WhisperModel(
            model_dir, device=device, compute_type=self.compute_type, cpu_threads=cpu_threads, local_files_only=True
        )
        if seed is not None:
            ctranslate2.set_random_seed(seed)
        self._options = options

    def transcribe(self, audio: Any) -> tuple[str, str | None]:
        segments, info = self._model.transcribe(audio, **self._options)
        return "".join(segment.text for segment in segments).strip(), info.language


class OpenAIWhisper:
    """openai-whisper's model, loaded from a local checkpoint file."""

    def __init__(self, whisper: Any, torch: Any, checkpoint: str, device: str, seed: int | None,
                 options: dict[str, Any]) -> None:
        self.device = resolve_device(device, torch)
        self._model = whisper.load_model(checkpoint, device=self.device)
        if seed is not None:
            torch.manual_seed(seed)
        self._options = {"fp16": self.device == "cuda", **options}

    def transcribe(self, audio: Any) -> tuple[str, str | None]:
        result = self._model.transcribe(audio, **self._options)
        return result["text"].strip(), result.get("language")


def load_backend(node: str, backend: str, model: str, model_path: list[str], device: str, compute_type: str | None,
                 cpu_threads: int, seed: int | None, options: dict[str, Any]) -> Backend:
    """Load `model` (a size name or a local path, see `resolve_model`) with `backend`.

    faster-whisper's own VAD filter is off: the pipeline's VAD node decides what is speech. Both
    libraries decode a segment again by sampling at higher temperatures when the first result
    looks wrong; `seed` seeds that sampling (the library's generator is process-wide), so the same
    audio gives the same transcript run after run."""
    if backend == FASTER_WHISPER:
        faster_whisper = import_dependency("faster_whisper", "faster-whisper", node)
        local = resolve_model(node, backend, model, model_path)
        return FasterWhisper(faster_whisper, local, device, compute_type, cpu_threads, seed,
                             {"vad_filter": False, **options})
    whisper = import_dependency("whisper", "openai-whisper", node)
    torch = import_dependency("torch", "torch", node)
    return OpenAIWhisper(whisper, torch, resolve_model(node, backend, model, model_path), device, seed, options)
