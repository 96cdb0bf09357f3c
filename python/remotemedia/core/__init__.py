"""The SDK's core: nodes, the driver every engine uses, pipelines, values and exceptions.

`from remotemedia.core import Pipeline, Node, RemoteExecutorConfig` works as in the upstream SDK:
like `from remotemedia import ...`, those names load their modules on first use, so importing this
package costs the embedded RustPython interpreter nothing.
"""

from remotemedia import _CORE_NAMES, _lazy_exports

__all__ = list(_CORE_NAMES)
__getattr__, __dir__ = _lazy_exports(globals(), _CORE_NAMES)
