"""The local CPython run: the reference semantics of a pipeline."""

from __future__ import annotations

import asyncio
import threading

import pytest
from remotemedia.core.exceptions import NodeError, PipelineError
from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.base import BufferNode, PassThroughNode
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.io_nodes import DataSinkNode, DataSourceNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.nodes.text import TextTransformNode


class Recorder(Node):
    """Records its lifecycle into a shared log; optionally fails at one stage."""

    def __init__(self, log: list | None = None, fail_in: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.log = log if log is not None else []
        self.fail_in = fail_in

    def _event(self, stage):
        self.log.append((self.name, stage))
        if stage == self.fail_in:
            raise RuntimeError(f"{self.name} broke in {stage}")

    def initialize(self):
        self._event("initialize")

    def process(self, data):
        self._event("process")
        return data

    def flush(self):
        self._event("flush")

    def cleanup(self):
        self._event("cleanup")


def test_linear_chain_runs_in_order():
    pipeline = (
        Pipeline("linear")
        .add_node(DataSourceNode(name="input"))
        .add_node(CalculatorNode(name="calc", operation="add", operand=5))
        .add_node(MultiplyNode(factor=2))
        .add_node(DataSinkNode(name="output"))
    )
    assert pipeline.run([1, 2, 3]) == [12, 14, 16]


def test_calculator_applies_element_wise_to_lists():
    assert Pipeline("p").add_node(CalculatorNode(operation="power", operand=2)).run([[1, 2, 3]]) == [[1, 4, 9]]


def test_division_by_zero_is_a_node_error_naming_the_node():
    divide = CalculatorNode(name="div", operation="divide", operand=0)
    pipeline = Pipeline("p").add_node(PassThroughNode()).add_node(divide)
    with pytest.raises(NodeError, match="node 'div_1' failed in process: division by zero") as caught:
        pipeline.run([4])
    assert caught.value.node_id == "div_1"
    assert isinstance(caught.value.__cause__, NodeError)


def test_node_exception_is_chained_as_the_cause():
    pipeline = Pipeline("p").add_node(TextTransformNode(operation="upper"))
    with pytest.raises(NodeError, match="expects a str, got int"):
        pipeline.run([42])


def test_fan_out_and_fan_in():
    source = DataSourceNode(name="source")
    double = MultiplyNode(name="double", factor=2)
    increment = AddNode(name="increment", addend=1)
    merge = PassThroughNode(name="merge")
    pipeline = (
        Pipeline("diamond")
        .connect(source, double)
        .connect(source, increment)
        .connect(double, merge)
        .connect(increment, merge)
    )
    outputs = pipeline.run([10, 20])
    assert sorted(outputs) == [11, 20, 21, 40]
    # Each branch keeps its own order through the merge.
    assert [x for x in outputs if x % 2 == 0] == [20, 40]
    assert [x for x in outputs if x % 2] == [11, 21]


def test_every_root_receives_every_input_and_every_sink_contributes():
    pipeline = Pipeline("two-roots")
    a, b = AddNode(name="a", addend=100), AddNode(name="b", addend=200)
    pipeline.add_node(a).add_node(b)
    pipeline.connect(a, PassThroughNode(name="after_a"))
    assert sorted(pipeline.run([1])) == [101, 201]


class Doubler(Node):
    def process(self, data):
        return data * 2


class AsyncDoubler(Node):
    async def process(self, data):
        await asyncio.sleep(0)
        return data * 2


class Splitter(Node):
    def process(self, data):
        yield from data


class AsyncSplitter(Node):
    async def process(self, data):
        for item in data:
            await asyncio.sleep(0)
            yield item


class EvenOnly(Node):
    def process(self, data):
        return data if data % 2 == 0 else None


@pytest.mark.parametrize("splitter", [Splitter, AsyncSplitter])
@pytest.mark.parametrize("doubler", [Doubler, AsyncDoubler])
def test_sync_async_and_generator_nodes_compose(splitter, doubler):
    pipeline = Pipeline("mixed").add_node(splitter()).add_node(EvenOnly()).add_node(doubler())
    assert pipeline.run([[1, 2, 3, 4], [6]]) == [4, 8, 12]


def test_flush_emits_what_a_node_holds_at_end_of_stream():
    pipeline = Pipeline("batches").add_node(BufferNode(size=2))
    assert pipeline.run([1, 2, 3, 4, 5]) == [[1, 2], [3, 4], [5]]


def test_flush_outputs_flow_downstream_and_flush_follows_all_predecessors():
    source = DataSourceNode()
    left, right = PassThroughNode(name="left"), PassThroughNode(name="right")
    batch = BufferNode(name="batch", size=100)
    pipeline = Pipeline("p").connect(source, left).connect(source, right).connect(left, batch).connect(right, batch)
    (collected,) = pipeline.run(["x", "y"])
    assert sorted(collected) == ["x", "x", "y", "y"]


def test_lifecycle_order_all_initialize_before_data_and_cleanup_after_flush():
    log: list = []
    pipeline = Pipeline("p").add_node(Recorder(log, name="first")).add_node(Recorder(log, name="second"))
    assert pipeline.run(["item"]) == ["item"]
    first_process = log.index(("first", "process"))
    assert {("first", "initialize"), ("second", "initialize")} <= set(log[:first_process])
    for name in ("first", "second"):
        stages = [stage for who, stage in log if who == name]
        assert stages == ["initialize", "process", "flush", "cleanup"]


@pytest.mark.parametrize("fail_in", ["initialize", "process", "flush", "cleanup"])
def test_cleanup_always_runs_for_every_node(fail_in):
    log: list = []
    pipeline = (
        Pipeline("p")
        .add_node(Recorder(log, name="upstream"))
        .add_node(Recorder(log, name="broken", fail_in=fail_in))
        .add_node(Recorder(log, name="downstream"))
    )
    with pytest.raises(NodeError, match=f"node 'broken_1' failed in {fail_in}: RuntimeError: broken broke") as caught:
        pipeline.run([1, 2])
    assert isinstance(caught.value.__cause__, RuntimeError)
    for name in ("upstream", "broken", "downstream"):
        assert log.count((name, "cleanup")) == 1, name
    if fail_in == "initialize":
        assert not any(stage == "process" for _, stage in log), "no data may flow when a node fails to initialize"


def test_each_node_runs_on_one_thread_of_its_own():
    class ThreadOf(Node):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.threads = set()

        def initialize(self):
            self.threads.add(threading.get_ident())

        def process(self, data):
            self.threads.add(threading.get_ident())
            return data

        def cleanup(self):
            self.threads.add(threading.get_ident())

    nodes = [ThreadOf(name="a"), ThreadOf(name="b")]
    pipeline = Pipeline("p").add_node(nodes[0]).add_node(nodes[1])
    pipeline.run(range(20))
    assert all(len(node.threads) == 1 for node in nodes)
    assert nodes[0].threads != nodes[1].threads


def test_outputs_stream_before_the_inputs_end():
    """The async API hands out an output while later inputs do not exist yet."""

    async def scenario():
        first_output_seen = asyncio.Event()

        async def inputs():
            yield 0
            await first_output_seen.wait()  # a live source: more input only after the first result
            yield 1

        seen = []
        async for output in Pipeline("p").add_node(AddNode(addend=10)).process(inputs()):
            seen.append(output)
            first_output_seen.set()
        return seen

    # The timeout only turns a would-be deadlock (no streaming) into a failure.
    assert asyncio.run(asyncio.wait_for(scenario(), timeout=30)) == [10, 11]


def test_stopping_early_still_cleans_up():
    log: list = []
    pipeline = Pipeline("p").add_node(Splitter()).add_node(Recorder(log, name="tail"))

    async def first_output():
        async for output in pipeline.process([list(range(1000))]):
            return output

    assert asyncio.run(first_output()) == 0
    assert ("tail", "cleanup") in log


def test_failing_input_iterator_is_a_pipeline_error():
    def inputs():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(PipelineError, match="reading the pipeline's inputs failed: OSError: disk gone"):
        Pipeline("p").add_node(PassThroughNode()).run(inputs())


@pytest.mark.parametrize("inputs", ["abc", {"a": 1}])
def test_a_single_item_must_be_wrapped_in_a_list(inputs):
    with pytest.raises(PipelineError, match="wrap a single item in a list"):
        Pipeline("p").add_node(PassThroughNode()).run(inputs)


def test_run_inside_an_event_loop_points_to_process():
    async def misuse():
        Pipeline("p").add_node(PassThroughNode()).run([1])

    with pytest.raises(PipelineError, match="async for output in pipeline.process"):
        asyncio.run(misuse())


def test_empty_pipeline_cannot_run():
    with pytest.raises(PipelineError, match="has no nodes"):
        Pipeline("empty").run([1])


def test_graph_mistakes_are_refused_at_connect():
    a, b, c = PassThroughNode(name="a"), PassThroughNode(name="b"), PassThroughNode(name="c")
    pipeline = Pipeline("p").connect(a, b).connect(b, c)
    with pytest.raises(PipelineError, match="would create the cycle c -> a -> b -> c"):
        pipeline.connect(c, a)
    with pytest.raises(PipelineError, match="to itself"):
        pipeline.connect(a, a)
    with pytest.raises(PipelineError, match="already connected"):
        pipeline.connect(a, b)
    with pytest.raises(PipelineError, match="already in pipeline"):
        pipeline.add_node(a)


def test_a_pipeline_runs_once_at_a_time():
    pipeline = Pipeline("p").add_node(Splitter())

    async def overlap():
        first = pipeline.process([[1, 2, 3]])
        assert await first.__anext__() == 1
        try:
            with pytest.raises(PipelineError, match="already running"):
                await pipeline.process([[4]]).__anext__()
        finally:
            await first.aclose()
        return [item async for item in pipeline.process([[5]])]

    assert asyncio.run(overlap()) == [5]


def test_a_failure_does_not_wait_for_a_blocking_input_source():
    """A live source (here: one that blocks until released) must not hold a failed run hostage."""
    release = threading.Event()

    def live_source():
        yield 0  # CalculatorNode fails on this one
        release.wait()
        yield 1

    pipeline = Pipeline("p").add_node(CalculatorNode(operation="divide", operand=0))
    try:
        with pytest.raises(NodeError, match="division by zero"):
            pipeline.run(live_source())
    finally:
        release.set()
