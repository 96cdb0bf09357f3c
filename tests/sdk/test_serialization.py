"""Pipeline.serialize(): the manifest the runtime receives."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from remotemedia.core.exceptions import ConfigurationError, SerializationError
from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline
from remotemedia.manifest import validate
from remotemedia.nodes.base import PassThroughNode
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.io_nodes import DataSinkNode, DataSourceNode
from remotemedia.nodes.remote import RemoteExecutionNode, RemoteExecutorConfig
from remotemedia.nodes.simple_math import MultiplyNode


def seed_pipeline() -> Pipeline:
    pipeline = Pipeline(name="example")
    pipeline.add_node(DataSourceNode(name="input"))
    pipeline.add_node(CalculatorNode(name="calc", operation="add", operand=5))
    pipeline.add_node(DataSinkNode(name="output"))
    return pipeline


def test_seed_pipeline_manifest():
    manifest = json.loads(seed_pipeline().serialize(description="My pipeline"))
    assert manifest["version"] == "v1"
    assert manifest["metadata"]["name"] == "example"
    assert manifest["metadata"]["description"] == "My pipeline"
    assert [node["id"] for node in manifest["nodes"]] == ["input_0", "calc_1", "output_2"]
    assert manifest["nodes"][1] == {
        "id": "calc_1",
        "node_type": "CalculatorNode",
        "params": {"operation": "add", "operand": 5},
    }
    assert manifest["connections"] == [{"from": "input_0", "to": "calc_1"}, {"from": "calc_1", "to": "output_2"}]
    assert validate(manifest) == []


def test_created_at_is_utc_ending_in_z_and_parses():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    created_at = seed_pipeline().export_definition()["metadata"]["created_at"]
    after = datetime.now(timezone.utc)
    assert created_at.endswith("Z")
    parsed = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before <= parsed <= after


def test_description_is_omitted_when_not_given():
    assert "description" not in seed_pipeline().export_definition()["metadata"]


def test_unnamed_nodes_get_class_name_ids_by_position():
    pipeline = Pipeline("p").add_node(MultiplyNode()).add_node(MultiplyNode()).add_node(PassThroughNode())
    ids = [node["id"] for node in pipeline.export_definition()["nodes"]]
    assert ids == ["MultiplyNode_0", "MultiplyNode_1", "PassThroughNode_2"]


def test_dag_connections_are_written_in_connect_order():
    source, left, right, merge = (PassThroughNode(name=n) for n in ("source", "left", "right", "merge"))
    pipeline = Pipeline("dag").connect(source, right).connect(source, left).connect(left, merge).connect(right, merge)
    manifest = pipeline.export_definition()
    assert [node["id"] for node in manifest["nodes"]] == ["source_0", "right_1", "left_2", "merge_3"]
    assert [(c["from"], c["to"]) for c in manifest["connections"]] == [
        ("source_0", "right_1"),
        ("source_0", "left_2"),
        ("left_2", "merge_3"),
        ("right_1", "merge_3"),
    ]
    assert validate(manifest) == []


def test_single_node_has_no_connections():
    assert Pipeline("one").add_node(PassThroughNode()).export_definition()["connections"] == []


def test_capabilities_only_for_nodes_that_declare_them():
    class GpuNode(Node):
        def get_capabilities(self):
            return {"gpu": {"type": "cuda", "min_memory_gb": 4.0, "required": False}, "memory_gb": 8.0}

        def process(self, data):
            return data

    pipeline = Pipeline("caps").add_node(PassThroughNode()).add_node(GpuNode())
    plain, gpu = pipeline.export_definition()["nodes"]
    assert "capabilities" not in plain
    assert gpu["capabilities"] == {"gpu": {"type": "cuda", "min_memory_gb": 4.0, "required": False}, "memory_gb": 8.0}
    assert gpu["module"] == __name__
    without = pipeline.export_definition(include_capabilities=False)["nodes"][1]
    assert "capabilities" not in without


def test_remote_node_is_the_wrapped_node_plus_host():
    remote = RemoteExecutionNode(
        CalculatorNode(name="calc", operation="multiply", operand=3), RemoteExecutorConfig(host="gpu-box", port=50051)
    )
    ipv6 = RemoteExecutionNode(PassThroughNode(), RemoteExecutorConfig(host="::1", port=9000))
    manifest = Pipeline("remote").add_node(remote).add_node(ipv6).export_definition()
    assert manifest["nodes"][0] == {
        "id": "calc_0",
        "node_type": "CalculatorNode",
        "params": {"operation": "multiply", "operand": 3},
        "host": "gpu-box:50051",
    }
    assert manifest["nodes"][1]["host"] == "[::1]:9000"
    assert validate(manifest) == []


class Mapper(Node):
    def __init__(self, function=None, **kwargs):
        super().__init__(**kwargs)
        self.function = function

    def process(self, data):
        return self.function(data)


def test_unserializable_param_names_node_and_param():
    pipeline = Pipeline("bad").add_node(PassThroughNode()).add_node(Mapper(name="mapper", function=len))
    assert pipeline.run(["abc"]) == [3]  # fine locally, but a function has no JSON form
    with pytest.raises(SerializationError, match=r"node 'mapper' \(Mapper\): parameter 'function'.*builtin_function"):
        pipeline.serialize()


def test_bytes_params_use_the_bytes_convention():
    class Keyed(Node):
        def process(self, data):
            return data

    params = Pipeline("p").add_node(Keyed(key=b"\x00\x01")).export_definition()["nodes"][0]["params"]
    assert params == {"key": {"$bytes": "AAE="}}


def test_empty_pipeline_cannot_be_serialized():
    with pytest.raises(SerializationError, match="has no nodes"):
        Pipeline("empty").serialize()


def test_manifest_round_trips_into_an_equivalent_pipeline():
    source = DataSourceNode(name="source")
    double, plus = MultiplyNode(name="double", factor=2), CalculatorNode(name="plus", operation="add", operand=1)
    original = Pipeline("dag").connect(source, double).connect(source, plus)
    rebuilt = Pipeline.from_manifest(original.serialize())
    assert sorted(rebuilt.run([5])) == sorted(original.run([5])) == [6, 10]
    assert [node.config for node in rebuilt.nodes] == [node.config for node in original.nodes]


def test_a_manifest_with_bad_params_names_the_node_when_rebuilt():
    manifest = json.loads(seed_pipeline().serialize())
    manifest["nodes"][1]["params"] = {"operation": "sqrt"}
    message = r"node 'calc_1' \(CalculatorNode\): bad params: unknown operation 'sqrt'"
    with pytest.raises(ConfigurationError, match=message):
        Pipeline.from_manifest(manifest)
    manifest["nodes"][1]["params"] = {"oprand": 1}
    with pytest.raises(ConfigurationError, match="node 'calc_1' .*unexpected keyword argument.*'oprand'"):
        Pipeline.from_manifest(manifest)
