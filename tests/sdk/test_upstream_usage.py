"""Code written for the upstream SDK (the public `remotemedia` Python client this SDK mirrors), as
its README, examples and tests call it: the import forms, remote nodes, `serialize` arguments,
`to_manifest`, timestamps. Each test states the upstream call shape it stands for; where the
behaviour here differs on purpose, the test pins our side (README, "Porting from the upstream SDK").
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

import pytest
from remotemedia.core.exceptions import ConfigurationError, NodeError, SerializationError
from remotemedia.manifest import validate


def test_top_level_and_core_imports_are_the_sdk_classes():
    from remotemedia import ConfigurationError as top_error
    from remotemedia import Node, Pipeline
    from remotemedia.core import Node as core_node
    from remotemedia.core import Pipeline as core_pipeline
    from remotemedia.core import RemoteExecutorConfig as core_config
    from remotemedia.core.node import Node as real_node
    from remotemedia.core.node import RemoteExecutorConfig
    from remotemedia.core.pipeline import Pipeline as real_pipeline
    from remotemedia.core.remote_config import RemoteExecutorConfig as real_config

    assert Pipeline is core_pipeline is real_pipeline
    assert Node is core_node is real_node
    assert RemoteExecutorConfig is core_config is real_config
    assert top_error is ConfigurationError


def test_node_classes_import_from_the_nodes_package():
    from remotemedia.nodes import (
        CalculatorNode,
        DataSinkNode,
        DataSourceNode,
        Node,
        PassThroughNode,
        RemoteExecutionNode,
    )
    from remotemedia.nodes.base import PassThroughNode as real_pass_through
    from remotemedia.nodes.calculator import CalculatorNode as real_calculator
    from remotemedia.nodes.remote import RemoteExecutionNode as real_remote

    assert (PassThroughNode, CalculatorNode, RemoteExecutionNode) == (
        real_pass_through,
        real_calculator,
        real_remote,
    )
    assert all(issubclass(cls, Node) for cls in (DataSourceNode, DataSinkNode))


def test_star_import_of_the_nodes_package_gives_every_catalogue_node():
    namespace: dict = {}
    exec("from remotemedia.nodes import *", namespace)
    from remotemedia.engine_api import catalogue

    assert set(catalogue()) | {"RemoteExecutionNode", "Node"} <= set(namespace)


def test_unknown_package_names_are_attribute_errors_naming_the_package():
    import remotemedia
    import remotemedia.nodes

    with pytest.raises(AttributeError, match="module 'remotemedia.nodes' has no attribute 'AudioTransform'"):
        remotemedia.nodes.AudioTransform  # noqa: B018 - an upstream node this SDK does not have
    with pytest.raises(ImportError, match="WhisperXTranscriber"):
        exec("from remotemedia.nodes import WhisperXTranscriber", {})
    assert "CalculatorNode" in dir(remotemedia.nodes) and "Pipeline" in dir(remotemedia)


def test_package_names_import_their_modules_only_when_used(run_python):
    """The embedded interpreter imports `remotemedia` at start-up: the names must cost nothing until used."""
    script = (
        "import sys, remotemedia, remotemedia.core, remotemedia.nodes\n"
        "before = sorted(m for m in sys.modules if m.startswith('remotemedia'))\n"
        "from remotemedia.nodes import CalculatorNode\n"
        "after = sorted(m for m in sys.modules if m.startswith('remotemedia'))\n"
        "print(before); print(after)\n"
    )
    before, after = (eval(line) for line in run_python("-c", script).stdout.splitlines())
    # The catalogue's table is a leaf module the package's names are looked up in.
    assert before == ["remotemedia", "remotemedia.catalogue", "remotemedia.core",
                      "remotemedia.nodes"]
    assert "remotemedia.nodes.calculator" in after
    assert not any(name.startswith(("remotemedia.nodes.audio", "remotemedia.nodes.ml")) for name in after)


# --- remote nodes ---------------------------------------------------------------------------------


def test_remote_config_has_the_upstream_fields_and_defaults():
    from remotemedia.core.node import RemoteExecutorConfig

    config = RemoteExecutorConfig(host="gpu-server", port=50052)
    assert (config.protocol, config.auth_token, config.timeout, config.max_retries, config.ssl_enabled) == (
        "grpc",
        None,
        30.0,
        3,
        True,
    )
    assert config.pip_packages is None
    secret = RemoteExecutorConfig(host="gpu-server", port=50052, auth_token="s3cret", timeout=5, ssl_enabled=False)
    assert "s3cret" not in repr(secret)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"protocol": "http"}, "speak 'grpc' only"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"max_retries": -1}, "max_retries must be a non-negative integer"),
        ({"ssl_enabled": "yes"}, "ssl_enabled must be True or False"),
        ({"auth_token": 42}, "auth_token must be a string"),
        ({"pip_packages": ["numpy"]}, "never installs packages on request"),
    ],
)
def test_remote_config_refuses_what_cannot_work_here(fields, message):
    from remotemedia.core.node import RemoteExecutorConfig

    with pytest.raises(ConfigurationError, match=message):
        RemoteExecutorConfig(host="gpu-server", port=50051, **fields)


def _remote_both_ways():
    """The same remote calculator, built the upstream way (class name + node_config) and ours (a node)."""
    from remotemedia.core.node import RemoteExecutorConfig
    from remotemedia.nodes import CalculatorNode, RemoteExecutionNode

    config = RemoteExecutorConfig(host="gpu-server", port=50051, protocol="grpc")
    upstream = RemoteExecutionNode(
        name="remote_calc",
        node_to_execute="CalculatorNode",
        remote_config=config,
        node_config={"operation": "add", "operand": 5},
    )
    ours = RemoteExecutionNode(CalculatorNode(name="remote_calc", operation="add", operand=5), config)
    return upstream, ours


def test_remote_node_both_ways_gives_the_same_manifest_entry():
    upstream, ours = _remote_both_ways()
    expected = {
        "id": "remote_calc",
        "node_type": "CalculatorNode",
        "params": {"operation": "add", "operand": 5},
        "host": "gpu-server:50051",
    }
    assert upstream.to_manifest() == ours.to_manifest() == expected


def test_remote_node_both_ways_gives_the_same_pipeline_manifest():
    from remotemedia import Pipeline
    from remotemedia.nodes import DataSinkNode, DataSourceNode

    manifests = []
    for remote in _remote_both_ways():
        pipeline = Pipeline(name="remote-pipeline")
        pipeline.add_node(DataSourceNode(name="input"))
        pipeline.add_node(remote)
        pipeline.add_node(DataSinkNode(name="output"))
        pipeline.created_at = "2025-10-22T12:00:00Z"
        manifests.append(pipeline.serialize())
    assert manifests[0] == manifests[1]
    assert validate(manifests[0]) == []
    assert json.loads(manifests[0])["nodes"][1]["id"] == "remote_calc_1"


def test_remote_node_positional_and_shorthand_forms():
    from remotemedia.core.node import RemoteExecutorConfig
    from remotemedia.nodes import RemoteExecutionNode

    upstream, _ = _remote_both_ways()
    config = upstream.remote_config
    positional = RemoteExecutionNode("CalculatorNode", config, {"operation": "add", "operand": 5}, name="remote_calc")
    shorthand = config("CalculatorNode", node_config={"operation": "add", "operand": 5}, name="remote_calc")
    assert positional.to_manifest() == shorthand.to_manifest() == upstream.to_manifest()
    assert isinstance(config, RemoteExecutorConfig) and upstream.remote is config


def test_remote_node_by_class_name_defaults_its_name_to_the_class():
    from remotemedia.core.node import RemoteExecutorConfig
    from remotemedia.nodes import CalculatorNode, RemoteExecutionNode

    config = RemoteExecutorConfig(host="gpu-server", port=50051)
    by_name = RemoteExecutionNode(node_to_execute="CalculatorNode", remote_config=config)
    by_object = RemoteExecutionNode(CalculatorNode(), config)
    assert by_name.name == by_object.name == "CalculatorNode"
    assert by_name.to_manifest() == by_object.to_manifest()


def test_a_class_only_the_host_has_is_written_by_name():
    from remotemedia.core.node import RemoteExecutorConfig
    from remotemedia.nodes import RemoteExecutionNode

    config = RemoteExecutorConfig(host="gpu-server", port=50051)
    node = RemoteExecutionNode(node_to_execute="host_nodes:Transcriber", remote_config=config,
                               node_config={"model": "base"})
    assert node.to_manifest() == {
        "id": "Transcriber",
        "node_type": "host_nodes:Transcriber",
        "params": {"model": "base"},
        "host": "gpu-server:50051",
    }


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"node_to_execute": "CalculatorNode", "node_config": {"operation": "sqrt"}}, ConfigurationError,
         "unknown operation"),
        ({"node_to_execute": "CalculatorNode", "node_config": {"operand": 1, "colour": "red"}}, ConfigurationError,
         "bad node_config"),
        ({"node_to_execute": "CalculatorNode", "node_config": ["add"]}, ConfigurationError,
         "node_config must be a dict"),
        ({"node_to_execute": ""}, ConfigurationError, "must name a node class"),
        ({"node_to_execute": 3}, ConfigurationError, "wraps a Node or a node class name"),
        ({}, TypeError, r"missing required argument: node \(or node_to_execute\)"),
    ],
)
def test_remote_node_by_class_name_checks_its_arguments(kwargs, error, message):
    from remotemedia.core.node import RemoteExecutorConfig
    from remotemedia.nodes import RemoteExecutionNode

    with pytest.raises(error, match=message):
        RemoteExecutionNode(remote_config=RemoteExecutorConfig(host="gpu-server", port=50051), **kwargs)


def test_remote_node_refuses_mixed_spellings():
    from remotemedia.core.node import RemoteExecutorConfig
    from remotemedia.nodes import PassThroughNode, RemoteExecutionNode

    config = RemoteExecutorConfig(host="gpu-server", port=50051)
    with pytest.raises(TypeError, match="both config and remote_config"):
        RemoteExecutionNode(PassThroughNode(), config, remote_config=config)
    with pytest.raises(ConfigurationError, match="a Node object carries its own parameters"):
        RemoteExecutionNode(PassThroughNode(), config, node_config={"x": 1})
    with pytest.raises(ConfigurationError, match="needs a RemoteExecutorConfig"):
        RemoteExecutionNode(node_to_execute="PassThroughNode", remote_config={"host": "gpu-server"})


def test_the_auth_token_never_reaches_the_manifest():
    from remotemedia import Pipeline
    from remotemedia.core.node import RemoteExecutorConfig
    from remotemedia.nodes import PassThroughNode, RemoteExecutionNode

    config = RemoteExecutorConfig(host="gpu-server", port=50051, auth_token="s3cret-token")
    manifest = Pipeline("p", nodes=[RemoteExecutionNode(PassThroughNode(), config)]).serialize()
    assert "s3cret-token" not in manifest


def test_a_manifest_in_the_upstream_remote_form_loads_as_the_node_it_runs(repo_root):
    from remotemedia import Pipeline
    from remotemedia.nodes import CalculatorNode, RemoteExecutionNode

    manifest = json.loads((repo_root / "tests/manifests/valid/upstream_remote_node.json").read_text())
    assert validate(manifest) == []
    pipeline = Pipeline.from_manifest(manifest)
    remote = pipeline.nodes[1]
    assert isinstance(remote, RemoteExecutionNode) and isinstance(remote.node, CalculatorNode)
    assert (remote.node.operation, remote.node.operand, remote.remote.address) == ("add", 5, "gpu-server:50051")
    rewritten = json.loads(pipeline.serialize())
    assert rewritten["nodes"][1] == {
        "id": "remote_calc_1_1",  # named by its manifest id, then given its position
        "node_type": "CalculatorNode",
        "params": {"operation": "add", "operand": 5},
        "host": "gpu-server:50051",
    }
    assert rewritten["nodes"][2]["node_type"] == "PassThroughNode"


def test_the_remote_form_upstream_sdk_writes_is_refused_saying_how_to_write_it():
    """Upstream's SDK writes its remote nodes with empty params: the node to run is lost."""
    manifest = {
        "version": "v1",
        "metadata": {"name": "remote"},
        "nodes": [{"id": "r_0", "node_type": "RemoteExecutionNode", "params": {}, "is_streaming": True,
                   "host": "gpu-server:50051"}],
    }
    (error,) = validate(manifest)
    assert error.pointer == "/nodes/0"
    assert "needs params.node_to_execute" in error.message
    assert '{"node_type": "CalculatorNode", "params": {...}, "host": "host:port"}' in error.message


# --- serialize, to_manifest, ids --------------------------------------------------------------------


def _three_node_pipeline():
    from remotemedia import Node, Pipeline
    from remotemedia.nodes import DataSinkNode, DataSourceNode

    class NeedsMemory(Node):
        def process(self, data):
            return data

        def get_capabilities(self):
            return {"memory_gb": 1.0}

    pipeline = Pipeline(name="ordered")
    for node in (DataSourceNode(name="input"), NeedsMemory(name="work"), DataSinkNode(name="output")):
        pipeline.add_node(node)
    return pipeline


def test_serialize_takes_include_capabilities_first_then_description():
    pipeline = _three_node_pipeline()
    without = json.loads(pipeline.serialize(False))
    assert "capabilities" not in without["nodes"][1] and "description" not in without["metadata"]
    both = json.loads(pipeline.serialize(True, "Porting test"))
    assert both["nodes"][1]["capabilities"] == {"memory_gb": 1.0}
    assert both["metadata"]["description"] == "Porting test"
    keywords = json.loads(pipeline.serialize(description="Porting test", include_capabilities=False))
    assert keywords["metadata"]["description"] == "Porting test" and "capabilities" not in keywords["nodes"][1]
    for manifest in (without, both, keywords):
        assert validate(manifest) == []


@pytest.mark.parametrize(
    "args, message",
    [
        ((True, False), "description must be a string, got bool False"),
        ((True, 5), "description must be a string, got int 5"),
        (("My pipeline",), "include_capabilities must be True or False, got 'My pipeline'"),
    ],
)
def test_serialize_refuses_arguments_that_would_write_an_invalid_manifest(args, message):
    with pytest.raises(SerializationError, match=message):
        _three_node_pipeline().serialize(*args)


def test_to_manifest_carries_the_node_name_as_id():
    from remotemedia.nodes import CalculatorNode, PassThroughNode

    assert PassThroughNode(name="test_node").to_manifest() == {
        "id": "test_node",
        "node_type": "PassThroughNode",
        "params": {},
    }
    assert CalculatorNode(name="calc", operation="add", operand=5).to_manifest()["id"] == "calc"
    assert CalculatorNode().to_manifest()["id"] == "CalculatorNode"


def test_pipeline_ids_stay_positional_and_unique_whatever_the_names():
    from remotemedia import Node, Pipeline
    from remotemedia.nodes import PassThroughNode

    class OwnId(PassThroughNode):
        def to_manifest(self, include_capabilities: bool = True):
            return {**super().to_manifest(include_capabilities), "id": "fixed"}

    names = ["node", "node", "node_1", "node_1_2", "1", "fixed"]
    nodes: list[Node] = [PassThroughNode(name=name) for name in names] + [OwnId(name="a"), OwnId(name="a")]
    manifest = Pipeline("ids", nodes=nodes).export_definition()
    ids = [node["id"] for node in manifest["nodes"]]
    assert ids == ["node_0", "node_1", "node_1_2", "node_1_2_3", "1_4", "fixed_5", "a_6", "a_7"]
    assert [(c["from"], c["to"]) for c in manifest["connections"]] == list(itertools.pairwise(ids))
    assert validate(manifest) == []


def test_pipeline_takes_its_nodes_in_the_constructor():
    from remotemedia import Pipeline
    from remotemedia.nodes import CalculatorNode, PassThroughNode

    first, second = PassThroughNode(), CalculatorNode(operation="multiply", operand=2)
    for pipeline in (
        Pipeline(name="calculator_pipeline", nodes=[first, second]),
        Pipeline([first, second], "calculator_pipeline"),
        Pipeline([first, second], name="calculator_pipeline"),
    ):
        assert pipeline.name == "calculator_pipeline" and pipeline.nodes == [first, second]
        assert pipeline.run([1, 2]) == [2, 4]
    with pytest.raises(ConfigurationError, match="takes a name or a list of nodes first"):
        Pipeline(5)


def test_an_empty_pipeline_is_not_serialized():
    """Upstream writes `"nodes": []`, which no runtime accepts (the schema needs one node); here it is an error."""
    from remotemedia import Pipeline

    with pytest.raises(SerializationError, match="has no nodes"):
        Pipeline(name="empty").serialize()


# --- timestamps -----------------------------------------------------------------------------------


def _manifest_created_at(created_at: str) -> dict:
    return {
        "version": "v1",
        "metadata": {"name": "stamped", "created_at": created_at},
        "nodes": [{"id": "pass_0", "node_type": "PassThroughNode", "params": {}}],
    }


@pytest.mark.parametrize(
    "created_at, written",
    [
        ("2025-10-22T12:00:00+00:00", "2025-10-22T12:00:00Z"),
        ("2025-10-22T14:30:00+02:30", "2025-10-22T12:00:00Z"),
        ("2025-10-22T07:00:00.250-05:00", "2025-10-22T12:00:00.25Z"),
        ("2025-10-22T12:00:00.123456789Z", "2025-10-22T12:00:00.123456Z"),
        ("2025-10-22T12:00:00Z", "2025-10-22T12:00:00Z"),
    ],
)
def test_offset_timestamps_validate_and_are_written_in_utc(created_at, written):
    from remotemedia import Pipeline

    manifest = _manifest_created_at(created_at)
    assert validate(manifest) == []
    rewritten = json.loads(Pipeline.from_manifest(manifest).serialize())
    assert rewritten["metadata"]["created_at"] == written
    assert validate(rewritten) == []


@pytest.mark.parametrize("created_at", ["2025-10-22T12:00:00", "2025-10-22 12:00:00Z", "2025-10-22T12:00:00+0200"])
def test_timestamps_without_an_rfc3339_offset_are_refused(created_at):
    assert [error.pointer for error in validate(_manifest_created_at(created_at))] == ["/metadata/created_at"]


def test_created_at_set_in_code_is_normalised_and_a_naive_one_refused():
    pipeline = _three_node_pipeline()
    pipeline.created_at = datetime(2025, 10, 22, 21, 0, tzinfo=timezone(timedelta(hours=9)))
    assert pipeline.export_definition()["metadata"]["created_at"] == "2025-10-22T12:00:00Z"
    pipeline.created_at = datetime(2025, 10, 22, 12, 0)
    with pytest.raises(SerializationError, match="has no time zone"):
        pipeline.serialize()


# --- nodes written the upstream way ---------------------------------------------------------------


def test_a_node_written_the_upstream_way_runs():
    """Upstream nodes forward **kwargs, make initialize/cleanup async and await the base class's,
    and log through self.logger."""
    from remotemedia import Node, Pipeline

    events = []

    class Scale(Node):
        def __init__(self, factor: float = 2, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        async def initialize(self):
            await super().initialize()
            self.logger.debug("ready")
            events.append("initialize")

        def process(self, data):
            return data * self.factor

        async def cleanup(self):
            events.append("cleanup")
            await super().cleanup()

    node = Scale(name="scale", factor=3)
    assert node.to_manifest()["params"] == {"factor": 3}
    assert node.logger.name == "Scale"
    assert Pipeline("upstream-node", nodes=[node]).run([1, 2]) == [3, 6]
    assert events == ["initialize", "cleanup"]


def test_a_node_may_set_its_own_logger():
    from remotemedia import Node

    class Custom(Node):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.logger = "mine"

        def process(self, data):
            return data

    assert Custom().logger == "mine"


def test_remote_nodes_still_refuse_the_local_python_run():
    from remotemedia import Pipeline

    upstream, _ = _remote_both_ways()
    with pytest.raises(NodeError, match="runs on gpu-server:50051"):
        Pipeline("p", nodes=[upstream]).run([1])


def test_the_upstream_serialization_example_runs_as_a_script(run_python):
    """Upstream's example script builds a 4-node calculator pipeline and prints its manifest."""
    script = """
import json
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.io_nodes import DataSourceNode, DataSinkNode

pipeline = Pipeline(name="example-pipeline")
pipeline.add_node(DataSourceNode(name="input"))
pipeline.add_node(CalculatorNode(name="multiply", operation="multiply", operand=2))
pipeline.add_node(CalculatorNode(name="add", operation="add", operand=10))
pipeline.add_node(DataSinkNode(name="output"))
manifest = json.loads(pipeline.serialize(description="Example pipeline", include_capabilities=True))
print(json.dumps([node["id"] for node in manifest["nodes"]]))
"""
    assert json.loads(run_python("-c", script).stdout) == ["input_0", "multiply_1", "add_2", "output_3"]


# --- differences on purpose (README, "Porting from the upstream SDK") ------------------------------


def test_calculator_follows_its_params_not_the_item():
    """Upstream's CalculatorNode ignores its params and reads {"operation", "args"} from each item."""
    from remotemedia import Pipeline
    from remotemedia.nodes import CalculatorNode

    calculator = Pipeline("calc", nodes=[CalculatorNode(operation="multiply", operand=2)])
    assert calculator.run([3, [1, 2.5]]) == [6, [2, 5.0]]
    with pytest.raises(NodeError, match="multiply expects a number or a list of numbers, got dict"):
        calculator.run([{"operation": "add", "args": [1, 2]}])


def test_run_returns_the_outputs_and_async_code_awaits_run_async():
    """Upstream's `run` is a coroutine; here `run` blocks and returns, `run_async` is the awaitable."""
    import asyncio

    from remotemedia import Pipeline
    from remotemedia.core.exceptions import PipelineError
    from remotemedia.nodes import CalculatorNode

    pipeline = Pipeline("calc", nodes=[CalculatorNode(operation="add", operand=5)])
    assert pipeline.run([1, 2, 3]) == [6, 7, 8]

    async def in_async_code():
        with pytest.raises(PipelineError, match="await pipeline.run_async"):
            pipeline.run([1])
        return await pipeline.run_async([1, 2, 3])

    assert asyncio.run(in_async_code()) == [6, 7, 8]


def test_process_gets_one_item_per_call_not_the_stream():
    """Upstream's streaming nodes take the whole input stream in one `process` call; here each call
    gets one item (yield several outputs, keep state across calls, emit the rest in `flush`)."""
    from remotemedia import Node, Pipeline

    class WholeStream(Node):
        async def process(self, data_stream):
            async for item in data_stream:
                yield item

    class PerItem(Node):
        async def process(self, item):
            yield item
            yield item

    with pytest.raises(NodeError, match="node 'WholeStream_0' failed in process"):
        Pipeline("stream", nodes=[WholeStream()]).run([1, 2])
    assert Pipeline("items", nodes=[PerItem()]).run([1, 2]) == [1, 1, 2, 2]
