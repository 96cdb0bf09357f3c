"""One-operation arithmetic nodes: shorter to write than a CalculatorNode for the common cases."""

from __future__ import annotations

from typing import Any

from remotemedia.nodes.calculator import CalculatorNode


class MultiplyNode(CalculatorNode):
    """Multiplies numbers (or each number of a list) by `factor`."""

    def __init__(self, factor: float = 2, **kwargs: Any) -> None:
        super().__init__(operation="multiply", operand=factor, **kwargs)


class AddNode(CalculatorNode):
    """Adds `addend` to numbers (or to each number of a list)."""

    def __init__(self, addend: float = 1, **kwargs: Any) -> None:
        super().__init__(operation="add", operand=addend, **kwargs)
