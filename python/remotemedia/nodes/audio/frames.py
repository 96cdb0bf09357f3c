"""The audio frame item shared by the audio nodes."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from remotemedia.core.exceptions import NodeError

MAX_SAMPLE_RATE = 1_536_000
"""The highest sample rate a frame may declare (Hz): 8x the highest studio rate. Far beyond it a rate
is a mistake or an attack, and the nodes' buffers and outputs scale with it."""

MAX_CHANNELS = 256
"""The most channels a frame may declare."""

MAX_UPSAMPLING = 64
"""The most a resampler multiplies a frame's length (8 kHz → 384 kHz passes). A larger ratio, such as
a frame claiming 1 Hz resampled to 16 kHz, would turn a few kilobytes of input into hundreds of
megabytes of output, so it is refused rather than taking the process's memory."""


@dataclass
class Frame:
    """A frame's parts, checked: interleaved samples, rate, channel count, start time in seconds."""

    samples: Sequence[float]
    sample_rate: int
    channels: int
    timestamp: float

    @classmethod
    def from_item(cls, item: Any, node: str) -> Frame:
        """Read an incoming item as a frame, or fail saying what `node` expected."""
        if not isinstance(item, dict) or not {"samples", "sample_rate", "channels"} <= item.keys():
            raise NodeError(
                f"{node} expects an audio frame (a dict with samples, sample_rate, channels), got {type(item).__name__}"
            )
        sample_rate, channels = item["sample_rate"], item["channels"]
        if not _int_in(sample_rate, MAX_SAMPLE_RATE) or not _int_in(channels, MAX_CHANNELS):
            raise NodeError(
                f"{node}: invalid audio frame: sample_rate={_short_repr(sample_rate)}, channels={_short_repr(channels)} "
                f"(integers from 1 to {MAX_SAMPLE_RATE} Hz and from 1 to {MAX_CHANNELS} channels expected)"
            )
        samples = item["samples"]
        if len(samples) % channels:
            raise NodeError(f"{node}: {len(samples)} samples do not divide into {channels} channels")
        return cls(samples, sample_rate, channels, float(item.get("timestamp", 0.0)))

    def check_resampling(self, target_rate: int, node: str) -> None:
        """Refuse to resample this frame to `target_rate` when the output would exceed MAX_UPSAMPLING
        times the input."""
        if target_rate > self.sample_rate * MAX_UPSAMPLING:
            raise NodeError(
                f"{node}: resampling {self.sample_rate} Hz to {target_rate} Hz would make the frame "
                f"{target_rate // self.sample_rate} times larger (at most {MAX_UPSAMPLING})"
            )

    @property
    def duration(self) -> float:
        """Seconds of audio in the frame."""
        return len(self.samples) / self.channels / self.sample_rate

    def to_item(self) -> dict[str, Any]:
        """The dict that flows between nodes, samples as a float32 array."""
        samples = (
            self.samples
            if isinstance(self.samples, array) and self.samples.typecode == "f"
            else array("f", self.samples)
        )
        return {
            "samples": samples,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "timestamp": self.timestamp,
        }


class StreamFormat:
    """The format of a stream, fixed by its first frame: nodes that keep state across frames
    (resampling, detection, writing a file) cannot follow a change of rate or channel count."""

    def __init__(self) -> None:
        self.sample_rate = 0
        self.channels = 0
        self.start = 0.0  # timestamp of the first frame

    def accept(self, frame: Frame, node: str) -> bool:
        """Check `frame` against the stream; True for the stream's first frame."""
        if not self.sample_rate:
            self.sample_rate, self.channels, self.start = frame.sample_rate, frame.channels, frame.timestamp
            return True
        if (frame.sample_rate, frame.channels) != (self.sample_rate, self.channels):
            raise NodeError(
                f"{node}: the stream changed from {self.sample_rate} Hz, {self.channels} channel(s) "
                f"to {frame.sample_rate} Hz, {frame.channels} channel(s)"
            )
        return False


def _int_in(value: Any, highest: int) -> bool:
    """True for an int (not a bool: True is not a sample rate) from 1 to `highest`."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= highest


def _short_repr(value: Any) -> str:
    """A repr short enough for an error message, whatever the value's size."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
