"""Helpers of the transcription tests (a module of its own: `conftest` names clash across test folders)."""

from __future__ import annotations

import json
from typing import Any

# A hang guard only: CPython, faster-whisper and the model load in seconds; transcribing the corpus
# takes seconds more.
RUN_TIMEOUT_S = 300


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def metrics_of(stderr: str) -> dict[str, Any]:
    """The `--metrics --json` report: the last JSON line on stderr."""
    return json.loads(next(line for line in reversed(stderr.splitlines()) if line.startswith("{")))
