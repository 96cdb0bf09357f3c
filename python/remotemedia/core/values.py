"""The values that flow between nodes, and their canonical JSON form.

Items are None, bool, int, float, str, bytes, list, tuple, dict with str keys, or `array.array`.
The Rust runtime mirrors exactly these, so a pipeline behaves the same in every engine.
`to_jsonable` is the one JSON form of an item: the runtime writes its JSON Lines output the same
way, which is what lets tests compare engines output for output.
"""

from __future__ import annotations

import math
import struct
from array import array
from typing import Any

BYTES_KEY = "$bytes"
"""A JSON object `{"$bytes": "<base64>"}` stands for a bytes value."""


def to_jsonable(value: Any) -> Any:
    """Return the canonical JSON-compatible form of an item.

    bytes become `{"$bytes": "<base64>"}`; tuples and arrays become lists; dicts keep their order.
    Non-finite floats become None because JSON has no NaN or infinity (the runtime writes null too).
    Elements of float32 arrays are written with the shortest decimal that reads back as the same
    float32 — as the runtime writes them — instead of the longer double expansion.

    Raises TypeError naming the offending type (and dict key) for anything else.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        import base64

        return {BYTES_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"dict key {key!r} is a {type(key).__name__}; only str keys have a JSON form")
            converted[key] = to_jsonable(item)
        return converted
    if isinstance(value, array):
        if value.typecode == "f":
            return [_shortest_float32(item) for item in value]
        return [to_jsonable(item) for item in value]
    raise TypeError(
        f"a {type(value).__name__} has no JSON form (supported: None, bool, int, float, str, "
        "bytes, list, tuple, dict with str keys, array.array)"
    )


def from_jsonable(value: Any) -> Any:
    """Undo `to_jsonable` where it is reversible: `{"$bytes": ...}` objects become bytes again."""
    if isinstance(value, list):
        return [from_jsonable(item) for item in value]
    if isinstance(value, dict):
        encoded = value.get(BYTES_KEY)
        if len(value) == 1 and isinstance(encoded, str):
            import base64

            return base64.b64decode(encoded.encode("ascii"), validate=True)
        return {key: from_jsonable(item) for key, item in value.items()}
    return value


def _shortest_float32(value: float) -> float | None:
    """The float whose shortest decimal form reads back as the same float32 as `value`."""
    if not math.isfinite(value):
        return None
    packed = struct.pack("<f", value)
    for digits in range(1, 9):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return float(f"{value:.9g}")  # nine significant digits always identify a float32
