"""Arithmetic chain: add 5, double, then square each number.

Run locally: PYTHONPATH=python python examples/pipelines/calculator.py
Manifest:    examples/manifests/calculator.json
"""

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.io_nodes import DataSinkNode, DataSourceNode
from remotemedia.nodes.simple_math import MultiplyNode


def build() -> Pipeline:
    return (
        Pipeline(name="calculator")
        .add_node(DataSourceNode(name="numbers"))
        .add_node(CalculatorNode(name="plus_five", operation="add", operand=5))
        .add_node(MultiplyNode(name="double", factor=2))
        .add_node(CalculatorNode(name="square", operation="power", operand=2))
        .add_node(DataSinkNode(name="results"))
    )


if __name__ == "__main__":
    print(build().run([1, 2, 3]))  # [144, 196, 256]
