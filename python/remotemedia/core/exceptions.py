"""The exceptions every part of remotemedia raises.

One root, `RemoteMediaError`, so callers can catch everything the SDK raises without also
swallowing unrelated bugs; the subclasses say which side is at fault (the pipeline's shape,
a node's code, serialization, or configuration).
"""

from __future__ import annotations


class RemoteMediaError(Exception):
    """Base class of every error raised by remotemedia."""


class PipelineError(RemoteMediaError):
    """The pipeline itself is wrong: empty, a cycle, a node added twice, misuse of the runner."""


class NodeError(RemoteMediaError):
    """A node failed while initializing, processing, flushing or cleaning up.

    `node_id` names the node (its manifest id) when the failure happened inside a pipeline, so the
    message points at the culprit; the node's original exception is chained as `__cause__`.
    """

    def __init__(self, message: str, node_id: str | None = None, stage: str | None = None,
                 exception_type: str | None = None, traceback: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id
        self.stage = stage
        self.exception_type = exception_type
        """The type name of the node's own exception, when the runtime ran it (no object to chain)."""
        self.traceback = traceback
        """The node's formatted traceback, when the runtime ran it."""

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message}\n{self.traceback}" if self.traceback else message


class SerializationError(RemoteMediaError):
    """A pipeline cannot be written as a manifest, e.g. a parameter that has no JSON form."""


class ConfigurationError(RemoteMediaError):
    """A node or manifest is configured wrongly: unknown node type, bad parameter, missing dependency."""


class InvalidManifestError(ConfigurationError):
    """A manifest failed validation; `errors` holds every problem found, each with its JSON pointer."""

    def __init__(self, errors: list) -> None:
        self.errors = errors
        lines = "\n".join(f"  {error}" for error in errors)
        super().__init__(f"invalid manifest ({len(errors)} error{'s' if len(errors) != 1 else ''}):\n{lines}")
