"""Nodes only the benchmarks use, loaded from this directory as a user module (`--python-path`).

They are pure Python, so the same class runs in CPython and in the binary's RustPython engine.
"""

from __future__ import annotations

from typing import Any

from remotemedia.core.node import Node

_MODULUS = 2**31


class CpuStageNode(Node):
    """A CPU-bound stage: `rounds` steps of a linear congruential generator seeded with the item.

    Deterministic integer work with no allocation to speak of, so it measures the interpreter's
    bytecode speed and nothing else. Two stages of `rounds` give exactly what one stage of
    `2 * rounds` gives, which is what lets the parallel-stages row compare them output for output.
    """

    def __init__(self, rounds: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 0:
            raise ValueError(f"rounds must be a non-negative integer, got {rounds!r}")
        self.rounds = rounds

    def process(self, data: int) -> int:
        state = data
        for _ in range(self.rounds):
            state = (state * 1103515245 + 12345) % _MODULUS
        return state


class CpuStageLocalsNode(CpuStageNode):
    """The same work with every shared object (module global, constants) bound to a local first.

    Same outputs as `CpuStageNode`; the parallel row runs both to show how much of the binary's
    parallel slow-down comes from threads touching the same Python objects.
    """

    def process(self, data: int) -> int:
        state, multiplier, increment, modulus = data, 1103515245, 12345, _MODULUS
        for _ in range(self.rounds):
            state = (state * multiplier + increment) % modulus
        return state
