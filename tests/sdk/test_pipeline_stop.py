"""Stopping a local run: early exits, cancellation and failures while other nodes are blocked.

Each scenario would hang if some thread were left blocked on a full or an empty queue, so each
runs under `returns`, which turns a hang into a failure instead of a stuck suite.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from contextlib import aclosing
from typing import TypeVar

import pytest
from remotemedia.core.exceptions import NodeError
from remotemedia.local.run import QUEUE_SIZE
from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline

T = TypeVar("T")
HANG_GUARD_S = 60
"""Only turns a would-be hang into a failure; nothing here is timed."""


def returns(scenario: Callable[[], T]) -> T:
    """Run `scenario` on a daemon thread and return its result; fail if it never returns."""
    outcome: dict = {}

    def attempt() -> None:
        try:
            outcome["value"] = scenario()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    assert not thread.is_alive(), "the run hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class Logged(Node):
    """Passes items on and logs its cleanup."""

    def __init__(self, log: list, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def process(self, data):
        return data

    def cleanup(self):
        self.log.append((self.name, "cleanup"))


class Flood(Logged):
    """Emits many outputs per input: more than any queue between nodes holds. `filled` is set
    once a queue's worth is out: the next ones block if the successor is not reading."""

    def __init__(self, log: list, filled: threading.Event, **kwargs):
        super().__init__(log, **kwargs)
        self.filled = filled

    def process(self, data):
        for index in range(10_000):
            if index == QUEUE_SIZE:
                self.filled.set()
            yield index


class FailsOnSecondItem(Logged):
    def __init__(self, log: list, failing: threading.Event, **kwargs):
        super().__init__(log, **kwargs)
        self.failing = failing
        self.seen = 0

    def process(self, data):
        self.seen += 1
        if self.seen == 2:
            self.failing.set()
            raise ValueError("second item is bad")
        return data


def cleaned_up(log: list) -> list[str]:
    return sorted(name for name, event in log if event == "cleanup")


def first_output(pipeline: Pipeline, inputs) -> object:
    """The run's first output, leaving the run right after it."""

    async def scenario():
        async with aclosing(pipeline.process(inputs)) as outputs:
            async for output in outputs:
                return output

    return asyncio.run(scenario())


def test_leaving_early_stops_producers_blocked_on_full_queues():
    log: list = []
    flood_filled = threading.Event()
    pipeline = Pipeline("p").add_node(Logged(log, name="head")).add_node(Flood(log, flood_filled, name="flood"))

    async def leave_early():
        # An endless input: the input feed and `head` block on full queues too.
        async with aclosing(pipeline.process(itertools.count())) as outputs:
            async for output in outputs:
                flood_filled.wait(HANG_GUARD_S)  # leave once `flood` is about to block on us
                return output

    assert returns(lambda: asyncio.run(leave_early())) == 0
    assert cleaned_up(log) == ["flood", "head"]
    assert not pipeline.running


def test_a_failure_in_one_branch_stops_a_branch_blocked_on_a_full_queue():
    log: list = []
    failing, flood_filled = threading.Event(), threading.Event()

    class Stalled(Logged):
        def process(self, data):
            failing.wait(HANG_GUARD_S)  # busy until the other branch has failed
            return data

    def inputs():
        yield 1
        flood_filled.wait(HANG_GUARD_S)  # the second item (the failing one) after the flood
        yield 2

    source = Logged(log, name="source")
    flood = Flood(log, flood_filled, name="flood")
    pipeline = (
        Pipeline("branches")
        .connect(source, FailsOnSecondItem(log, failing, name="broken"))
        .connect(source, flood)
        .connect(flood, Stalled(log, name="stalled"))
    )
    with pytest.raises(NodeError, match="node 'broken_1' failed in process: ValueError: second item is bad"):
        returns(lambda: pipeline.run(inputs()))
    assert cleaned_up(log) == ["broken", "flood", "source", "stalled"]


def test_cancelling_the_consumer_stops_the_run_and_the_async_input_it_waits_on():
    log: list = []
    events: list[str] = []
    first_seen = asyncio.Event()

    async def live_input():
        try:
            yield 1
            await asyncio.Event().wait()  # a live source with nothing more to say for now
        finally:
            events.append("input closed")

    pipeline = Pipeline("p").add_node(Logged(log, name="only"))

    async def consume():
        async for _ in pipeline.process(live_input()):
            first_seen.set()

    async def scenario():
        consumer = asyncio.ensure_future(consume())
        await first_seen.wait()
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer

    returns(lambda: asyncio.run(scenario()))
    assert events == ["input closed"]
    assert cleaned_up(log) == ["only"]


class SyncStream(Node):
    def __init__(self, events: list, **kwargs):
        super().__init__(**kwargs)
        self.events = events

    def process(self, data):
        try:
            yield from range(data)
        finally:
            self.events.append(("closed", threading.current_thread().name))


class AsyncStream(SyncStream):
    async def process(self, data):
        try:
            for item in range(data):
                await asyncio.sleep(0)
                yield item
        finally:
            self.events.append(("closed", threading.current_thread().name))


@pytest.mark.parametrize("stream", [SyncStream, AsyncStream])
def test_a_generator_node_stopped_mid_stream_runs_its_finally_on_its_own_thread(stream):
    events: list = []
    pipeline = Pipeline("p").add_node(stream(events, name="stream"))
    assert returns(lambda: first_output(pipeline, [1_000_000])) == 0
    assert events == [("closed", "node-stream_0")]


def test_a_generators_outputs_move_on_while_it_continues():
    first_received = threading.Event()

    class Conversation(Node):
        def process(self, data):
            yield "hello"
            # Only continue once the consumer has the first output: it must not wait for the
            # generator to finish.
            if not first_received.wait(HANG_GUARD_S):
                raise AssertionError("the first output never reached the consumer")
            yield "again"

    async def scenario():
        received = []
        async for output in Pipeline("p").add_node(Conversation()).add_node(Logged([])).process([None]):
            received.append(output)
            first_received.set()
        return received

    assert returns(lambda: asyncio.run(scenario())) == ["hello", "again"]


def test_a_blocking_sync_input_does_not_block_the_event_loop():
    released = threading.Event()

    def blocking_input():
        yield "before"
        # Released by a task on the event loop, which can only run if the loop is free.
        if not released.wait(HANG_GUARD_S):
            raise AssertionError("the event loop was blocked by the input iterator")
        yield "after"

    async def scenario():
        async def release():
            released.set()

        releaser = asyncio.ensure_future(release())
        outputs = [output async for output in Pipeline("p").add_node(Logged([])).process(blocking_input())]
        await releaser
        return outputs

    assert returns(lambda: asyncio.run(scenario())) == ["before", "after"]
