"""Set-up the CPython engine runs once in an interpreter before any node loads.

- `install_sdk`: the `remotemedia` executable embeds the SDK's sources; a finder placed first on
  `sys.meta_path` serves them, so CPython nodes run the very SDK the executable was built with
  (the one its RustPython engine runs), whatever version the interpreter has installed.
- `use_installation`: the executable loaded this interpreter's libpython itself, so `sys.path`,
  the prefixes and `sys.executable` are set from what `python` reported about itself — its
  site-packages (numpy, onnxruntime …) import as they do there.
- `capture_stdio`: the executable's stdout carries the run's JSON Lines, so `print` and logging in
  nodes go to stderr, one line at a time, labelled with the node id (as the RustPython engine does).
"""

import importlib.abc
import importlib.machinery
import io
import sys
import threading


class _EmbeddedSdk(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves `remotemedia.*` from sources held in memory: name -> (path, is_package, source)."""

    def __init__(self, modules):
        self._modules = modules

    def find_spec(self, name, path=None, target=None):
        entry = self._modules.get(name)
        if entry is None:
            return None
        filename, is_package, _ = entry
        spec = importlib.machinery.ModuleSpec(name, self, origin=filename, is_package=is_package)
        spec.has_location = True  # sets __file__, and tracebacks name the file
        if is_package:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename, _, source = self._modules[module.__spec__.name]
        exec(compile(source, filename, "exec"), module.__dict__)

    def get_source(self, name):
        """Used by tracebacks (linecache) to show the lines of SDK frames."""
        entry = self._modules.get(name)
        return None if entry is None else entry[2]


def install_sdk(modules):
    sys.meta_path.insert(0, _EmbeddedSdk(modules))


def use_installation(path, prefix, exec_prefix, executable):
    sys.path[:] = list(path)
    sys.prefix = prefix
    sys.exec_prefix = exec_prefix
    sys.executable = executable
    if not getattr(sys, "argv", None):
        sys.argv = [executable]  # some libraries read sys.argv[0]


def prepend_path(directories):
    """Put the user's node directories first, once each."""
    for directory in reversed(directories):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)


_node = threading.local()


def set_label(node_id):
    """Label this thread's output: each node runs on its own thread."""
    _node.label = node_id


class _LabelledLines(io.TextIOBase):
    """Writes whole lines to `target` as `[node id] text`."""

    def __init__(self, name, target):
        super().__init__()
        self._name = name
        self._target = target
        self._lock = threading.Lock()
        self._partial = threading.local()

    @property
    def name(self):
        return self._name

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        pending = getattr(self._partial, "text", "") + text
        complete, newline, rest = pending.rpartition("\n")
        self._partial.text = rest
        if newline:
            self._emit(complete)
        return len(text)

    def flush(self):
        pending = getattr(self._partial, "text", "")
        if pending:
            self._partial.text = ""
            self._emit(pending)

    def _emit(self, text):
        label = getattr(_node, "label", "python")
        lines = "".join(f"[{label}] {line}\n" for line in text.split("\n"))
        with self._lock:
            self._target.write(lines)
            self._target.flush()


def capture_stdio():
    target = sys.__stderr__
    if target is None:
        return
    sys.stdout = _LabelledLines("<stdout>", target)
    sys.stderr = _LabelledLines("<stderr>", target)


def lazy_result_types():
    """What the SDK's driver turns into outputs (generators, coroutines, async generators)."""
    import types

    return (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)


def format_exception(exc, tb):
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, tb))
