"""NodeDriver: the same output rules for plain, async, generator and async-generator nodes."""

from __future__ import annotations

import asyncio

import pytest
from remotemedia.core.driver import NodeDriver
from remotemedia.core.node import Node


class Plain(Node):
    def process(self, data):
        return None if data < 0 else data * 2  # None filters the item out


class Async(Node):
    async def process(self, data):
        await asyncio.sleep(0)
        return None if data < 0 else data * 2


class Repeat(Node):
    def __init__(self, times: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.times = times
        self.produced = 0

    def process(self, data):
        for _ in range(self.times):
            self.produced += 1
            yield data


class AsyncRepeat(Node):
    def __init__(self, times: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.times = times
        self.produced = 0
        self.closed = False

    async def process(self, data):
        try:
            for _ in range(self.times):
                await asyncio.sleep(0)
                self.produced += 1
                yield data
        finally:
            self.closed = True


class Lifecycle(Node):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.events = []

    async def initialize(self):
        self.events.append("initialize")

    def process(self, data):
        self.events.append(("process", data))
        return data

    async def flush(self):
        self.events.append("flush")
        return "tail"

    async def cleanup(self):
        self.events.append("cleanup")


@pytest.mark.parametrize("node_class", [Plain, Async])
def test_return_value_is_one_output_and_none_is_none(node_class):
    driver = NodeDriver(node_class())
    assert list(driver.process(3)) == [6]
    assert list(driver.process(-1)) == []
    driver.cleanup()


@pytest.mark.parametrize("node_class", [Repeat, AsyncRepeat])
def test_generators_emit_each_item_lazily(node_class):
    node = node_class(times=3)
    driver = NodeDriver(node)
    outputs = driver.process("x")
    assert node.produced == 0
    assert next(outputs) == "x"
    assert node.produced == 1
    assert list(outputs) == ["x", "x"]
    driver.cleanup()


def test_async_generator_closed_early_runs_its_finally():
    node = AsyncRepeat(times=5)
    driver = NodeDriver(node)
    outputs = driver.process("x")
    next(outputs)
    outputs.close()
    assert node.closed and node.produced == 1
    driver.cleanup()


def test_lifecycle_methods_may_be_async_and_flush_emits():
    node = Lifecycle()
    driver = NodeDriver(node)
    driver.initialize()
    assert list(driver.process(1)) == [1]
    assert list(driver.flush()) == ["tail"]
    driver.cleanup()
    assert node.events == ["initialize", ("process", 1), "flush", "cleanup"]


def test_node_without_flush_emits_nothing_at_end_of_stream():
    assert list(NodeDriver(Plain()).flush()) == []


def test_node_exception_reaches_the_caller_unchanged():
    class Broken(Node):
        def process(self, data):
            raise ValueError("bad item")

    with pytest.raises(ValueError, match="bad item"):
        list(NodeDriver(Broken()).process(1))
