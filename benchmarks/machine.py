"""The machine and toolchain a run was measured on, for the results' header."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path


def describe() -> dict[str, str]:
    """Cores, CPU model, memory, OS, compiler and interpreter versions, and the load at the start."""
    return {
        "cpu_model": _cpu_model(),
        "cores": str(os.cpu_count()),
        "cores_usable": str(len(os.sched_getaffinity(0))),
        "memory": _memory(),
        "os": _os_name(),
        "kernel": platform.release(),
        "rustc": _version(["rustc", "--version"]),
        "cargo": _version(["cargo", "--version"]),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "load_average_at_start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return f"{kib / 1024 / 1024:.1f} GiB"
    return "unknown"


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()


def _version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip() or "unknown"
    except OSError:
        return "not found"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""
