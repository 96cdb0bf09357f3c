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

How: each node lives on a dedicated thread (`remotemedia.core.node_thread`), always the same
one, so thread-bound resources work; bounded `Channel`s between threads give backpressure, and an
item crosses a node boundary with one put and no event-loop round trip. The event loop only feeds
async inputs and hands the sinks' outputs to the consumer. Stopping closes every channel, which
wakes each thread blocked on a full or an empty one: no timeouts, no polling.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from remotemedia.core.channel import Channel, ChannelClosed
from remotemedia.core.driver import NodeDriver
from remotemedia.core.exceptions import PipelineError
from remotemedia.core.node_thread import END, NodeThread, RunControl

if TYPE_CHECKING:
    from remotemedia.core.pipeline import Pipeline

QUEUE_SIZE = 16
"""Items a node may have waiting for it before its producers block (it may hold one more batch
of up to this many in hand)."""


class LocalRun:
    """One execution of a pipeline; create a new one per run."""

    def __init__(self, pipeline: Pipeline) -> None:
        if not pipeline.nodes:
            raise PipelineError(f"pipeline '{pipeline.name}' has no nodes to run")
        self.pipeline = pipeline

    async def outputs(self, inputs: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
        """Yield the sinks' outputs as they are produced; raise the first failure at the end."""
        source = _input_source(inputs)
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
            feeding = _start_feeding(source, roots, control)
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
            await _wait_for_cleanup(control.finished, started, feeding)
            self.pipeline.running = False
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


def _input_source(inputs: Any) -> Iterator[Any] | AsyncIterable[Any]:
    """The inputs as an iterator, or as given when async (checked before any node starts);
    refuse what is not a stream of items."""
    if isinstance(inputs, (str, bytes, dict)):
        raise PipelineError("inputs must be an iterable of items; wrap a single item in a list")
    if hasattr(inputs, "__aiter__"):
        return inputs
    try:
        return iter(inputs)
    except TypeError as exc:
        raise PipelineError(f"inputs must be iterable, got {type(inputs).__name__}") from exc


def _start_feeding(
    source: Iterator[Any] | AsyncIterable[Any], roots: list[Channel], control: RunControl
) -> asyncio.Task[None] | None:
    """Feed the inputs to the roots: an async source from a task (returned, to cancel on stop),
    a sync one from a daemon thread. That thread is never waited for: it may be blocked inside
    the caller's iterator for good (a live source), and must neither hold up the end of the run
    nor the interpreter's exit; it leaves by itself at its next put once the run has stopped."""
    if hasattr(source, "__aiter__"):
        return asyncio.ensure_future(_feed_from_loop(source, roots, control))
    threading.Thread(target=_feed_from_thread, args=(source, roots, control), name="inputs", daemon=True).start()
    return None


def _feed_from_thread(source: Iterator[Any], roots: list[Channel], control: RunControl) -> None:
    try:
        control.ready.take()
        try:
            for item in source:
                for root in roots:
                    root.put(item)
        except ChannelClosed:
            raise
        except Exception as exc:
            control.fail(_input_error(exc))
            return
        for root in roots:
            root.put(END)
    except ChannelClosed:
        pass  # the run stopped
    except BaseException as exc:
        control.fail(exc)


async def _feed_from_loop(source: AsyncIterable[Any], roots: list[Channel], control: RunControl) -> None:
    try:
        await control.ready.take_async()
        items = aiter(source)
        while True:
            try:
                item = await anext(items)
            except StopAsyncIteration:
                break
            except Exception as exc:
                control.fail(_input_error(exc))
                return
            for root in roots:
                await root.put_async(item)
        for root in roots:
            await root.put_async(END)
    except ChannelClosed:
        pass  # the run stopped
    except asyncio.CancelledError:
        raise  # the consumer stopped the run
    except BaseException as exc:
        control.fail(exc)


def _input_error(exc: Exception) -> PipelineError:
    error = PipelineError(f"reading the pipeline's inputs failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


async def _wait_for_cleanup(finished: Channel, nodes: int, feeding: asyncio.Task[None] | None) -> None:
    """Wait until every node thread has cleaned up (and the input task has ended).

    A cancellation arriving meanwhile must not cut this short — the run's promise is that it
    returns only after every node has cleaned up — so it is held back and re-raised after.
    """
    cancelled: asyncio.CancelledError | None = None
    while nodes:
        try:
            nodes -= len(await finished.take_async())
        except asyncio.CancelledError as exc:
            cancelled = exc
    if feeding is not None:
        while not feeding.done():
            try:
                await asyncio.wait([feeding])
            except asyncio.CancelledError as exc:
                cancelled = exc
    if cancelled is not None:
        raise cancelled
