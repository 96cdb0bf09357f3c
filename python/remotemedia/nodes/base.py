"""General-purpose nodes that shape a stream without looking into its items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.node import Node


class PassThroughNode(Node):
    """Emits every item unchanged: a named tap point, or a placeholder while building a graph."""

    def process(self, data: Any) -> Any:
        return data


class BufferNode(Node):
    """Groups items into lists of `size`, so a downstream node can work on batches.

    The last, shorter batch is emitted at end of stream rather than lost.
    """

    def __init__(self, size: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigurationError(f"BufferNode size must be a positive integer, got {size!r}")
        self.size = size
        self._batch: list[Any] = []

    def process(self, data: Any) -> Iterator[list[Any]]:
        self._batch.append(data)
        if len(self._batch) >= self.size:
            batch, self._batch = self._batch, []
            yield batch

    def flush(self) -> Iterator[list[Any]]:
        if self._batch:
            batch, self._batch = self._batch, []
            yield batch
