"""Band-limited resampling with numpy: the quality counterpart of the pure-Python ResampleNode."""

from __future__ import annotations

import math
from array import array
from typing import Any

from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.node import Node
from remotemedia.nodes.audio.frames import Frame, StreamFormat
from remotemedia.nodes.ml.requirements import import_dependency

# The polyphase table holds phases x taps weights; beyond this the two rates share no small ratio.
MAX_TABLE_SIZE = 4_000_000


class SincResampleNode(Node):
    """Converts the stream to `target_rate` Hz through a Kaiser-windowed sinc low-pass filter.

    Unlike ResampleNode's linear interpolation it removes what the new rate cannot carry, so
    downsampling does not alias. The filter keeps `zero_crossings` sinc lobes on each side,
    its cutoff is `rolloff` times the lower Nyquist frequency, and `beta` shapes the Kaiser
    window (8.6 gives about 80 dB of stop-band attenuation). Streams seamlessly across frames:
    each output sample waits until the input it depends on has arrived, and `flush` emits the
    tail. Needs numpy, so it runs in CPython (`runtime_hint = "cpython"`).
    """

    runtime_hint = "cpython"

    def __init__(self, target_rate: int = 16000, zero_crossings: int = 16, rolloff: float = 0.945,
                 beta: float = 8.6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_rate, int) or isinstance(target_rate, bool) or target_rate <= 0:
            raise ConfigurationError(f"target_rate must be a positive integer (Hz), got {target_rate!r}")
        if not isinstance(zero_crossings, int) or isinstance(zero_crossings, bool) or not 1 <= zero_crossings <= 64:
            raise ConfigurationError(f"zero_crossings must be an integer from 1 to 64, got {zero_crossings!r}")
        if not isinstance(rolloff, (int, float)) or isinstance(rolloff, bool) or not 0 < rolloff <= 1:
            raise ConfigurationError(f"rolloff must be in (0, 1], got {rolloff!r}")
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not 0 <= beta <= 50:
            raise ConfigurationError(f"beta must be in [0, 50], got {beta!r}")
        self.target_rate = target_rate
        self.zero_crossings = zero_crossings
        self.rolloff = float(rolloff)
        self.beta = float(beta)
        self._stream = StreamFormat()
        self._np: Any = None
        self._filter: _Polyphase | None = None
        self._buffer: Any = None  # input samples (frames x channels), float64, from _buffer_start
        self._buffer_start = 0  # global input index of _buffer[0]; negative while it holds the left padding
        self._inputs = 0  # input frames received
        self._produced = 0  # output frames emitted

    def initialize(self) -> None:
        self._np = import_dependency("numpy", "numpy", type(self).__name__)

    def process(self, data: Any) -> dict[str, Any] | None:
        frame = Frame.from_item(data, self.name)
        first = self._stream.accept(frame, self.name)
        if frame.sample_rate == self.target_rate:
            return frame.to_item()
        frame.check_resampling(self.target_rate, self.name)
        np = self._np
        if first:
            self._filter = _Polyphase(np, frame.sample_rate, self.target_rate, self.zero_crossings, self.rolloff,
                                      self.beta, self.name)
            self._buffer = np.zeros((self._filter.half, frame.channels))
            self._buffer_start = -self._filter.half
        samples = np.asarray(frame.samples, dtype=np.float32).astype(np.float64).reshape(-1, frame.channels)
        self._inputs += len(samples)
        self._buffer = np.concatenate([self._buffer, samples])
        return self._emit(self._ready_outputs())

    def flush(self) -> dict[str, Any] | None:
        if self._filter is None:
            return None
        np, half = self._np, self._filter.half
        # Zeros after the end are the right-hand context of the last outputs.
        self._buffer = np.concatenate([self._buffer, np.zeros((half, self._stream.channels))])
        total = -(-self._inputs * self._filter.up // self._filter.down)  # ceil: every input instant covered
        return self._emit(total)

    def _ready_outputs(self) -> int:
        """How many outputs (counted from the start) have all their input: base + half <= last index."""
        last_base = self._buffer_start + len(self._buffer) - 1 - self._filter.half
        if last_base < 0:
            return 0
        return ((last_base + 1) * self._filter.up - 1) // self._filter.down + 1

    def _emit(self, end: int) -> dict[str, Any] | None:
        start = self._produced
        if end <= start:
            return None
        np, polyphase = self._np, self._filter
        outputs = np.arange(start, end)
        bases, phases = np.divmod(outputs * polyphase.down, polyphase.up)
        indices = bases[:, None] + polyphase.offsets[None, :] - self._buffer_start
        # (outputs, taps) weights x (outputs, taps, channels) samples -> (outputs, channels)
        result = np.einsum("kt,ktc->kc", polyphase.weights[phases], self._buffer[indices])
        self._produced = end
        # Keep only what later outputs can still reach.
        next_base = end * polyphase.down // polyphase.up
        keep_from = next_base + polyphase.offsets[0] - self._buffer_start
        if keep_from > 0:
            self._buffer = self._buffer[keep_from:]
            self._buffer_start += keep_from
        timestamp = self._stream.start + start / self.target_rate
        samples = array("f", result.astype(np.float32).tobytes())
        return Frame(samples, self.target_rate, self._stream.channels, timestamp).to_item()


class _Polyphase:
    """The filter as `up` phases of `2 * half` weights: output k sits at input time k * down / up."""

    def __init__(self, np: Any, source_rate: int, target_rate: int, zero_crossings: int, rolloff: float,
                 beta: float, node: str) -> None:
        common = math.gcd(source_rate, target_rate)
        self.up, self.down = target_rate // common, source_rate // common
        cutoff = min(1.0, self.up / self.down) * rolloff  # of the input's Nyquist frequency
        self.half = math.ceil(zero_crossings / cutoff)  # taps on each side, in input samples
        if self.up * 2 * self.half > MAX_TABLE_SIZE:
            raise ConfigurationError(f"{node}: {source_rate} Hz to {target_rate} Hz needs a {self.up}-phase filter; "
                                     "choose rates with a smaller common ratio")
        self.offsets = np.arange(-self.half + 1, self.half + 1)
        # Distance from each tap to the output instant, in input samples, for every phase.
        distance = self.offsets[None, :] - np.arange(self.up)[:, None] / self.up
        window = np.i0(beta * np.sqrt(np.clip(1.0 - (distance / self.half) ** 2, 0.0, 1.0))) / np.i0(beta)
        weights = cutoff * np.sinc(cutoff * distance) * window
        self.weights = weights / weights.sum(axis=1, keepdims=True)  # unity gain at DC in every phase
