"""Audio as a pipeline's input: `pipeline.run(AudioSource("speech.mp3"))`.

The source's items are the frames a reader node emits (`{"samples", "sample_rate", "channels",
"timestamp"}`), so the pipeline starts where a reader would end — mix-down, resampling,
detection — as `remotemedia run --audio FILE` runs a manifest. On the runtime engine (the
default) the file is decoded natively as the run goes: WAV, FLAC, MP3 and Ogg Vorbis, no package
needed. On the pure-CPython engine (`engine="python"`, the reference) it is read with
`AudioReaderNode`: WAV with the standard library, other formats with the `soundfile` package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from remotemedia.core.exceptions import ConfigurationError


class AudioSource:
    """The frames of the audio file at `path`, `frame_ms` milliseconds each (the last may be shorter)."""

    def __init__(self, path: str | os.PathLike[str], frame_ms: int = 20) -> None:
        if not isinstance(frame_ms, int) or isinstance(frame_ms, bool) or frame_ms <= 0:
            raise ConfigurationError(f"frame_ms must be a positive integer, got {frame_ms!r}")
        self.path = os.fspath(path)
        self.frame_ms = frame_ms

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from remotemedia.nodes.audio.reader import AudioReaderNode

        return iter(AudioReaderNode(name="audio", frame_ms=self.frame_ms).process(self.path))

    def __repr__(self) -> str:
        return f"AudioSource({self.path!r}, frame_ms={self.frame_ms})"
