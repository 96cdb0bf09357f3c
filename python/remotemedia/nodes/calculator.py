"""Arithmetic on numbers and lists of numbers."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node

OPERATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "divide": operator.truediv,
    "power": operator.pow,
    "modulo": operator.mod,
}


def apply_operation(operation: str, value: Any, operand: Any) -> Any:
    """Apply `operation` with `operand` to a number, or element-wise to a list of numbers.

    Raises NodeError for a non-numeric input or a division by zero: an arithmetic failure is a
    failed item, never a silent error value flowing downstream.
    """
    if isinstance(value, (list, tuple)):
        return [apply_operation(operation, item, operand) for item in value]
    if not _is_number(value):
        raise NodeError(f"{operation} expects a number or a list of numbers, got {type(value).__name__} {value!r}")
    try:
        return OPERATIONS[operation](value, operand)
    except ZeroDivisionError as exc:
        raise NodeError(f"division by zero: {operation} {value!r} by {operand!r}") from exc


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class CalculatorNode(Node):
    """Applies `operation` (add, subtract, multiply, divide, power, modulo) with `operand`."""

    def __init__(self, operation: str = "add", operand: float = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if operation not in OPERATIONS:
            raise ConfigurationError(f"unknown operation {operation!r}; choose one of {', '.join(OPERATIONS)}")
        if not _is_number(operand):
            raise ConfigurationError(f"operand must be a number, got {operand!r}")
        self.operation = operation
        self.operand = operand

    def process(self, data: Any) -> Any:
        return apply_operation(self.operation, data, self.operand)
