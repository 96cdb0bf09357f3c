"""Turning per-window speech decisions into speech segments, as every VAD node reports them."""

from __future__ import annotations


class SpeechSegments:
    """Collects consecutive speech windows into `{"start": s, "end": s}` segments.

    A segment closes once `min_silence` seconds pass without speech (pauses between words do not
    split it) and is kept if it lasted at least `min_speech` seconds (clicks are ignored). Times
    are rounded to the millisecond, as the EnergyVADNode reports them, so detectors compare.
    """

    def __init__(self, min_speech: float, min_silence: float) -> None:
        self.min_speech = min_speech
        self.min_silence = min_silence
        self._start: float | None = None
        self._speech_end = 0.0

    def add(self, begin: float, end: float, speech: bool) -> list[dict[str, float]]:
        """Record the window [begin, end); return the segments it closes (zero or one)."""
        if speech:
            if self._start is None:
                self._start = begin
            self._speech_end = end
            return []
        if self._start is not None and end - self._speech_end >= self.min_silence:
            return self.finish()
        return []

    def finish(self) -> list[dict[str, float]]:
        """Close the open segment, if any (end of stream)."""
        start, self._start = self._start, None
        if start is None or self._speech_end - start < self.min_speech:
            return []
        return [{"start": round(start, 3), "end": round(self._speech_end, 3)}]


def check_durations(node: str, **milliseconds: object) -> None:
    """Reject durations that are not non-negative integers of milliseconds, naming the parameter."""
    from remotemedia.core.exceptions import ConfigurationError

    for name, value in milliseconds.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigurationError(f"{node}: {name} must be a non-negative integer (milliseconds), got {value!r}")
