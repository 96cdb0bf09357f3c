"""The node: one processing step of a pipeline.

A node's constructor keyword arguments are its configuration, and they are exactly what the
manifest records as `params`: the runtime rebuilds the node with `NodeClass(**params)`. They are
captured in `Node.__new__`, before any subclass `__init__` runs, so a subclass declares ordinary
keyword arguments and never has to forward them for the manifest to be right.

This module is imported by the embedded RustPython engine at start-up, so it stays import-light:
`inspect` is only imported when a node is built with positional arguments, `logging` when a node
first uses `self.logger`, and `RemoteExecutorConfig` (offered here because the upstream SDK defines
it in this module) when it is first asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from remotemedia.core.exceptions import ConfigurationError, SerializationError
from remotemedia.core.values import to_jsonable

if TYPE_CHECKING:
    import logging

# A set, not a regex: `re` would cost every embedded interpreter ~10 ms of start-up.
_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


class _Finished:
    """An awaitable that is already done: what the base `initialize` and `cleanup` return.

    The engines ignore it (only coroutines are awaited), and `await` on it returns None at once.
    """

    __slots__ = ()

    def __await__(self) -> Iterator[Any]:
        return iter(())


_FINISHED = _Finished()


class _ClassLogger:
    """`node.logger`: created on first use, so `logging` is imported only by nodes that log.

    A non-data descriptor: a node that assigns its own `self.logger` simply replaces it.
    """

    def __get__(self, node: Node | None, owner: type | None = None) -> Any:
        if node is None:
            return self
        import logging

        logger = logging.getLogger(type(node).__name__)
        node.__dict__["logger"] = logger
        return logger


class Node:
    """Base class of every node.

    Override `process(data)`; optionally `initialize()`, `cleanup()`, and `flush()` (called once at
    end of stream to emit what the node still holds). Each may be a plain function or `async`;
    `process` and `flush` may also be generators or async generators to emit several outputs.
    Returning None emits nothing, which is how a node filters.
    """

    runtime_hint: ClassVar[str | None] = None
    """Which Python engine must run this node ("cpython" for C extensions); None lets placement decide."""

    placement: str | None = None
    """Where placement may put the node: "cluster" sends it to the run's cluster whatever the local
    machine offers (docs/cluster.md); None is the default, local first. Set on the class, or on
    one node object (`node.placement = "cluster"`), like `isolation`."""
    isolation: str | None = None
    """Where the node's code runs: None (in the runtime's process), "process" (a worker process of
    its own, so a crash ends only this node) or "sandbox" (a sandboxed worker: docs/isolation.md).
    Set on the class, or on one node object (`node.isolation = "sandbox"`)."""
    timeout_s: float | None = None
    """The longest one `process` (or `flush`) call may take on the runtime, in seconds: past it the
    node fails, naming the timeout, instead of stalling the run; it overrides `run --node-timeout`.
    None leaves it to the run. Set on the class or on one node object, like `isolation`."""

    logger: logging.Logger = _ClassLogger()  # type: ignore[assignment]
    """A logger named after the node's class (as in the upstream SDK), created on first use."""

    name: str
    config: dict[str, Any]
    _unnamed_args: tuple

    def __new__(cls, *args: Any, **kwargs: Any) -> Node:
        node = super().__new__(cls)
        params, unnamed = _constructor_params(cls, args, kwargs)
        name = params.pop("name", None)
        node.name = _checked_name(cls.__name__ if name is None else name)
        node.config = params
        node._unnamed_args = unnamed
        return node

    def __init__(self, name: str | None = None, **config: Any) -> None:
        """Accept the name and configuration; `__new__` has already recorded both.

        A subclass without its own `__init__` takes any keyword as configuration. A subclass with
        one declares its parameters; whatever it forwards here beyond `name` matched none of them,
        so it is a typo and an error — never silently kept.
        """
        if name is not None:
            self.name = _checked_name(name)
        if config and type(self).__init__ is not Node.__init__:  # type: ignore[misc]
            unexpected = ", ".join(repr(key) for key in config)
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s): {unexpected}")

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.config.items())
        return f"{type(self).__name__}(name={self.name!r}{', ' if args else ''}{args})"

    def initialize(self) -> Any:
        """Prepare before any data flows (load a model, open a file).

        Returns an already-finished awaitable, so an `async def initialize` override may call
        `await super().initialize()`, as nodes written for the upstream SDK do.
        """
        return _FINISHED

    def process(self, data: Any) -> Any:
        """Handle one input item; return or yield the outputs."""
        raise NotImplementedError(f"{type(self).__name__} must implement process(data)")

    def cleanup(self) -> Any:
        """Release resources; runs at the end of every run, also after a failure.

        Like `initialize`, returns an already-finished awaitable for `await super().cleanup()`.
        """
        return _FINISHED

    def get_capabilities(self) -> dict[str, Any] | None:
        """What the node needs from the machine that runs it (see the manifest's `capabilities`).

        None means "no particular requirement"; the manifest then carries no `capabilities`.
        """
        return None

    def record_timing(self, name: str, seconds: float) -> None:
        """Report one timing sample under `name`, e.g. the latency of one speech segment.

        The runtime gathers each node's samples by name: `remotemedia run --metrics` shows their
        count, median, 90th percentile and maximum. Meant for events (a segment, a request), which
        a node's overall process time cannot show. The runtime's engines take the samples after
        each call; the pure-CPython local run (`engine="python"`) leaves them on the node.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a timing sample needs a name, got {name!r}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < float("inf"):
            raise ValueError(f"timing {name!r}: seconds must be a finite number >= 0, got {seconds!r}")
        timing_samples(self).append((name, float(seconds)))

    def to_manifest(self, include_capabilities: bool = True) -> dict[str, Any]:
        """This node's manifest entry, with its name as `id`.

        In a pipeline's manifest the pipeline gives each node the id `{name}_{position}` instead,
        so that ids stay unique when names repeat.
        """
        cls = type(self)
        entry: dict[str, Any] = {"id": self.name, "node_type": cls.__name__}
        module = _module_for_manifest(self)
        if module is not None:
            entry["module"] = module
        entry["params"] = self._manifest_params()
        if include_capabilities:
            capabilities = self.get_capabilities()
            if capabilities:
                entry["capabilities"] = capabilities
        if cls.runtime_hint is not None:
            entry["runtime_hint"] = cls.runtime_hint
        if self.placement is not None:
            entry["placement"] = self.placement
        if self.isolation is not None:
            entry["isolation"] = self.isolation
        if self.timeout_s is not None:
            entry["timeout_s"] = self.timeout_s
        return entry

    def _manifest_params(self) -> dict[str, Any]:
        if self._unnamed_args:
            raise SerializationError(
                f"node '{self.name}' ({type(self).__name__}): {len(self._unnamed_args)} positional argument(s) "
                "went to *args and have no parameter name; pass them as keyword arguments"
            )
        params = {}
        for key, value in self.config.items():
            try:
                params[key] = to_jsonable(value)
            except (TypeError, RecursionError) as exc:
                raise SerializationError(
                    f"node '{self.name}' ({type(self).__name__}): parameter '{key}' cannot be serialized to JSON: {exc}"
                ) from exc
        return params


def timing_samples(node: Node) -> list[tuple[str, float]]:
    """The node's recorded timing samples, not yet collected: the engines take them from this list."""
    return node.__dict__.setdefault("_timing_samples", [])


def __getattr__(name: str) -> Any:
    """`RemoteExecutorConfig`, where the upstream SDK defines it (`remotemedia.core.node`)."""
    if name == "RemoteExecutorConfig":
        from remotemedia.core.remote_config import RemoteExecutorConfig

        return RemoteExecutorConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _constructor_params(cls: type, args: tuple, kwargs: dict[str, Any]) -> tuple[dict[str, Any], tuple]:
    """Name every constructor argument as its parameter; also return what went to `*args`.

    Keyword-only construction (what the runtime does) needs no signature at all.
    """
    if not args:
        return dict(kwargs), ()
    import inspect

    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)  # type: ignore[misc]
    except TypeError:
        return dict(kwargs), ()  # the real __init__ call raises the proper TypeError next
    params: dict[str, Any] = {}
    unnamed: tuple = ()
    for parameter_name, value in list(bound.arguments.items())[1:]:  # skip self
        kind = bound.signature.parameters[parameter_name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            params.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            unnamed = value
        else:
            params[parameter_name] = value
    return params, unnamed


def _checked_name(name: Any) -> str:
    """Names become manifest ids (`{name}_{index}`), so they must fit the id pattern."""
    if not isinstance(name, str) or not name or not _NAME_CHARACTERS.issuperset(name):
        raise ConfigurationError(
            f"invalid node name {name!r}: use letters, digits, '_', '.' or '-' (it becomes the manifest id)"
        )
    return name


def _module_for_manifest(node: Node) -> str | None:
    """The module the runtime must import for this node, or None for catalogue nodes."""
    from remotemedia.catalogue import CATALOGUE

    cls = type(node)
    if CATALOGUE.get(cls.__name__) == cls.__module__:
        return None
    if cls.__module__ == "__main__":
        raise SerializationError(
            f"node '{node.name}' ({cls.__name__}) is defined in the script being run (__main__); "
            "move the class into an importable module so the runtime can load it"
        )
    return cls.__module__
