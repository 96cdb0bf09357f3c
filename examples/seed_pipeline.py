"""The usage example from the project's founding issue, verbatim, then the manifest it produces.

Run: PYTHONPATH=python python examples/seed_pipeline.py > example.json && remotemedia validate example.json
"""

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.io_nodes import DataSourceNode, DataSinkNode

# Create pipeline
pipeline = Pipeline(name="example")
pipeline.add_node(DataSourceNode(name="input"))
pipeline.add_node(CalculatorNode(name="calc", operation="add", operand=5))
pipeline.add_node(DataSinkNode(name="output"))

# Serialize to Rust-compatible manifest
manifest_json = pipeline.serialize(description="My pipeline")

print(manifest_json)
