"""The node catalogue's implementations: pass-through and buffering, calculator and math, text,
data source/sink, audio (WAV reader/writer, gain, mix-down, resamplers, VADs), subtitles and ML
nodes.

Every catalogue class (and `RemoteExecutionNode`, `Node`) is also a name of this package —
`from remotemedia.nodes import PassThroughNode, CalculatorNode`, as code written for the upstream
SDK imports them — loaded on first use. The table of which class lives where is
`remotemedia.catalogue`; nothing here imports a node module until that node is asked for, so the
catalogue stays cheap to load under RustPython.
"""

from __future__ import annotations

from remotemedia import _lazy_exports
from remotemedia.catalogue import CATALOGUE

_NAMES = {**CATALOGUE, "RemoteExecutionNode": "remotemedia.nodes.remote", "Node": "remotemedia.core.node"}
__all__ = list(_NAMES)
__getattr__, __dir__ = _lazy_exports(globals(), _NAMES)
