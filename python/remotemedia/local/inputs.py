"""Feeding a local run's inputs to its root nodes, once every node has initialized.

A sync iterable is read on a thread of its own, because reading it may block (a microphone, a
socket, a slow file) and the event loop must stay free; an async iterable is iterated on the
event loop, where it lives. Either way, a failure while reading the inputs stops the run with a
PipelineError that says so, the source's exception chained as its cause.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, Iterator
from typing import Any

from remotemedia.local.channel import Channel, ChannelClosed
from remotemedia.core.exceptions import PipelineError
from remotemedia.local.node_thread import END, RunControl


def input_source(inputs: Any) -> Iterator[Any] | AsyncIterable[Any]:
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


def start_feeding(
    source: Iterator[Any] | AsyncIterable[Any], roots: list[Channel], control: RunControl
) -> asyncio.Task[None] | None:
    """Feed the inputs to the roots: an async source from a task (returned, to cancel on stop),
    a sync one from a daemon thread. That thread is never waited for: it may be blocked inside
    the caller's iterator for good (a live source), and must neither hold up the end of the run
    nor the interpreter's exit; it leaves by itself at its next put once the run has stopped."""
    if isinstance(source, AsyncIterable):
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
            raise  # `put` raises nothing else: any other exception came from the source
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
