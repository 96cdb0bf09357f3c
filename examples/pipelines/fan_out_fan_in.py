"""Fan-out and fan-in: every number is doubled on one branch and squared on the other, and both
branches merge into one sink.

Run locally: PYTHONPATH=python python examples/pipelines/fan_out_fan_in.py
Manifest:    examples/manifests/fan_out_fan_in.json
"""

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.io_nodes import DataSinkNode, DataSourceNode
from remotemedia.nodes.simple_math import MultiplyNode


def build() -> Pipeline:
    numbers = DataSourceNode(name="numbers")
    double = MultiplyNode(name="double", factor=2)
    square = CalculatorNode(name="square", operation="power", operand=2)
    results = DataSinkNode(name="results")
    return (
        Pipeline(name="fan-out-fan-in")
        .connect(numbers, double)
        .connect(numbers, square)
        .connect(double, results)
        .connect(square, results)
    )


if __name__ == "__main__":
    print(sorted(build().run([1, 2, 3])))  # [1, 2, 4, 4, 6, 9]
