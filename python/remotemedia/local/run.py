"""The local CPython run of a pipeline: the reference semantics every engine reproduces.

- Every node initializes before any data flows; if one fails, nothing flows.
- Every root node (no incoming connection) receives every run input, in order.
- Each output goes to every successor (fan-out); a node with several predecessors receives their
  outputs as they arrive (fan-in) and sees end of stream when all of them have ended.
- A generator node's outputs move on as soon as they are yielded, while it continues.
- After its last input a node is flushed, and its outputs go downstream like any other.
- The outputs of sink nodes (no outgoing connection) are the run's outputs, in production order.
- cleanup runs for every node at the end, also after a failure anywhere.
- A failure in a node's code stops the run with a NodeError naming the node id and stage, the
  node's exception chained as its cause.
- A consumer that stops early (leaves its `async for`, or is cancelled) stops the run at once;
  the run still returns only after every node has cleaned up.
- A sync input iterator is read on a thread of its own, so a blocking one never blocks the event
  loop; an async one is iterated on the event loop.

How: each node lives on a dedicated thread (`remotemedia.local.node_thread`), always the same
one, so thread-bound resources work; bounded `Channel`s between threads give backpressure, and an
item crosses a node boundary with one put and no event-loop round trip. The event loop only feeds
async inputs and hands the sinks' outputs to the consumer. Stopping closes every channel, which
wakes each thread blocked on a full or an empty one: no timeouts, no polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from remotemedia.local.channel import Channel, ChannelClosed
from remotemedia.core.driver import NodeDriver
from remotemedia.core.exceptions import PipelineError
from remotemedia.local.node_thread import END, NodeThread, RunControl
from remotemedia.local.inputs import input_source, start_feeding

if TYPE_CHECKING:
    from remotemedia.core.pipeline import Pipeline

QUEUE_SIZE = 16
"""Items a node may have waiting for it before its producers block (it may hold one more batch
of up to this many in hand). The runtime's executor uses the same bound; larger queues hand off
in bigger batches (a little faster for tiny items) but hold more large media frames in memory."""


class LocalRun:
    """One execution of a pipeline; create a new one per run."""

    def __init__(self, pipeline: Pipeline) -> None:
        if not pipeline.nodes:
            raise PipelineError(f"pipeline '{pipeline.name}' has no nodes to run")
        self.pipeline = pipeline

    async def outputs(self, inputs: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
        """Yield the sinks' outputs as they are produced; raise the first failure at the end."""
        source = input_source(inputs)
        if self.pipeline.running:
            raise PipelineError(
                f"pipeline '{self.pipeline.name}' is already running; its nodes hold per-run "
                "state, so build a second pipeline to run two at once"
            )
        control = RunControl(len(self.pipeline.nodes), QUEUE_SIZE)
        nodes = [
            NodeThread(node_id, NodeDriver(node), control)
            for node_id, node in zip(self.pipeline.node_ids(), self.pipeline.nodes, strict=True)
        ]
        results = control.channel()
        roots = self._wire(nodes, results)
        sinks = sum(1 for node in nodes if results in node.successors)
        self.pipeline.running = True
        started = 0
        feeding: asyncio.Task[None] | None = None
        ended = 0
        try:
            for node in nodes:
                node.start()
                started += 1
            feeding = start_feeding(source, roots, control)
            while ended < sinks:
                for item in await results.take_async():
                    if item is END:
                        ended += 1
                    else:
                        yield item
        except ChannelClosed:
            pass  # the run stopped after a failure, raised below once everyone cleaned up
        finally:
            if ended < sinks:
                control.stop()  # the consumer left early (or a failure stopped the run already)
            if feeding is not None:
                feeding.cancel()
            # Blocking, on purpose: a consumer that leaves early without closing this generator
            # leaves its closing to asyncio's finalizer, which may run this only once, right
            # before the loop closes; so every node is cleaned up before the first await. The
            # node threads need nothing from this loop to get there (stop closed every channel).
            _wait_for_nodes(control.finished, started)
            self.pipeline.running = False
            await _wait_for_feeding(feeding)
        if control.failure is not None:
            raise control.failure

    def _wire(self, nodes: list[NodeThread], results: Channel) -> list[Channel]:
        """Connect the nodes' channels; return the inboxes of the root nodes."""
        index = {id(node): position for position, node in enumerate(self.pipeline.nodes)}
        for source, target in self.pipeline.connections():
            nodes[index[id(source)]].successors.append(nodes[index[id(target)]].inbox)
            nodes[index[id(target)]].open_inputs += 1
        roots = []
        for node in nodes:
            if node.open_inputs == 0:
                node.open_inputs = 1  # the run's input feed
                roots.append(node.inbox)
            if not node.successors:
                node.successors.append(results)
        return roots


def _wait_for_nodes(finished: Channel, nodes: int) -> None:
    """Block until every started node thread has cleaned up."""
    while nodes:
        nodes -= len(finished.take())


async def _wait_for_feeding(feeding: asyncio.Task[None] | None) -> None:
    """Wait for the (cancelled) input task to end; a cancellation arriving meanwhile is held back
    and re-raised after, so the input's own clean-up is not cut short."""
    cancelled: asyncio.CancelledError | None = None
    if feeding is not None:
        while not feeding.done():
            try:
                await asyncio.wait([feeding])
            except asyncio.CancelledError as exc:
                cancelled = exc
    if cancelled is not None:
        raise cancelled
