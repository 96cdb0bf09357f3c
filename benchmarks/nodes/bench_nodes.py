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

    def get_capabilities(self) -> dict[str, Any]:
        """Declares a core, as a CPU-bound node should: the binary then runs it in an embedded
        interpreter of its own, in parallel with the other stages (no objects shared with them)."""
        return {"cpu": {"cores": 1}}

    def process(self, data: int) -> int:
        state = data
        for _ in range(self.rounds):
            state = (state * 1103515245 + 12345) % _MODULUS
        return state


class ArrayEmitNode(Node):
    """Emits, for every input, one float32 array of `size_bytes` (built once, in the constructor)."""

    def __init__(self, size_bytes: int = 16384, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from array import array

        self.size_bytes = size_bytes
        self.samples = array("f", bytes(size_bytes))

    def process(self, data: Any) -> Any:
        return self.samples


class ArrayConsumeNode(Node):
    """Takes an array into CPython — through the runtime's CPython bridge, as a numpy array when
    numpy is installed — reads one element and emits the array's length."""

    runtime_hint = "cpython"

    def initialize(self) -> None:
        import contextlib

        with contextlib.suppress(ImportError):
            import numpy  # noqa: F401 - the bridge's first array must not pay for this import

    def process(self, data: Any) -> int:
        _ = data[len(data) // 2]
        return len(data)


_GLOBAL = 7


class OpCostsNode(Node):
    """Times single Python operations in whichever interpreter runs it: the gap's breakdown.

    For an input `n`, each operation runs `n` times in a loop; the node emits, per operation, the
    nanoseconds per execution with the empty loop's cost taken off. The operations are those of
    the resampler's inner loop (`ResampleNode._interpolate`) and of typical glue code.
    """

    def process(self, data: int) -> dict[str, float]:
        import time

        n = data
        costs = {}
        empty = _best_of(time, self._empty, n)
        costs["empty loop iteration"] = empty
        for name, operation in self._operations():
            # Per-element operations loop once per 1000 elements: their loop costs nothing per element.
            loop = 0.0 if name.endswith("per element") else empty
            costs[name] = max(_best_of(time, operation, n) - loop, 0.0)
        return costs

    @staticmethod
    def _empty(n: int) -> None:
        for _ in range(n):
            pass

    def _operations(self) -> list[tuple[str, Any]]:
        def int_add(n: int) -> None:
            for i in range(n):
                _ = i + 1

        def int_mul_mod(n: int) -> None:
            a, c, m = 1103515245, 12345, 2**31
            for i in range(n):
                _ = (i * a + c) % m

        def divmod_int(n: int) -> None:
            for i in range(n):
                _ = divmod(i, 16000)

        def true_div_int(n: int) -> None:
            for i in range(n):
                _ = i / 16000

        def float_arith(n: int) -> None:
            x, k, one = 0.5, 0.999, 1.0
            for _ in range(n):
                x = x * k + one

        def list_index(n: int) -> None:
            buffer = [0.5] * 1024
            for i in range(n):
                _ = buffer[i & 1023]

        def list_append(n: int) -> None:
            output: list[float] = []
            for _ in range(n):
                output.append(0.5)

        def small_range_loop(n: int) -> None:
            for _ in range(n):
                for _ in range(2):
                    pass

        def global_load(n: int) -> None:
            for _ in range(n):
                _ = _GLOBAL

        def attribute_load(n: int) -> None:
            for _ in range(n):
                _ = self.name

        def method_call(n: int) -> None:
            for _ in range(n):
                self._nothing()

        def dict_get(n: int) -> None:
            item = {"sample_rate": 16000, "channels": 1}
            for _ in range(n):
                _ = item["sample_rate"]

        def array_from_list(n: int) -> None:
            from array import array

            floats = [0.25] * 1000
            for _ in range(n // 1000):
                array("f", floats)

        def list_from_array(n: int) -> None:
            from array import array

            samples = array("f", [0.25] * 1000)
            for _ in range(n // 1000):
                list(samples)

        return [("int add", int_add), ("int multiply-add-modulo", int_mul_mod), ("divmod(int, int)", divmod_int),
                ("int / int (true division)", true_div_int), ("float multiply-add", float_arith),
                ("list index", list_index), ("list append", list_append), ("range(2) inner loop", small_range_loop),
                ("module global load", global_load), ("attribute load", attribute_load),
                ("method call", method_call), ("dict item load", dict_get),
                ("array('f', list), per element", array_from_list), ("list(array), per element", list_from_array)]

    def _nothing(self) -> None:
        return None


def _best_of(time: Any, operation: Any, n: int, tries: int = 3) -> float:
    """Nanoseconds per iteration of `operation(n)`, the best of `tries` (least disturbed) runs."""
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        operation(n)
        best = min(best, (time.perf_counter() - started) / n * 1e9)
    return best
