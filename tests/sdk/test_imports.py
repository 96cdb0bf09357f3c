"""Every module of the package imports on its own, in a fresh interpreter: no import circle hides
behind an import order that happens to work, and no module pulls in a heavy library (the embedded
interpreter imports the SDK at start-up; nodes import numpy, torch … only when they initialize)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "remotemedia"
HEAVY = ("numpy", "torch", "onnxruntime", "faster_whisper", "ctranslate2", "transformers", "whisper", "ray",
         "webrtcvad", "jsonschema")
# Modules whose job is to talk to a heavy library at import time; none today.
ALLOWED_HEAVY: dict[str, tuple[str, ...]] = {"remotemedia.manifest": ("jsonschema",)}


def modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] != "__main__":
            names.append(".".join(parts))
    return names


PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(",".join(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


@pytest.mark.parametrize("module", modules())
def test_imports_alone_and_light(module: str, run_python):
    done = run_python("-c", PROBE.format(heavy=HEAVY), module, check=False)
    assert done.returncode == 0, f"`import {module}` on its own fails:\n{done.stderr}"
    heavy = {name for name in done.stdout.strip().split(",") if name} - set(ALLOWED_HEAVY.get(module, ()))
    assert not heavy, f"`import {module}` imports {sorted(heavy)}"


def test_every_module_is_found():
    found = modules()
    assert "remotemedia.engine_api" in found and "remotemedia.local.run" in found and len(found) > 30, found
