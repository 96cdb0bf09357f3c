"""The audio a speech-recognition node holds until it transcribes it, and where to cut long speech."""

from __future__ import annotations

from typing import Any

QUIET_HOP_SECONDS = 0.02
CUT_SEARCH_SECONDS = 3.0


class SpeechAudio:
    """Mono float32 audio appended frame by frame, read by sample index, released from the front.

    Indices count samples from the stream's first one (at `start_time` seconds); only the samples
    from `kept_from` up to `received` are held. numpy is imported here, not at module import, so
    the node catalogue still loads where numpy is missing.
    """

    def __init__(self, rate: int, start_time: float) -> None:
        import numpy

        self._np = numpy
        self.rate = rate
        self.start_time = start_time
        self.kept_from = 0
        self.received = 0
        self._chunks: list[Any] = []  # together, the samples [kept_from, received)

    def append(self, samples: Any) -> None:
        chunk = self._np.array(samples, dtype=self._np.float32)  # a copy: the runtime's buffer is only lent
        self._chunks.append(chunk)
        self.received += len(chunk)

    def span(self, start: int, end: int) -> Any:
        """Samples [start, end), which must be held."""
        return self._joined()[start - self.kept_from : end - self.kept_from]

    def drop_before(self, index: int) -> None:
        """Release the samples before `index`."""
        index = min(max(index, self.kept_from), self.received)
        self._chunks = [self._joined()[index - self.kept_from :]]
        self.kept_from = index

    def index(self, seconds: float) -> int:
        """The sample at `seconds` on the stream's clock."""
        return round((seconds - self.start_time) * self.rate)

    def seconds(self, index: int) -> float:
        """The stream time of sample `index`, to the millisecond (as the VAD nodes report times)."""
        return round(self.start_time + index / self.rate, 3)

    def _joined(self) -> Any:
        if len(self._chunks) != 1:
            self._chunks = [self._np.concatenate(self._chunks) if self._chunks else self._np.zeros(0, self._np.float32)]
        return self._chunks[0]


def cut_point(audio: Any, limit: int, rate: int = 16000) -> int:
    """Where the first piece of `audio` ends so that it holds at most `limit` samples.

    All of it when it fits; otherwise in the middle of the quietest 20 ms of the piece's last 3 s,
    so a long stretch of speech is cut between words rather than through one.
    """
    if len(audio) <= limit:
        return len(audio)
    hop = max(1, int(rate * QUIET_HOP_SECONDS))
    low = max(0, limit - int(rate * CUT_SEARCH_SECONDS))
    hops = (limit - low) // hop
    if hops == 0:
        return limit
    windows = audio[low : low + hops * hop].reshape(hops, hop)
    quietest = int((windows * windows).sum(axis=1).argmin())
    return low + quietest * hop + hop // 2
