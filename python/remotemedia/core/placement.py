"""What a node's class tells the runtime's placement about the Python engine it needs.

The runtime asks this inside its embedded RustPython interpreter for every node left to
`runtime_hint: auto`:

- a class that declares `runtime_hint = "cpython"` (the way a node says "I need C extensions such
  as numpy") runs in CPython;
- a module that exists but fails to import in RustPython — because something it imports is a
  compiled extension, or a package only the CPython installation has — runs in CPython too;
- anything else is pure Python and stays in RustPython.
"""

from __future__ import annotations


def class_engine(node_type: str, module: str | None = None) -> tuple[str, str]:
    """Classify a node's class: `(verdict, detail)`.

    verdict is "declares" (detail: the declared engine), "pure", "import-fails" (detail: the
    import error) or "not-found" (detail: why the class cannot be loaded at all).
    """
    from remotemedia.nodes import catalogue, load_node_class

    target = node_type.partition(":")[0] if ":" in node_type else module or catalogue().get(node_type)
    try:
        cls = load_node_class(node_type, module)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal here
        cause = exc.__cause__ if isinstance(exc.__cause__, ImportError) else exc
        if not isinstance(cause, ImportError):
            return "not-found", f"{type(exc).__name__}: {exc}"
        missing = getattr(cause, "name", None) or ""
        own_module = bool(target) and isinstance(cause, ModuleNotFoundError) and (
            target == missing or target.startswith(missing + ".")
        )
        return ("not-found" if own_module else "import-fails"), f"{type(cause).__name__}: {cause}"
    hint = getattr(cls, "runtime_hint", None)
    if hint in ("cpython", "rustpython"):
        return "declares", hint
    return "pure", ""
