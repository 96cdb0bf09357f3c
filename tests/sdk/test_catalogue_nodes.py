"""The catalogue's general nodes, used the way pipelines use them."""

from __future__ import annotations

import json

import pytest
from remotemedia.core.driver import NodeDriver
from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.base import BufferNode, PassThroughNode
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.io_nodes import DataSinkNode, DataSourceNode
from remotemedia.nodes.remote import RemoteExecutionNode, RemoteExecutorConfig
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.nodes.text import TextTransformNode


def outputs(node, item):
    return list(NodeDriver(node).process(item))


@pytest.mark.parametrize(
    "operation, operand, item, expected",
    [
        ("add", 2, 3, 5),
        ("subtract", 2, 3, 1),
        ("multiply", 2, 3, 6),
        ("divide", 2, 3, 1.5),
        ("power", 2, 3, 9),
        ("modulo", 2, 7, 1),
        ("multiply", 0.5, [2, 4.0], [1.0, 2.0]),
    ],
)
def test_calculator_operations(operation, operand, item, expected):
    assert outputs(CalculatorNode(operation=operation, operand=operand), item) == [expected]


@pytest.mark.parametrize("operation", ["divide", "modulo"])
def test_calculator_by_zero_raises_node_error(operation):
    with pytest.raises(NodeError, match="division by zero"):
        outputs(CalculatorNode(operation=operation, operand=0), 1)


@pytest.mark.parametrize("item", ["7", None, True, {"value": 1}])
def test_calculator_rejects_non_numbers(item):
    with pytest.raises(NodeError, match="expects a number"):
        CalculatorNode().process(item)


def test_calculator_configuration_errors():
    with pytest.raises(ConfigurationError, match="unknown operation 'sqrt'; choose one of add, subtract"):
        CalculatorNode(operation="sqrt")
    with pytest.raises(ConfigurationError, match="operand must be a number"):
        CalculatorNode(operand="5")


def test_simple_math_nodes():
    assert outputs(MultiplyNode(factor=3), [1, 2]) == [[3, 6]]
    assert outputs(AddNode(addend=0.5), 1) == [1.5]


@pytest.mark.parametrize(
    "operation, expected",
    [
        ("upper", "  HELLO   WORLD "),
        ("lower", "  hello   world "),
        ("title", "  Hello   World "),
        ("strip", "hello   World"),
        ("reverse", " dlroW   olleh  "),
        ("normalize_whitespace", "hello World"),
        ("split_words", ["hello", "World"]),
        ("word_count", 2),
        ("char_count", 16),
    ],
)
def test_text_operations(operation, expected):
    assert outputs(TextTransformNode(operation=operation), "  hello   World ") == [expected]


def test_text_replace_and_its_configuration():
    assert outputs(TextTransformNode(operation="replace", old="a", new="o"), "banana") == ["bonono"]
    with pytest.raises(ConfigurationError, match="needs a non-empty `old`"):
        TextTransformNode(operation="replace")
    with pytest.raises(ConfigurationError, match="unknown text operation 'shout'"):
        TextTransformNode(operation="shout")


def test_buffer_batches_and_validates_its_size():
    assert Pipeline("p").add_node(BufferNode(size=3)).run(range(7)) == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ConfigurationError, match="positive integer"):
        BufferNode(size=0)


def test_pass_through_and_source_forward_items_unchanged():
    item = {"any": [1, b"x"]}
    assert Pipeline("p").add_node(DataSourceNode()).add_node(PassThroughNode()).run([item]) == [item]


def test_sink_writes_json_lines_when_given_a_path(tmp_path):
    path = tmp_path / "out.jsonl"
    results = Pipeline("p").add_node(DataSinkNode(path=str(path))).run([1, "two", b"\x03", {"k": (4,)}])
    assert results == [1, "two", b"\x03", {"k": (4,)}]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [1, "two", {"$bytes": "Aw=="}, {"k": [4]}]


@pytest.mark.parametrize(
    "host, port, message",
    [
        ("", 50051, "host name"),
        ("a b", 1, "host name"),
        ("gpu", 0, "1-65535"),
        ("gpu", 65536, "1-65535"),
    ],
)
def test_remote_config_is_checked(host, port, message):
    with pytest.raises(ConfigurationError, match=message):
        RemoteExecutorConfig(host=host, port=port)


@pytest.mark.parametrize(
    "address, host, port",
    [
        ("gpu:9000", "gpu", 9000),
        ("[::1]:9000", "::1", 9000),
        ("10.0.0.2:50051", "10.0.0.2", 50051),
    ],
)
def test_remote_address_parses(address, host, port):
    assert RemoteExecutorConfig.from_address(address) == RemoteExecutorConfig(host, port)
    assert RemoteExecutorConfig.from_address(address).address == address


@pytest.mark.parametrize("address", ["gpu", "gpu:", "gpu:http", "[::1]"])
def test_remote_address_needs_a_port(address):
    with pytest.raises(ConfigurationError, match="must be 'host:port'"):
        RemoteExecutorConfig.from_address(address)


def test_remote_node_refuses_to_run_locally():
    remote = RemoteExecutionNode(PassThroughNode(name="far"), RemoteExecutorConfig("gpu-box", 7000))
    with pytest.raises(NodeError, match="node 'far_0' failed in initialize: node 'far' runs on gpu-box:7000"):
        Pipeline("p").add_node(remote).run([1])


def test_manifest_with_host_rebuilds_a_remote_node():
    remote = RemoteExecutionNode(MultiplyNode(name="far", factor=3), RemoteExecutorConfig("gpu-box", 7000))
    rebuilt = Pipeline.from_manifest(Pipeline("p").add_node(remote).serialize())
    (node,) = rebuilt.nodes
    assert isinstance(node, RemoteExecutionNode) and node.remote.address == "gpu-box:7000"
    assert node.to_manifest()["params"] == {"factor": 3}
