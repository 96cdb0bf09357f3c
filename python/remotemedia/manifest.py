"""Validating pipeline manifests in Python, with the same rules as the runtime.

First the JSON Schema (schemas/manifest.v1.json, shipped inside this package), then the checks a
schema cannot express: nodes in the upstream SDK's remote form that cannot be rewritten
(`remotemedia.upstream`), unique node ids, connections between existing nodes, no self-loop, no
cycle, host ports in 1-65535. All problems are reported at once, each with the JSON pointer
(RFC 6901) of where it is, so a user fixes a manifest in one pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotemedia.core.exceptions import ConfigurationError, InvalidManifestError

SCHEMA_PATH = Path(__file__).with_name("schemas") / "manifest.v1.json"

MAX_NESTING_DEPTH = 127
"""Arrays and objects nested in each other, the root included: the runtime's JSON parser limit."""

_HOST_PORT = re.compile(r"^(?:\[[^\]]*\]|[^:]*):([0-9]+)$")  # the schema allows a bare host; the runtime does not
_PATTERN_HINTS = {
    "id": "a node id may only contain letters, digits, '_', '.' and '-'",
    "host": "host must be 'host:port' (an IPv6 address in brackets)",
    "created_at": "created_at must be an RFC 3339 timestamp ending in Z or +HH:MM, e.g. 2025-10-22T12:00:00Z",
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
    return errors or _check(document)


def require_valid(manifest: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """The parsed manifest, or InvalidManifestError listing every problem.

    As the runtime loads it: a node in the upstream SDK's remote form is the node it runs
    (`remotemedia.upstream`).
    """
    from remotemedia import upstream

    document, errors = _parse(manifest)
    errors = errors or _check(document)
    if errors:
        raise InvalidManifestError(errors)
    return upstream.rewritten(document)


def _check(document: Any) -> list[ValidationError]:
    """As the runtime does: refuse a too-deep document, then the schema, then — only on a
    document whose structure is sound — the graph rules, so both report the same errors."""
    too_deep = _first_too_deep(document)
    if too_deep is not None:
        return [ValidationError(too_deep, f"nested more than {MAX_NESTING_DEPTH} arrays and objects deep")]
    return _schema_errors(document) or _semantic_errors(document)


def load_schema() -> dict[str, Any]:
    """The manifest v1 JSON Schema."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _parse(manifest: Any) -> tuple[Any, list[ValidationError]]:
    if not isinstance(manifest, (str, bytes, bytearray)):
        return manifest, []
    try:
        text = manifest.decode("utf-8") if isinstance(manifest, (bytes, bytearray)) else manifest
    except UnicodeDecodeError as exc:
        return None, [ValidationError("", f"the manifest is not UTF-8 text: {exc}")]
    text = text.removeprefix("\ufeff")  # a byte order mark, as some Windows editors write (the binary skips it too)
    if not text.strip():
        return None, [ValidationError("", "the manifest is empty; expected a JSON object")]
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [ValidationError("", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
    except RecursionError:
        return None, [
            ValidationError("", f"malformed JSON: nested more than {MAX_NESTING_DEPTH} arrays and objects deep")
        ]


def _first_too_deep(document: Any) -> str | None:
    """Pointer of the first container nested deeper than MAX_NESTING_DEPTH (iterative walk)."""
    stack: list[tuple[Any, list[Any], int]] = [(document, [], 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_NESTING_DEPTH:
                return to_pointer(path)
            children = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((child, [*path, key], depth + 1) for key, child in reversed(list(children)))
    return None


def _schema_errors(document: Any) -> list[ValidationError]:
    try:
        import jsonschema
    except ImportError as exc:
        raise ConfigurationError("manifest validation needs the jsonschema package: pip install jsonschema") from exc
    validator = jsonschema.Draft7Validator(load_schema())
    errors = [error for raw in validator.iter_errors(document) for error in _explain(raw)]
    return sorted(errors, key=lambda error: _document_order(error.pointer))


def _explain(error: Any) -> Iterator[ValidationError]:
    """Turn a jsonschema error into a message that says what to fix, without echoing large values
    (the runtime words its messages the same way)."""
    path = list(error.absolute_path)
    pointer = to_pointer(path)
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        for key in instance:
            if key not in known:
                yield ValidationError(to_pointer([*path, key]), f"unknown field '{key}'{_did_you_mean(key, known)}")
        return
    if kind == "required":
        missing = [name for name in expected if name not in instance]
        for name in missing:
            yield ValidationError(pointer, f"missing required field '{name}'")
        return
    if kind == "type":
        names = [str(name) for name in (expected if isinstance(expected, list) else [expected])]
        message = f"expected {' or '.join(_TYPE_NAMES.get(name, name) for name in names)}, got {_summary(instance)}"
    elif kind == "const":
        message = f"must be {json.dumps(expected)}, got {_summary(instance)}"
    elif kind == "enum":
        message = f"must be one of {', '.join(json.dumps(choice) for choice in expected)}, got {_summary(instance)}"
    elif kind in ("minItems", "minLength") and expected == 1:
        message = "must not be empty"
    elif kind == "minItems":
        message = f"must have at least {expected} items"
    elif kind == "minLength":
        message = f"must be at least {expected} characters long"
    elif kind == "maxLength":
        message = f"must be at most {expected} characters long, got {len(instance)}"
    elif kind == "minimum":
        message = f"must be at least {expected}, got {_summary(instance)}"
    elif kind == "pattern":
        field = path[-1] if path else ""
        hint = _PATTERN_HINTS.get(field, f"must match the pattern {expected}")
        message = f"{hint}, got {_summary(instance)}"
    else:
        message = _truncate(error.message, 300)
    yield ValidationError(pointer, message)


def _semantic_errors(document: dict[str, Any]) -> list[ValidationError]:
    """Checks a schema cannot express, on a document the schema accepted (so its shape is known):
    nodes in the upstream SDK's remote form that cannot be rewritten first, then the graph rules."""
    from remotemedia import upstream

    errors: list[ValidationError] = [
        error
        for index, node in enumerate(document["nodes"])
        if upstream.is_upstream_remote(node)
        for error in upstream.errors(index, node)
    ]
    first_seen: dict[str, int] = {}
    for index, node in enumerate(document["nodes"]):
        node_id = node["id"]
        if node_id in first_seen:
            errors.append(
                ValidationError(
                    f"/nodes/{index}/id", f"duplicate node id '{node_id}' (first at /nodes/{first_seen[node_id]}/id)"
                )
            )
        else:
            first_seen[node_id] = index
        host = node.get("host")
        if host is not None:
            match = _HOST_PORT.match(host)
            if match is None:
                errors.append(ValidationError(f"/nodes/{index}/host", "host must be 'host:port'"))
            elif not 1 <= int(match.group(1)) <= 65535:
                errors.append(ValidationError(f"/nodes/{index}/host", f"port {int(match.group(1))} is outside 1-65535"))
    edges: list[tuple[str, str, int]] = []
    for index, connection in enumerate(document.get("connections", [])):
        source, target = connection["from"], connection["to"]
        known = True
        for end, node_id in (("from", source), ("to", target)):
            if node_id not in first_seen:
                errors.append(ValidationError(f"/connections/{index}/{end}", f"no node has id '{node_id}'"))
                known = False
        if not known:
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


def _document_order(pointer: str) -> list[tuple[int, int, str]]:
    """Parents first, array items by index — the order the document reads in."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in pointer.split("/")[1:]]


def _did_you_mean(key: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


def _summary(value: Any) -> str:
    """What a value is, short enough for a one-line message: containers by kind, scalars as written."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"the number {json.dumps(value)}"
    return f"the string {_truncate(json.dumps(value, ensure_ascii=False), 80)}"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
