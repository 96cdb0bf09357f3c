"""Checks shared by the isolation tests (a module of its own: `conftest` names clash when several
test folders are collected together)."""

from __future__ import annotations

import re
from pathlib import Path


def worker_pids(text: str) -> set[int]:
    """The worker process ids an error message names (`(pid 1234)`)."""
    return {int(pid) for pid in re.findall(r"\(pid (\d+)\)", text)}


def alive(pid: int) -> bool:
    """Whether a process `pid` exists and is not a zombie (checked in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "State:\tZ" not in status
