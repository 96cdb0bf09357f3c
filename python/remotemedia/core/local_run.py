"""The local CPython run of a pipeline: the reference semantics every engine reproduces.

- Every node initializes before any data flows; if one fails, nothing flows.
- Every root node (no incoming connection) receives every run input, in order.
- Each output goes to every successor (fan-out); a node with several predecessors receives their
  outputs as they arrive (fan-in) and sees end of stream when all of them have ended.
- After its last input a node is flushed, and its outputs go downstream like any other.
- The outputs of sink nodes (no outgoing connection) are the run's outputs, in production order.
- cleanup runs for every node at the end, also after a failure anywhere.
- A failure in a node's code stops the run with a NodeError naming the node id and stage, the
  node's exception chained as its cause.

Each node runs on its own worker thread (always the same one, so thread-bound resources work),
driven by an asyncio task through a `NodeDriver`; bounded queues between nodes give backpressure.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from remotemedia.core.driver import NodeDriver
from remotemedia.core.exceptions import NodeError, PipelineError, RemoteMediaError

if TYPE_CHECKING:
    from remotemedia.core.pipeline import Pipeline

QUEUE_SIZE = 16
"""Items a node may have waiting for it before its producers block."""

_END = object()
"""End-of-stream marker sent by each predecessor when it is done."""

_NO_MORE = object()
"""Marks the end of the inputs, and wakes the consumer after a failure."""


class _Stage:
    """One node in a run: its driver, its thread, its inbox and where its outputs go."""

    def __init__(self, node_id: str, driver: NodeDriver) -> None:
        self.node_id = node_id
        self.driver = driver
        self.inbox: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.open_inputs = 0
        self.successors: list[asyncio.Queue] = []
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"node-{node_id}")
        self.outputs: Iterator[Any] | None = None

    async def call(self, stage: str, function: Callable[..., Any], *args: Any) -> Any:
        """Run node code on this stage's thread; wrap its failure as a NodeError naming the node."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self.worker, function, *args)
        except Exception as exc:
            raise _node_error(self.node_id, stage, exc) from exc


class LocalRun:
    """One execution of a pipeline; create a new one per run."""

    def __init__(self, pipeline: Pipeline) -> None:
        if not pipeline.nodes:
            raise PipelineError(f"pipeline '{pipeline.name}' has no nodes to run")
        self.pipeline = pipeline
        self.failure: BaseException | None = None

    async def outputs(self, inputs: Iterable[Any] | AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Yield the sinks' outputs as they are produced; raise the first failure at the end."""
        if isinstance(inputs, (str, bytes, dict)):
            raise PipelineError("inputs must be an iterable of items; wrap a single item in a list")
        if self.pipeline.running:
            raise PipelineError(
                f"pipeline '{self.pipeline.name}' is already running; its nodes hold per-run "
                "state, so build a second pipeline to run two at once"
            )
        stages = [
            _Stage(node_id, NodeDriver(node))
            for node_id, node in zip(self.pipeline.node_ids(), self.pipeline.nodes, strict=True)
        ]
        results: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        roots = self._wire(stages, results)
        sinks = sum(1 for stage in stages if results in stage.successors)
        ready = _Barrier(len(stages))
        tasks: list[asyncio.Future] = [asyncio.ensure_future(self._lifecycle(stage, ready)) for stage in stages]
        tasks.append(asyncio.ensure_future(self._feed(inputs, roots, ready)))
        watcher = asyncio.ensure_future(self._watch(tasks, results))
        ended = 0
        self.pipeline.running = True
        try:
            while ended < sinks:
                item = await results.get()
                if item is _END:
                    ended += 1
                elif item is _NO_MORE:
                    break
                else:
                    yield item
        finally:
            if ended < sinks and self.failure is None:
                self._stop(tasks)  # the consumer stopped early
            await asyncio.gather(*tasks, return_exceptions=True)
            watcher.cancel()
            for stage in stages:
                stage.worker.shutdown(wait=False)
            self.pipeline.running = False
        if self.failure is not None:
            raise self.failure

    def _wire(self, stages: list[_Stage], results: asyncio.Queue) -> list[asyncio.Queue]:
        """Connect the stages' queues; return the inboxes of the root nodes."""
        index = {id(node): position for position, node in enumerate(self.pipeline.nodes)}
        for source, target in self.pipeline.connections():
            stages[index[id(source)]].successors.append(stages[index[id(target)]].inbox)
            stages[index[id(target)]].open_inputs += 1
        roots = []
        for stage in stages:
            if stage.open_inputs == 0:
                stage.open_inputs = 1  # the run's input feed
                roots.append(stage.inbox)
            if not stage.successors:
                stage.successors.append(results)
        return roots

    async def _lifecycle(self, stage: _Stage, ready: _Barrier) -> None:
        try:
            await stage.call("initialize", stage.driver.initialize)
            await ready.arrive()
            while stage.open_inputs:
                item = await stage.inbox.get()
                if item is _END:
                    stage.open_inputs -= 1
                else:
                    await self._forward(stage, "process", stage.driver.process, item)
            await self._forward(stage, "flush", stage.driver.flush)
            for queue in stage.successors:
                await queue.put(_END)
        except BaseException as exc:
            self._record(exc)
            raise
        finally:
            await self._finish(stage)

    async def _forward(self, stage: _Stage, step: str, start: Callable[..., Iterator[Any]], *args: Any) -> None:
        """Start a node step, then pass each output to every successor as soon as it exists."""
        stage.outputs, batch, done = await stage.call(step, _start, start, args)
        while True:
            for output in batch:
                for queue in stage.successors:
                    await queue.put(output)
            if done:
                break
            batch, done = await stage.call(step, _advance, stage.outputs)
        stage.outputs = None

    async def _finish(self, stage: _Stage) -> None:
        """Close an interrupted output stream, then clean up, on the node's own thread.

        A stop request (cancellation) arriving meanwhile must not cut this short: the run only
        returns once every node has cleaned up.
        """
        finishing = asyncio.ensure_future(stage.call("cleanup", _close_and_cleanup, stage))
        while not finishing.done():
            try:
                await asyncio.shield(finishing)
            except asyncio.CancelledError:
                continue
            except RemoteMediaError:
                break
        error = None if finishing.cancelled() else finishing.exception()
        if error is not None:
            self._record(error)

    async def _feed(
        self, inputs: Iterable[Any] | AsyncIterator[Any], roots: list[asyncio.Queue], ready: _Barrier
    ) -> None:
        items = _iterate(inputs)
        try:
            await ready.wait()
            async for item in items:
                for queue in roots:
                    await queue.put(item)
            for queue in roots:
                await queue.put(_END)
        except BaseException as exc:
            self._record(exc)
            raise
        finally:
            await items.aclose()

    async def _watch(self, tasks: list[asyncio.Future], results: asyncio.Queue) -> None:
        """On the first failure, stop every task and wake the consumer."""
        while True:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            if self.failure is not None or len(done) == len(tasks):
                break
            tasks = [task for task in tasks if task not in done]
        if self.failure is not None:
            self._stop(tasks)
            await results.put(_NO_MORE)

    def _record(self, exc: BaseException) -> None:
        if self.failure is None and not isinstance(exc, asyncio.CancelledError):
            self.failure = exc

    @staticmethod
    def _stop(tasks: list[asyncio.Future]) -> None:
        for task in tasks:
            task.cancel()


class _Barrier:
    """Lets data flow only once every node has initialized."""

    def __init__(self, parties: int) -> None:
        self.remaining = parties
        self.event = asyncio.Event()

    async def arrive(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.event.set()
        await self.event.wait()

    async def wait(self) -> None:
        await self.event.wait()


async def _iterate(inputs: Iterable[Any] | AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    """Iterate sync or async inputs; a sync iterator is advanced off the event loop, as it may block."""
    if hasattr(inputs, "__aiter__"):
        async for item in inputs:  # type: ignore[union-attr]
            yield item
        return
    try:
        iterator = iter(inputs)  # type: ignore[arg-type]
    except TypeError as exc:
        raise PipelineError(f"inputs must be iterable, got {type(inputs).__name__}") from exc
    loop = asyncio.get_running_loop()
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inputs")
    try:
        while True:
            try:
                item = await loop.run_in_executor(reader, next, iterator, _NO_MORE)
            except Exception as exc:
                raise PipelineError(f"reading the pipeline's inputs failed: {type(exc).__name__}: {exc}") from exc
            if item is _NO_MORE:
                return
            yield item
    finally:
        reader.shutdown(wait=False)  # a stopped run must not wait for a blocking input source


def _start(start: Callable[..., Iterator[Any]], args: tuple) -> tuple[Iterator[Any], list[Any], bool]:
    """Begin a node step and take its first outputs, in one trip to the node's thread."""
    outputs = start(*args)
    return (outputs, *_advance(outputs))


def _advance(outputs: Iterator[Any]) -> tuple[list[Any], bool]:
    """The next outputs and whether the step is done. A generator gives one item per call (it
    produces lazily, so each output moves on as soon as it exists); any other iterator holds
    results already computed, which are taken at once."""
    if isinstance(outputs, types.GeneratorType):
        for output in outputs:
            return [output], False
        return [], True
    return list(outputs), True


def _close_and_cleanup(stage: _Stage) -> None:
    outputs, stage.outputs = stage.outputs, None
    try:
        close = getattr(outputs, "close", None)
        if close is not None:
            close()
    finally:
        stage.driver.cleanup()


def _node_error(node_id: str, stage: str, exc: BaseException) -> NodeError:
    detail = str(exc) if isinstance(exc, RemoteMediaError) else f"{type(exc).__name__}: {exc}"
    return NodeError(f"node '{node_id}' failed in {stage}: {detail}", node_id=node_id, stage=stage)
