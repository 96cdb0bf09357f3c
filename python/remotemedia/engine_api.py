"""The one contract between the runtime's Python engines and the SDK.

Both engines that run Python nodes — the embedded RustPython interpreter and CPython through the
bridge — import this module and call only what it defines; the names they call are listed once on
the Rust side too (`remotemedia_core::python_contract`), and a test checks the two lists agree.
Nothing here is private to an engine: the local CPython run uses the same pieces.

- `catalogue()` and `load_node_class()`: a manifest's `node_type` (and `module`) → a class.
- `class_engine()`: what a class tells placement about the engine it needs.
- `NodeDriver`: calls a node's lifecycle with the SDK's output rules; `outputs(result)` turns a
  lazy result (generator, coroutine, async generator) into outputs.
- `lazy_result_types()`: which results need `outputs()`; anything else is one output as it is.
- `capture_output(write)`, `set_node_label(node_id)` and `flush_output()`: `print` and `logging`
  in nodes become whole lines `[node id] text`, handed to `write` (the runtime's stderr),
  labelled per thread.

This module is imported at every embedded interpreter's start-up: it stays import-light.
"""

from __future__ import annotations

import importlib
import io
import threading
from typing import Callable

from remotemedia.catalogue import CATALOGUE
from remotemedia.core.driver import NodeDriver
from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.node import Node

__all__ = [
    "NodeDriver",
    "capture_output",
    "catalogue",
    "class_engine",
    "flush_output",
    "lazy_result_types",
    "load_node_class",
    "set_node_label",
]


def catalogue() -> dict[str, str]:
    """Every catalogue node: class name → module that defines it."""
    return dict(CATALOGUE)


def load_node_class(node_type: str, module: str | None = None) -> type:
    """Resolve a manifest node to its class.

    `node_type` is a catalogue class name, or a class name in the given `module`, or
    `"package.module:ClassName"`. Anything unresolvable raises ConfigurationError saying why
    (and, for an unknown catalogue name, which names are close).
    """
    if ":" in node_type:
        module_part, _, class_name = node_type.partition(":")
        if module is not None and module != module_part:
            raise ConfigurationError(f"node_type '{node_type}' names module '{module_part}' but module is '{module}'")
        module = module_part
    else:
        class_name = node_type
        if module is None:
            module = CATALOGUE.get(node_type)
            if module is None:
                raise ConfigurationError(_unknown_node_message(node_type))
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import module '{module}' for node type '{class_name}': {exc}") from exc
    cls = getattr(imported, class_name, None)
    if cls is None:
        raise ConfigurationError(f"module '{module}' has no class '{class_name}'")
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise ConfigurationError(f"'{module}:{class_name}' is not a remotemedia Node subclass")
    return cls


def _unknown_node_message(node_type: str) -> str:
    import difflib

    close = difflib.get_close_matches(node_type, CATALOGUE, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (
        f"unknown node type '{node_type}': not in the catalogue.{hint} "
        "For your own node classes give `module` or use 'package.module:ClassName'."
    )


def class_engine(node_type: str, module: str | None = None) -> tuple[str, str]:
    """Classify a node's class: `(verdict, detail)`.

    verdict is "declares" (detail: the declared engine), "pure", "import-fails" (detail: the
    import error) or "not-found" (detail: why the class cannot be loaded at all).
    """
    target = node_type.partition(":")[0] if ":" in node_type else module or CATALOGUE.get(node_type)
    try:
        cls = load_node_class(node_type, module)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal here
        cause = exc.__cause__ if isinstance(exc.__cause__, ImportError) else exc
        if not isinstance(cause, ImportError):
            return "not-found", _describe(exc)
        missing = getattr(cause, "name", None) or ""
        own_module = bool(target) and isinstance(cause, ModuleNotFoundError) and (
            target == missing or target.startswith(missing + ".")
        )
        return ("not-found" if own_module else "import-fails"), f"{type(cause).__name__}: {cause}"
    hint = getattr(cls, "runtime_hint", None)
    if hint in ("cpython", "rustpython"):
        return "declares", hint
    return "pure", ""


def _describe(exc: Exception) -> str:
    """`Type: message`; a syntax error names its file by its whole path (its own text gives only
    the file's name)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{type(exc).__name__}: {exc.msg} ({exc.filename}, line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"


def lazy_result_types() -> tuple[type, ...]:
    """What `NodeDriver.outputs` turns into outputs (generators, coroutines, async generators)."""
    import types

    return (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)


# Per thread, by `threading.get_ident()`: each node runs on a thread of its own. Plain dicts rather
# than `threading.local`, whose per-thread objects RustPython drops as the thread's own storage is
# torn down, too late to drop Python objects safely. `flush_output` forgets a thread's entries when
# its node is done, so they stay as few as the nodes running.
_labels: dict[int, str] = {}
_partial_lines: dict[tuple[int, str], str] = {}


def set_node_label(node_id: str) -> None:
    """Label this thread's output lines with `node_id`."""
    _labels[threading.get_ident()] = node_id


class LabelledOutput(io.TextIOBase):
    """A text stream that hands whole lines to `write` as `[label] text`, the label being the node
    this thread runs (`python` on threads that run none). Unfinished lines wait per thread, so
    parallel nodes never interleave mid-line."""

    def __init__(self, name: str, write: Callable[[str], object]) -> None:
        super().__init__()
        self._name = name
        self._write = write

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        key = (threading.get_ident(), self._name)
        complete, newline, rest = (_partial_lines.pop(key, "") + text).rpartition("\n")
        if rest:
            _partial_lines[key] = rest
        if newline:
            self._emit(complete)
        return len(text)

    def flush(self) -> None:
        pending = _partial_lines.pop((threading.get_ident(), self._name), "")
        if pending:
            self._emit(pending)

    def _emit(self, text: str) -> None:
        label = _labels.get(threading.get_ident(), "python")
        self._write("".join(f"[{label}] {line}\n" for line in text.split("\n")))


def capture_output(write: Callable[[str], object]) -> None:
    """Send `print` and `logging` (which writes to `sys.stderr`) of every node to `write`, as
    labelled whole lines: stdout carries the run's results, so nothing else may reach it."""
    import sys

    sys.stdout = LabelledOutput("<stdout>", write)
    sys.stderr = LabelledOutput("<stderr>", write)


def flush_output() -> None:
    """This thread's node is done: write out its unfinished output line, if any (a last
    `print(end="")`), and forget its label."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, LabelledOutput):
            stream.flush()
    _labels.pop(threading.get_ident(), None)
