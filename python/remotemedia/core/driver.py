"""`NodeDriver`: the one adapter through which every engine calls a node.

The local CPython pipeline, the runtime's embedded RustPython engine and the CPython bridge all
drive nodes through this class, so "what counts as an output" is decided in one place:

- a plain return value is one output, except None, which is no output (a node filters by
  returning None);
- a generator or async generator emits each yielded item, one per `next()`, as it is produced;
- a coroutine emits its awaited result (same None rule).

The interface is synchronous because the engines are: a node's async code runs on an event loop
that belongs to its driver, created only when the node first needs one. RustPython imports this
module at start-up, so `asyncio` is imported only at that moment.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

from remotemedia.core.node import Node, timing_samples


class NodeDriver:
    """Calls one node's lifecycle methods with the output rules above. Not thread-safe: one
    driver is used by one thread at a time, as each engine runs a node on its own stage."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.timings = timing_samples(node)
        """`(name, seconds)` samples the node recorded with `Node.record_timing`; an engine that
        reports them takes them out of this very list after each call (a length check when empty)."""
        self._loop: Any = None

    def initialize(self) -> None:
        """Run the node's `initialize`, sync or async."""
        self._settle(self.node.initialize())

    def process(self, item: Any) -> Iterator[Any]:
        """Call the node's `process(item)` now; iterate the result to receive its outputs.

        An engine that stops iterating early must `close()` the iterator, so that the node's
        `finally` blocks run (on the driver's loop, for an async generator).
        """
        return self.outputs(self.node.process(item))

    def flush(self) -> Iterator[Any]:
        """Call the node's optional `flush()`; a node without one emits nothing at end of stream."""
        flush = getattr(self.node, "flush", None)
        if flush is None:
            return iter(())
        return self.outputs(flush())

    def cleanup(self) -> None:
        """Run the node's `cleanup`, sync or async, then close this driver's event loop if any."""
        try:
            self._settle(self.node.cleanup())
        finally:
            if self._loop is not None:
                loop, self._loop = self._loop, None
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

    def _settle(self, result: Any) -> Any:
        """Await a coroutine; pass anything else through."""
        if isinstance(result, types.CoroutineType):
            return self._event_loop().run_until_complete(result)
        return result

    def outputs(self, result: Any) -> Iterator[Any]:
        """The outputs of a value `process` or `flush` returned. Engines that call `process`
        themselves (to skip this call for plain values) hand lazy results here."""
        if isinstance(result, types.GeneratorType):
            return result
        if isinstance(result, types.AsyncGeneratorType):
            return self._drain_async(result)
        value = self._settle(result)
        return iter(()) if value is None else iter((value,))

    def _drain_async(self, generator: Any) -> Iterator[Any]:
        """Step an async generator one item per `next()`; close it if the consumer stops early."""
        loop = self._event_loop()
        try:
            while True:
                try:
                    item = loop.run_until_complete(generator.__anext__())
                except StopAsyncIteration:
                    return
                yield item
        except GeneratorExit:
            loop.run_until_complete(generator.aclose())
            raise

    def _event_loop(self) -> Any:
        if self._loop is None:
            import asyncio

            self._loop = asyncio.new_event_loop()
        return self._loop
