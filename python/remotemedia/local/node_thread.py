"""One node of a local run on a thread of its own, and the switch that stops them all.

A `NodeThread` runs its node's whole life on one dedicated thread — initialize, then receive →
process → forward until every predecessor has ended, flush, cleanup — so thread-bound resources
(GPU contexts, sessions, non-thread-safe libraries) keep working, and an item crosses from one
node to the next with one put on a `Channel`, no event loop in between.

`RunControl` holds what the threads of one run share: the first failure, the gate that lets data
flow once every node has initialized, and `stop()`, which closes every channel of the run so that
each thread blocked on a full or an empty channel wakes up and leaves through its cleanup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from remotemedia.local.channel import Channel, ChannelClosed
from remotemedia.core.driver import NodeDriver
from remotemedia.core.exceptions import NodeError, RemoteMediaError

END = object()
"""End-of-stream marker each predecessor (or the input feed) sends when it is done."""


class RunControl:
    """What the threads of one run share; every method is safe from any thread."""

    def __init__(self, nodes: int, capacity: int) -> None:
        self.capacity = capacity
        self.failure: BaseException | None = None
        self._lock = threading.Lock()
        self._uninitialized = nodes
        self._channels: list[Channel] = []
        self.ready = self.channel(capacity=1)
        """Receives one token once every node has initialized; the input feed waits for it."""
        self.finished = Channel(max(nodes, 1))
        """Receives each node's id once its thread has cleaned up. Never closed: the consumer
        counts on it to know every node has cleaned up, also after a stop."""

    def channel(self, capacity: int | None = None) -> Channel:
        """A new channel of this run, closed by `stop()`."""
        channel = Channel(capacity or self.capacity)
        self._channels.append(channel)
        return channel

    def initialized(self) -> None:
        """Count one node as initialized; the last one opens the gate for data."""
        with self._lock:
            self._uninitialized -= 1
            everyone = self._uninitialized == 0
        if everyone:
            self.ready.put(True)

    def record(self, failure: BaseException) -> None:
        """Keep the first failure; it is what the run raises."""
        with self._lock:
            if self.failure is None:
                self.failure = failure

    def fail(self, failure: BaseException) -> None:
        """Record a failure and stop the run."""
        self.record(failure)
        self.stop()

    def stop(self) -> None:
        """Close every channel: each thread blocked on one wakes with ChannelClosed and leaves."""
        for channel in self._channels:
            channel.close()


class NodeThread:
    """One node's thread, its inbox, and the inboxes its outputs go to."""

    def __init__(self, node_id: str, driver: NodeDriver, control: RunControl) -> None:
        self.node_id = node_id
        self.driver = driver
        self.control = control
        self.inbox = control.channel()
        self.successors: list[Channel] = []
        self.open_inputs = 0
        """Predecessors (or the input feed) that have not sent END yet."""
        self._outputs: Iterator[Any] | None = None
        """The step whose outputs are being forwarded, to close if the run stops meanwhile."""
        # A daemon: the run itself waits for every node to clean up; only a run whose consumer is
        # abandoned unclosed leaves threads blocked, and those must not hang the interpreter's exit.
        self._thread = threading.Thread(target=self._live, name=f"node-{node_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _live(self) -> None:
        try:
            try:
                self.driver.initialize()
            except Exception as exc:
                raise node_error(self.node_id, "initialize", exc) from exc
            self.control.initialized()
            self._receive()
            self._forward("flush", self.driver.flush)
            for successor in self.successors:
                successor.put(END)
        except ChannelClosed:
            pass  # the run stopped; whoever stopped it reports why
        except BaseException as exc:
            self.control.fail(exc)
        finally:
            self._clean_up()
            self.control.finished.put(self.node_id)

    def _receive(self) -> None:
        inbox, process = self.inbox, self.driver.process
        while self.open_inputs:
            for item in inbox.take():
                if item is END:
                    self.open_inputs -= 1
                elif inbox.closed:
                    raise ChannelClosed  # stop mid-batch too: a node that filters never puts
                else:
                    self._forward("process", process, item)

    def _forward(self, step: str, start: Callable[..., Iterator[Any]], *args: Any) -> None:
        """Run one node step and put each output to every successor as soon as it exists, so a
        generator's output moves on while the generator continues."""
        try:
            self._outputs = outputs = start(*args)
            for output in outputs:
                for successor in self.successors:
                    successor.put(output)  # raises only ChannelClosed
        except ChannelClosed:
            raise
        except Exception as exc:
            raise node_error(self.node_id, step, exc) from exc
        self._outputs = None

    def _clean_up(self) -> None:
        """Close an interrupted step (its generator's `finally` runs here, on this thread), then
        run the node's cleanup. A failure is recorded, not a reason to stop the others: they
        finish their work and clean up too."""
        outputs, self._outputs = self._outputs, None
        try:
            try:
                close = getattr(outputs, "close", None)
                if close is not None:
                    close()
            finally:
                self.driver.cleanup()
        except Exception as exc:
            self.control.record(node_error(self.node_id, "cleanup", exc))
        except BaseException as exc:
            self.control.record(exc)


def node_error(node_id: str, stage: str, exc: BaseException) -> NodeError:
    """A NodeError naming the node and stage; the caller chains `exc` as its cause."""
    detail = str(exc) if isinstance(exc, RemoteMediaError) else f"{type(exc).__name__}: {exc}"
    error = NodeError(f"node '{node_id}' failed in {stage}: {detail}", node_id=node_id, stage=stage)
    error.__cause__ = exc
    return error
