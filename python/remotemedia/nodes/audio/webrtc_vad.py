"""Voice activity detection with the WebRTC VAD (the `webrtcvad` C extension)."""

from __future__ import annotations

from typing import Any, Iterator

from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node
from remotemedia.nodes.audio.frames import Frame, StreamFormat
from remotemedia.nodes.audio.segments import SpeechSegments, check_durations
from remotemedia.nodes.ml.requirements import import_dependency

RATES = (8000, 16000, 32000, 48000)
WINDOWS_MS = (10, 20, 30)


class WebRTCVADNode(Node):
    """Emits speech segments `{"start": s, "end": s}` found by Google's WebRTC VAD.

    The mono stream (8, 16, 32 or 48 kHz: put MixDownNode and a resampler in front) is judged in
    `window_ms` windows (10, 20 or 30) at `aggressiveness` 0 (keeps most speech) to 3 (rejects
    most non-speech); windows become segments as in the EnergyVADNode (`min_speech_ms`,
    `min_silence_ms`). Install `webrtcvad-wheels` (or `webrtcvad`) and numpy; it runs in CPython.
    """

    runtime_hint = "cpython"

    def __init__(self, aggressiveness: int = 2, window_ms: int = 30, min_speech_ms: int = 150,
                 min_silence_ms: int = 400, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if aggressiveness not in (0, 1, 2, 3) or isinstance(aggressiveness, bool):
            raise ConfigurationError(f"aggressiveness must be 0, 1, 2 or 3, got {aggressiveness!r}")
        if window_ms not in WINDOWS_MS or isinstance(window_ms, bool):
            raise ConfigurationError(f"window_ms must be 10, 20 or 30, got {window_ms!r}")
        check_durations(type(self).__name__, min_speech_ms=min_speech_ms, min_silence_ms=min_silence_ms)
        self.aggressiveness = aggressiveness
        self.window_ms = window_ms
        self._segments = SpeechSegments(min_speech_ms / 1000, min_silence_ms / 1000)
        self._stream = StreamFormat()
        self._vad: Any = None
        self._np: Any = None
        self._pending: Any = None  # int16 samples not yet judged
        self._judged = 0  # samples already judged

    def initialize(self) -> None:
        self._np = import_dependency("numpy", "numpy", type(self).__name__)
        webrtcvad = import_dependency("webrtcvad", "webrtcvad-wheels", type(self).__name__)
        self._vad = webrtcvad.Vad(self.aggressiveness)
        self._pending = self._np.zeros(0, dtype=self._np.int16)

    def process(self, data: Any) -> Iterator[dict[str, float]]:
        frame = Frame.from_item(data, self.name)
        if self._stream.accept(frame, self.name) and (frame.channels != 1 or frame.sample_rate not in RATES):
            raise NodeError(f"{self.name} needs mono audio at 8, 16, 32 or 48 kHz, got {frame.sample_rate} Hz with "
                            f"{frame.channels} channel(s); add MixDownNode and SincResampleNode(target_rate=16000)")
        np = self._np
        pcm = np.round(np.clip(np.asarray(frame.samples, dtype=np.float32), -1.0, 1.0) * 32767).astype(np.int16)
        self._pending = np.concatenate([self._pending, pcm])
        rate = self._stream.sample_rate
        window = rate * self.window_ms // 1000
        while len(self._pending) >= window:
            chunk, self._pending = self._pending[:window], self._pending[window:]
            begin = self._stream.start + self._judged / rate
            self._judged += window
            speech = self._vad.is_speech(chunk.tobytes(), rate)
            yield from self._segments.add(begin, self._stream.start + self._judged / rate, speech)

    def flush(self) -> Iterator[dict[str, float]]:
        # A final partial window is too short for the VAD; the open segment ends where speech did.
        yield from self._segments.finish()
