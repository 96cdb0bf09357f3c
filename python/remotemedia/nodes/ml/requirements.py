"""Helpers shared by the ML nodes: importing optional dependencies and describing GPU needs."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from remotemedia.core.exceptions import ConfigurationError

DEVICES = ("auto", "cpu", "cuda")


def import_dependency(module: str, package: str, node: str) -> ModuleType:
    """Import an optional dependency, or say exactly what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"{node} needs the '{package}' package, which is not installed: pip install {package}"
        ) from exc


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise ConfigurationError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    return device


def gpu_capabilities(device: str, min_memory_gb: float, memory_gb: float) -> dict[str, Any] | None:
    """Capabilities for a model that fits in `min_memory_gb` of GPU memory.

    device "cpu" asks for no GPU; "cuda" requires one; "auto" prefers one but runs without.
    """
    if device == "cpu":
        return {"memory_gb": memory_gb}
    gpu = {"type": "cuda", "min_memory_gb": min_memory_gb, "required": device == "cuda"}
    return {"gpu": gpu, "memory_gb": memory_gb}


def resolve_device(device: str, torch: Any) -> str:
    """The torch device to load on: "auto" picks CUDA when torch sees one."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
