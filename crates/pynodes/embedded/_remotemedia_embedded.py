"""Set-up that only the `remotemedia` binary's embedded interpreter runs, once, before any node loads.

- `sys.stdout` and `sys.stderr` become line streams handed to the runtime, which writes each line
  to its own stderr labelled with the node that wrote it. The binary's stdout carries the run's
  JSON Lines results, so a stray `print` in a node must never reach it; `logging`'s default
  handler writes to `sys.stderr`, so log records are labelled the same way.
- `sys.path` becomes exactly the user's `--python-path` directories: the standard library and the
  SDK are frozen into the binary, and nothing from a CPython installation on the machine may
  shadow them or leak in.
"""

import io
import sys


class NodeOutputStream(io.TextIOBase):
    """A text stream whose lines go to the runtime, which labels them with the current node."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, name, write_text, flush_line):
        super().__init__()
        self._name = name
        self._write_text = write_text
        self._flush_line = flush_line

    @property
    def name(self):
        return self._name

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._write_text(text)
        return len(text)

    def flush(self):
        self._flush_line()


def install(write_text, flush_line, python_path):
    """Route stdout/stderr to the runtime and make `python_path` the whole import path."""
    sys.stdout = NodeOutputStream("<stdout>", write_text, flush_line)
    sys.stderr = NodeOutputStream("<stderr>", write_text, flush_line)
    sys.path[:] = list(python_path)
