"""remotemedia: write media/AI pipelines in Python, run them anywhere with the `remotemedia` runtime.

Start with `remotemedia.core.pipeline.Pipeline` and the nodes in `remotemedia.nodes`. This module
imports nothing else, so that the runtime's embedded interpreter starts fast.
"""
