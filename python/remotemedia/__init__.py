"""remotemedia: write media/AI pipelines in Python, run them anywhere with the `remotemedia` runtime.

Start with `remotemedia.core.pipeline.Pipeline` and the nodes in `remotemedia.nodes`.
`from remotemedia import Pipeline, Node` works too, as code written for the upstream SDK imports
them: those names load their modules on first use (PEP 562), so the runtime's embedded interpreter,
which imports this package at start-up, does not pay for them. This module defines the mechanism
for `remotemedia.core` and `remotemedia.nodes` as well, rather than a module of its own: each
module imported costs every embedded interpreter's start-up.
"""

from __future__ import annotations

import os as _os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_EXCEPTIONS = "remotemedia.core.exceptions"

_CORE_NAMES: dict[str, str] = {
    "Pipeline": "remotemedia.core.pipeline",
    "Node": "remotemedia.core.node",
    "RemoteExecutorConfig": "remotemedia.core.remote_config",
    "RemoteMediaError": _EXCEPTIONS,
    "PipelineError": _EXCEPTIONS,
    "NodeError": _EXCEPTIONS,
    "SerializationError": _EXCEPTIONS,
    "ConfigurationError": _EXCEPTIONS,
}
"""The names this package and `remotemedia.core` offer, and the module that defines each."""


def _lazy_exports(
    namespace: dict[str, Any], table: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for the module whose globals are `namespace`, resolving the names
    of `table` on first access."""

    def __getattr__(name: str) -> Any:
        module_name = table.get(name)
        if module_name is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        from importlib import import_module

        value = namespace[name] = getattr(import_module(module_name), name)  # later lookups are plain reads
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *table})

    return __getattr__, __dir__


__all__ = list(_CORE_NAMES)
__getattr__, __dir__ = _lazy_exports(globals(), _CORE_NAMES)

if _os.environ.get("REMOTEMEDIA_SANDBOX") == "1":
    # A sandboxed worker (docs/isolation.md): actions the kernel refuses get named errors.
    from remotemedia.core.sandbox import install_named_refusals as _install_named_refusals

    _install_named_refusals()
