"""Subtitle files (SRT, WebVTT) from timed text such as a transcription node's output."""

from __future__ import annotations

from typing import Any, TextIO

from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node

FORMATS = ("srt", "vtt")


class SubtitleWriterNode(Node):
    """Writes each `{"start", "end", "text"}` item (seconds) as one subtitle cue to `path`, and
    passes the item on unchanged — put it between a transcription node and the pipeline's end.

    `format` is "srt" or "vtt" (WebVTT); by default it follows the file's extension (`.vtt`, else
    SRT). The file is replaced when the run starts and each cue is flushed as it arrives, so a
    viewer can follow a live transcript; a run without speech leaves a file without cues. Items
    with empty text are passed on without a cue. Pure Python, so it runs in the embedded
    interpreter.
    """

    def __init__(self, path: str, format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(path, str) or not path:
            raise ConfigurationError(f"SubtitleWriterNode needs a file path, got {path!r}")
        chosen = format if format is not None else ("vtt" if path.lower().endswith(".vtt") else "srt")
        if chosen not in FORMATS:
            raise ConfigurationError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
        self.path = path
        self.format = chosen
        self._file: TextIO | None = None
        self._cues = 0

    def initialize(self) -> None:
        self._cues = 0
        try:
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 — open for the whole run
        except OSError as exc:
            raise NodeError(f"{self.name}: cannot write subtitles to {self.path!r}: {exc}") from exc
        if self.format == "vtt":
            self._file.write("WEBVTT\n\n")
            self._file.flush()

    def process(self, data: Any) -> Any:
        start, end, text = self._cue(data)
        if text:
            self._cues += 1
            separator = "," if self.format == "srt" else "."
            number = f"{self._cues}\n" if self.format == "srt" else ""
            self._file.write(  # type: ignore[union-attr]
                f"{number}{timestamp(start, separator)} --> {timestamp(end, separator)}\n{text}\n\n"
            )
            self._file.flush()  # type: ignore[union-attr]
        return data

    def cleanup(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            file.close()

    def _cue(self, item: Any) -> tuple[float, float, str]:
        """The item's times and its text made safe for a cue (no blank line, no "-->")."""
        if not isinstance(item, dict) or not {"start", "end", "text"} <= item.keys():
            raise NodeError(f"{self.name} expects timed text (a dict with start, end, text), got {item!r}")
        start, end, text = item["start"], item["end"], item["text"]
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (start, end)) or not (
            0 <= start <= end
        ):
            raise NodeError(f"{self.name}: start and end must be seconds with 0 <= start <= end, got {item!r}")
        if not isinstance(text, str):
            raise NodeError(f"{self.name}: text must be a string, got {type(text).__name__}")
        lines = [line.strip() for line in text.replace("-->", "->").splitlines()]
        return float(start), float(end), "\n".join(line for line in lines if line)


def timestamp(seconds: float, separator: str) -> str:
    """`HH:MM:SS,mmm` (SRT, separator ",") or `HH:MM:SS.mmm` (WebVTT, separator ".")."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
