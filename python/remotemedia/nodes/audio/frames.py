"""The audio frame item shared by the audio nodes."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from remotemedia.core.exceptions import NodeError


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
        if not isinstance(sample_rate, int) or sample_rate <= 0 or not isinstance(channels, int) or channels <= 0:
            raise NodeError(f"{node}: invalid audio frame: sample_rate={sample_rate!r}, channels={channels!r}")
        samples = item["samples"]
        if len(samples) % channels:
            raise NodeError(f"{node}: {len(samples)} samples do not divide into {channels} channels")
        return cls(samples, sample_rate, channels, float(item.get("timestamp", 0.0)))

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
