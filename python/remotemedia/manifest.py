"""Validating pipeline manifests in Python, with the same rules as the runtime.

First the JSON Schema (schemas/manifest.v1.json, shipped inside this package), then the checks a
schema cannot express: unique node ids, connections between existing nodes, no self-loop, no
cycle, host ports in 1-65535. All problems are reported at once, each with the JSON pointer
(RFC 6901) of where it is, so a user fixes a manifest in one pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from remotemedia.core.exceptions import ConfigurationError, InvalidManifestError

SCHEMA_PATH = Path(__file__).with_name("schemas") / "manifest.v1.json"

_HOST_PORT = re.compile(r"^(?:\[[^\]]*\]|[^:]*):([0-9]+)$")
_FRIENDLY_PATTERN_MESSAGES = {
    "id": "a node id may only contain letters, digits, '_', '.' and '-'",
    "host": "host must be 'host:port' (an IPv6 address in brackets)",
    "created_at": "created_at must be an ISO 8601 UTC timestamp ending in Z, e.g. 2025-10-22T12:00:00Z",
    "module": "module must be a dotted Python module path",
}


@dataclass(frozen=True)
class ValidationError:
    """One problem in a manifest: where (`pointer`, "" for the whole document) and what."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '(root)'}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}


def validate(manifest: dict[str, Any] | str | bytes) -> list[ValidationError]:
    """Every problem in `manifest` (a parsed document, or JSON text); empty when it is valid."""
    document, errors = _parse(manifest)
    if errors:
        return errors
    return _schema_errors(document) + _semantic_errors(document)


def require_valid(manifest: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """The parsed manifest, or InvalidManifestError listing every problem."""
    document, errors = _parse(manifest)
    errors = errors or _schema_errors(document) + _semantic_errors(document)
    if errors:
        raise InvalidManifestError(errors)
    return document


def load_schema() -> dict[str, Any]:
    """The manifest v1 JSON Schema."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _parse(manifest: Any) -> tuple[Any, list[ValidationError]]:
    if not isinstance(manifest, (str, bytes, bytearray)):
        return manifest, []
    try:
        text = manifest.decode("utf-8") if isinstance(manifest, (bytes, bytearray)) else manifest
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [ValidationError("", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
    except UnicodeDecodeError as exc:
        return None, [ValidationError("", f"the manifest is not UTF-8 text: {exc}")]
    except RecursionError:
        return None, [ValidationError("", "JSON nested too deeply to read")]


def _schema_errors(document: Any) -> list[ValidationError]:
    try:
        import jsonschema
    except ImportError as exc:
        raise ConfigurationError("manifest validation needs the jsonschema package: pip install jsonschema") from exc
    validator = jsonschema.Draft7Validator(load_schema())
    try:
        raw = sorted(validator.iter_errors(document), key=lambda error: _sort_key(error.absolute_path))
    except RecursionError:
        return [ValidationError("", "the manifest is nested too deeply to validate")]
    return [error for raw_error in raw for error in _explain(raw_error)]


def _explain(error: Any) -> Iterator[ValidationError]:
    """Turn a jsonschema error into messages that say what to fix, without echoing huge values."""
    path = list(error.absolute_path)
    pointer = to_pointer(path)
    field = path[-1] if path and isinstance(path[-1], str) else None
    kind = error.validator
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in known:
                yield ValidationError(to_pointer([*path, key]), f"unknown field '{key}'{_did_you_mean(key, known)}")
        return
    if kind == "type":
        yield ValidationError(pointer, f"expected {_type_names(error.validator_value)}, got {_json_type(error.instance)}")
    elif kind == "const":
        yield ValidationError(pointer, f"must be {json.dumps(error.validator_value)}, got {_short(error.instance)}")
    elif kind == "enum":
        choices = ", ".join(json.dumps(choice) for choice in error.validator_value)
        yield ValidationError(pointer, f"must be one of {choices}, got {_short(error.instance)}")
    elif kind == "pattern" and field in _FRIENDLY_PATTERN_MESSAGES:
        yield ValidationError(pointer, f"{_FRIENDLY_PATTERN_MESSAGES[field]}, got {_short(error.instance)}")
    elif kind == "minItems" and error.validator_value == 1:
        yield ValidationError(pointer, "must not be empty")
    else:
        yield ValidationError(pointer, _truncate(error.message))


def _semantic_errors(document: Any) -> list[ValidationError]:
    """Checks a schema cannot express. Tolerates malformed parts, which the schema already reported."""
    if not isinstance(document, dict):
        return []
    errors: list[ValidationError] = []
    nodes = document.get("nodes") if isinstance(document.get("nodes"), list) else []
    first_seen: dict[str, int] = {}
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        node_id = node.get("id")
        if isinstance(node_id, str):
            if node_id in first_seen:
                errors.append(ValidationError(
                    f"/nodes/{index}/id", f"duplicate node id '{node_id}' (first at /nodes/{first_seen[node_id]}/id)"))
            else:
                first_seen[node_id] = index
        host = node.get("host")
        match = _HOST_PORT.match(host) if isinstance(host, str) else None
        if match and not 1 <= int(match.group(1)) <= 65535:
            errors.append(ValidationError(f"/nodes/{index}/host", f"port {int(match.group(1))} is outside 1-65535"))
    edges: list[tuple[str, str, int]] = []
    connections = document.get("connections") if isinstance(document.get("connections"), list) else []
    for index, connection in enumerate(connections):
        if not isinstance(connection, dict):
            continue
        source, target = connection.get("from"), connection.get("to")
        usable = True
        for end, node_id in (("from", source), ("to", target)):
            if isinstance(node_id, str) and node_id not in first_seen:
                errors.append(ValidationError(f"/connections/{index}/{end}", f"no node has id '{node_id}'"))
                usable = False
        if not (isinstance(source, str) and isinstance(target, str)) or not usable:
            continue
        if source == target:
            errors.append(ValidationError(f"/connections/{index}", f"node '{source}' is connected to itself"))
        else:
            edges.append((source, target, index))
    errors.extend(_cycle_errors(edges))
    return errors


def _cycle_errors(edges: list[tuple[str, str, int]]) -> list[ValidationError]:
    """One error per cycle (strongly connected group of nodes), naming its nodes in cycle order."""
    successors: dict[str, list[str]] = {}
    for source, target, _ in edges:
        successors.setdefault(source, []).append(target)
        successors.setdefault(target, [])
    errors = []
    for component in _strongly_connected(successors):
        if len(component) < 2:
            continue
        members = set(component)
        cycle = _cycle_through(min(component), successors, members)
        first_edge = min(index for source, target, index in edges if source in members and target in members)
        errors.append(ValidationError(f"/connections/{first_edge}", "cycle: " + " -> ".join(cycle)))
    return errors


def _strongly_connected(successors: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so a long chain cannot exhaust Python's recursion limit."""
    index_of: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in successors:
        if root in index_of:
            continue
        work = [(root, iter(successors[root]))]
        index_of[root] = lowlink[root] = len(index_of)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index_of[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
            elif child not in index_of:
                index_of[child] = lowlink[child] = len(index_of)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(successors[child])))
            elif child in on_stack:
                lowlink[node] = min(lowlink[node], index_of[child])
    return components


def _cycle_through(start: str, successors: dict[str, list[str]], members: set[str]) -> list[str]:
    """A cycle start -> ... -> start inside one strongly connected group (breadth-first: shortest)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for child in successors[node]:
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child in members and child not in previous:
                    previous[child] = node
                    next_frontier.append(child)
        frontier = next_frontier
    raise AssertionError(f"no cycle through '{start}' in a strongly connected group")


def to_pointer(path: list[Any]) -> str:
    """RFC 6901 JSON pointer for a path of keys and indexes."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _sort_key(path: Any) -> list[tuple[int, Any]]:
    return [(0, part) if isinstance(part, int) else (1, str(part)) for part in path]


def _did_you_mean(key: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_names(expected: Any) -> str:
    names = {"object": "an object", "array": "an array", "string": "a string", "number": "a number",
             "integer": "an integer", "boolean": "true or false", "null": "null"}
    expected = expected if isinstance(expected, list) else [expected]
    return " or ".join(names.get(name, name) for name in expected)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return _truncate(json.dumps(value, ensure_ascii=False, default=repr), 80)


def _truncate(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
