"""Which engine runs `Pipeline.run()`: the Rust runtime in-process, or the pure-CPython local run.

- "runtime" (the default): the pipeline runs on the remotemedia runtime through the package's
  native module `remotemedia._native` — the same executor, placement and engines as the
  `remotemedia` command. Nodes that need C extensions run in this interpreter, pure nodes where
  placement puts them (the embedded RustPython interpreter, in parallel, without the GIL).
- "python": the local run of `remotemedia.core.local_run`, entirely in this interpreter; the
  reference semantics every engine reproduces.

`REMOTEMEDIA_ENGINE` sets the default. A missing native module is an error with the way out,
never a silent switch to the other engine: results and speed would change without notice.
"""

from __future__ import annotations

import os
from types import ModuleType

from remotemedia.core import env_vars
from remotemedia.core.exceptions import ConfigurationError, PipelineError

RUNTIME = "runtime"
PYTHON = "python"
ENGINES = (RUNTIME, PYTHON)


class RuntimeUnavailableError(PipelineError):
    """The runtime engine was asked for, but this installation has no native module."""


def choose_engine(engine: str | None) -> str:
    """The engine to use: `engine`, else $REMOTEMEDIA_ENGINE, else "runtime"."""
    chosen = engine if engine is not None else os.environ.get(env_vars.ENGINE) or RUNTIME
    if chosen not in ENGINES:
        source = "engine" if engine is not None else env_vars.ENGINE
        raise ConfigurationError(f"{source} must be one of {', '.join(ENGINES)}, got {chosen!r}")
    return chosen


def native_module() -> ModuleType:
    """`remotemedia._native`, or RuntimeUnavailableError saying how to get it or avoid it."""
    try:
        from remotemedia import _native  # type: ignore[attr-defined]
    except ImportError as missing:
        built = os.environ.get(env_vars.NATIVE_MODULE)
        if not built:
            raise RuntimeUnavailableError(
                "this remotemedia installation has no native module (remotemedia._native), so Pipeline.run "
                "cannot use the Rust runtime: install the package with `pip install .` (it builds the module "
                f"with maturin), or set {env_vars.NATIVE_MODULE} to a libremotemedia_python_ext.so built by "
                f"`cargo build --release`; or choose the pure-CPython run with engine=\"python\" "
                f"({env_vars.ENGINE}=python)") from missing
        return _load_built(built)
    return _native


def _load_built(path: str) -> ModuleType:
    import importlib.util
    import sys

    existing = sys.modules.get("remotemedia._native")
    if existing is not None:
        return existing
    spec = importlib.util.spec_from_file_location("remotemedia._native", path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        raise RuntimeUnavailableError(f"{env_vars.NATIVE_MODULE}={path} is not a native module file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["remotemedia._native"] = module
    return module
