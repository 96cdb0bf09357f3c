"""remotemedia: write media/AI pipelines in Python, run them anywhere with the `remotemedia` runtime.

Start with `remotemedia.core.pipeline.Pipeline` and the nodes in `remotemedia.nodes`. This module
imports nothing else, so that the runtime's embedded interpreter starts fast.
"""

import os as _os

if _os.environ.get("REMOTEMEDIA_SANDBOX") == "1":
    # A sandboxed worker (docs/isolation.md): actions the kernel refuses get named errors.
    from remotemedia.core.sandbox import install_audit_hook as _install_audit_hook

    _install_audit_hook()
