"""Clear errors inside a sandboxed worker (docs/isolation.md).

The sandbox itself is the kernel's: Landlock and a seccomp filter, entered by the runtime before
any node code is imported, refuse file access outside the Python path, network sockets and new
processes whatever the Python code does. What they cannot do is say *what* was refused: a refused
`fork` is a bare `PermissionError: [Errno 1] Operation not permitted`. In CPython this audit hook
refuses the same actions one step earlier, as a `PermissionError` that names the action. It is a
courtesy, not a boundary (native code bypasses audit hooks; the kernel does not let it through).

The runtime starts sandboxed workers with REMOTEMEDIA_SANDBOX=1; `remotemedia` installs the hook
when it is imported there. RustPython has no audit hooks: its nodes get the kernel's errors.
"""

from __future__ import annotations

import sys
from typing import Any

SANDBOX_VARIABLE = "REMOTEMEDIA_SANDBOX"

# Audit event -> the action refused, for the message.
_REFUSED = {
    "socket.connect": "connecting a network socket",
    "socket.bind": "binding a network socket",
    "socket.getaddrinfo": "resolving a host name",
    "subprocess.Popen": "starting a process (subprocess)",
    "os.system": "starting a process (os.system)",
    "os.exec": "starting a program (os.exec*)",
    "os.posix_spawn": "starting a process (os.posix_spawn)",
    "os.spawn": "starting a process (os.spawn*)",
    "os.fork": "creating a process (os.fork)",
    "os.forkpty": "creating a process (os.forkpty)",
    "ctypes.dlopen": "loading a native library (ctypes)",
}

# socket.__new__ is also raised for the Unix socket pairs asyncio makes for itself, which reach
# nothing outside the process: only other families are refused.
_AF_UNIX = 1


def _hook(event: str, args: tuple[Any, ...]) -> None:
    action = _REFUSED.get(event)
    if action is None and event == "socket.__new__" and len(args) > 1 and args[1] not in (_AF_UNIX, -1):
        action = "opening a network socket"
    if action is not None:
        raise PermissionError(f"the sandbox refuses {action}: {event}{args[1:] if event == 'socket.__new__' else ''}")


def install_audit_hook() -> None:
    """Refuse the sandbox's forbidden actions with a named PermissionError (CPython only)."""
    add = getattr(sys, "addaudithook", None)
    if add is not None and getattr(sys, "implementation", None) is not None and sys.implementation.name == "cpython":
        add(_hook)
