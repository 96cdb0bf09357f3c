"""Voice activity detection by signal energy."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.node import Node
from remotemedia.nodes.audio.frames import Frame, StreamFormat


class EnergyVADNode(Node):
    """Emits speech segments `{"start": s, "end": s}` (seconds, to the millisecond) as they close.

    The stream is cut into `window_ms` windows; a window is speech when its RMS level reaches
    `threshold_db` dBFS. A segment closes after `min_silence_ms` without speech (so pauses between
    words do not split it) and is emitted if it lasted at least `min_speech_ms` (so clicks are
    ignored). A segment still open at end of stream is emitted then. Works on any channel
    count; mix down first to weigh channels equally.
    """

    def __init__(
        self,
        threshold_db: float = -40.0,
        window_ms: int = 30,
        min_speech_ms: int = 150,
        min_silence_ms: int = 400,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (
            ("window_ms", window_ms),
            ("min_speech_ms", min_speech_ms),
            ("min_silence_ms", min_silence_ms),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if name == "window_ms" else 0):
                raise ConfigurationError(
                    f"{name} must be a {'positive' if name == 'window_ms' else 'non-negative'} "
                    f"integer (milliseconds), got {value!r}"
                )
        if not isinstance(threshold_db, (int, float)) or isinstance(threshold_db, bool):
            raise ConfigurationError(f"threshold_db must be a number (dBFS), got {threshold_db!r}")
        self.threshold_db = threshold_db
        self.window_ms = window_ms
        self.min_speech = min_speech_ms / 1000
        self.min_silence = min_silence_ms / 1000
        self._stream = StreamFormat()
        self._pending: list[float] = []
        self._consumed = 0  # samples per channel already judged
        self._segment_start: float | None = None
        self._speech_end = 0.0

    def process(self, data: Any) -> Iterator[dict[str, float]]:
        frame = Frame.from_item(data, self.name)
        self._stream.accept(frame, self.name)
        self._pending.extend(frame.samples)
        window = max(1, frame.sample_rate * self.window_ms // 1000) * frame.channels
        while len(self._pending) >= window:
            samples, self._pending = self._pending[:window], self._pending[window:]
            yield from self._judge(samples)

    def flush(self) -> Iterator[dict[str, float]]:
        if self._pending:
            samples, self._pending = self._pending, []
            yield from self._judge(samples)
        if self._segment_start is not None:
            yield from self._close()

    def _judge(self, samples: list[float]) -> Iterator[dict[str, float]]:
        """Classify one window and advance the segment state."""
        stream = self._stream
        begin = stream.start + self._consumed / stream.sample_rate
        self._consumed += len(samples) // stream.channels
        end = stream.start + self._consumed / stream.sample_rate
        if level_db(samples) >= self.threshold_db:
            if self._segment_start is None:
                self._segment_start = begin
            self._speech_end = end
        elif self._segment_start is not None and end - self._speech_end >= self.min_silence:
            yield from self._close()

    def _close(self) -> Iterator[dict[str, float]]:
        start, self._segment_start = self._segment_start, None
        if self._speech_end - start >= self.min_speech:  # type: ignore[operator]
            yield {"start": round(start, 3), "end": round(self._speech_end, 3)}  # type: ignore[arg-type]


def level_db(samples: list[float]) -> float:
    """RMS level in dBFS; -inf for digital silence."""
    if not samples:
        return -math.inf
    energy = sum(value * value for value in samples) / len(samples)
    return 10.0 * math.log10(energy) if energy > 0 else -math.inf
