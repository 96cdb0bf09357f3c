"""The ends of a pipeline: where items enter and where results are collected."""

from __future__ import annotations

import json
from typing import Any, TextIO

from remotemedia.core.node import Node
from remotemedia.core.values import to_jsonable


class DataSourceNode(Node):
    """The pipeline's entry point: forwards every run input unchanged.

    A root node receives every input of a run; putting a DataSourceNode first gives those inputs
    one named place to enter, which the manifest then shows.
    """

    def process(self, data: Any) -> Any:
        return data


class DataSinkNode(Node):
    """The pipeline's exit point: forwards every item, so it becomes a result of the run.

    With `path`, it also writes each item as one line of JSON (the canonical form of
    `remotemedia.core.values.to_jsonable`), replacing the file at the start of the run.
    """

    def __init__(self, path: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self._file: TextIO | None = None

    def initialize(self) -> None:
        if self.path is not None:
            self._file = open(self.path, "w", encoding="utf-8")

    def process(self, data: Any) -> Any:
        if self._file is not None:
            self._file.write(json.dumps(to_jsonable(data), ensure_ascii=False) + "\n")
        return data

    def cleanup(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
