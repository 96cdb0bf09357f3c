"""Text transformations for string items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node

_TRANSFORMS: dict[str, Callable[[str], Any]] = {
    "upper": lambda text: text.upper(),
    "lower": lambda text: text.lower(),
    "title": lambda text: text.title(),
    "strip": lambda text: text.strip(),
    "reverse": lambda text: text[::-1],
    "normalize_whitespace": lambda text: " ".join(text.split()),
    "split_words": lambda text: text.split(),
    "word_count": lambda text: len(text.split()),
    "char_count": lambda text: len(text),
}

OPERATIONS = (*_TRANSFORMS, "replace")


class TextTransformNode(Node):
    """Applies one text `operation` to each string item.

    Operations: upper, lower, title, strip, reverse, normalize_whitespace (collapse runs of
    whitespace into one space), split_words (→ list of words), word_count, char_count, and
    replace (every `old` by `new`).
    """

    def __init__(self, operation: str = "normalize_whitespace", old: str = "", new: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if operation not in OPERATIONS:
            raise ConfigurationError(f"unknown text operation {operation!r}; choose one of {', '.join(OPERATIONS)}")
        if operation == "replace" and not old:
            raise ConfigurationError("the replace operation needs a non-empty `old` string")
        self.operation = operation
        self.old = old
        self.new = new

    def process(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise NodeError(f"text operation {self.operation!r} expects a str, got {type(data).__name__}")
        if self.operation == "replace":
            return data.replace(self.old, self.new)
        return _TRANSFORMS[self.operation](data)
