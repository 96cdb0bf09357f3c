"""Sample-level audio transforms: gain, channel mix-down, resampling."""

from __future__ import annotations

import math
from array import array
from typing import Any

from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.node import Node
from remotemedia.nodes.audio.frames import Frame, StreamFormat


class GainNode(Node):
    """Scales the samples by `gain_db` decibels, clipping to [-1, 1] so the result stays valid audio."""

    def __init__(self, gain_db: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(gain_db, (int, float)) or isinstance(gain_db, bool) or not math.isfinite(gain_db):
            raise ConfigurationError(f"gain_db must be a finite number, got {gain_db!r}")
        self.factor = 10.0 ** (gain_db / 20.0)

    def process(self, data: Any) -> dict[str, Any]:
        frame = Frame.from_item(data, self.name)
        factor = self.factor
        frame.samples = array("f", [max(-1.0, min(1.0, value * factor)) for value in frame.samples])
        return frame.to_item()


class MixDownNode(Node):
    """Mixes every channel into one (the average), e.g. stereo to mono for speech analysis."""

    def process(self, data: Any) -> dict[str, Any]:
        frame = Frame.from_item(data, self.name)
        channels = frame.channels
        if channels > 1:
            columns = [frame.samples[channel::channels] for channel in range(channels)]
            frame.samples = array("f", [sum(values) / channels for values in zip(*columns, strict=True)])
            frame.channels = 1
        return frame.to_item()


class ResampleNode(Node):
    """Converts the stream to `target_rate` Hz by linear interpolation, seamlessly across frames.

    Positions are tracked in exact integer arithmetic, so output does not drift over long streams
    and is identical in every engine. There is no anti-aliasing filter: cheap enough for pure
    Python and fine for speech analysis (VAD, recognition front ends), not for hi-fi downsampling.
    """

    def __init__(self, target_rate: int = 16000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_rate, int) or isinstance(target_rate, bool) or target_rate <= 0:
            raise ConfigurationError(f"target_rate must be a positive integer (Hz), got {target_rate!r}")
        self.target_rate = target_rate
        self._stream = StreamFormat()
        self._previous: list[float] = []  # last input sample per channel, the left end of the next gap
        self._position = 0  # next output position, in input samples * target_rate, from self._previous
        self._produced = 0

    def process(self, data: Any) -> dict[str, Any] | None:
        frame = Frame.from_item(data, self.name)
        self._stream.accept(frame, self.name)
        if frame.sample_rate == self.target_rate:
            return frame.to_item()
        frame.check_resampling(self.target_rate, self.name)
        samples = self._interpolate(frame)
        if not samples:
            return None
        timestamp = self._stream.start + self._produced / self.target_rate
        self._produced += len(samples) // frame.channels
        return Frame(samples, self.target_rate, frame.channels, timestamp).to_item()

    def _interpolate(self, frame: Frame) -> array:
        channels, source_rate, target_rate = frame.channels, frame.sample_rate, self.target_rate
        # Index 0 of the working buffer is the previous frame's last sample, when there is one.
        # `tolist()` converts an array in one step; RustPython iterates one element at a time otherwise.
        samples = frame.samples
        buffer = self._previous + (samples.tolist() if isinstance(samples, array) else list(samples))
        total = len(buffer) // channels
        if total == 0:
            return array("f")
        # Output positions in input samples * target_rate: exact integers, one step of source_rate apart.
        end = (total - 1) * target_rate
        positions = range(self._position, end + 1, source_rate)
        # A float divided by a float is rounded exactly like the integer quotient (both are below 2**53),
        # and is much cheaper than int / int in RustPython.
        rate = float(target_rate)
        steps = [(position // target_rate, position % target_rate / rate) for position in positions]
        # Comprehensions per channel rather than an append per sample: fewer interpreter operations.
        output = [0.0] * (len(steps) * channels)
        for channel in range(channels):
            lane = buffer[channel::channels]
            output[channel::channels] = [
                lane[index] if fraction == 0.0 else lane[index] + (lane[index + 1] - lane[index]) * fraction
                for index, fraction in steps
            ]
        self._position += len(positions) * source_rate - end
        self._previous = buffer[-channels:]
        return array("f", output)
