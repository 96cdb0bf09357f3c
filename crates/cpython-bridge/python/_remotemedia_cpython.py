"""Set-up the CPython engine runs once in an interpreter before any node loads.

- `install_sdk`: the `remotemedia` executable embeds the SDK's sources; a finder placed first on
  `sys.meta_path` serves them, so CPython nodes run the very SDK the executable was built with
  (the one its RustPython engine runs), whatever version the interpreter has installed.
- `use_installation`: the executable loaded this interpreter's libpython itself, so `sys.path`,
  the prefixes and `sys.executable` are set from what `python` reported about itself — its
  site-packages (numpy, onnxruntime …) import as they do there.
- `line_writer`: where the SDK's labelled node output goes (the interpreter's real stderr, flushed
  per line), since the executable's stdout carries the run's JSON Lines.
"""

import importlib.abc
import importlib.machinery
import sys


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


def line_writer(target):
    """`write(lines)` for `remotemedia.engine_api.capture_output`: whole lines, flushed at once."""

    def write(lines):
        target.write(lines)
        target.flush()

    return write


def format_exception(exc, tb):
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, tb))
