"""Clear errors inside a sandboxed worker (docs/isolation.md).

The sandbox itself is the kernel's: Landlock and a seccomp filter, entered by the runtime before
any node code is imported, refuse file access outside the Python path, network sockets and new
processes whatever the Python code does. What they cannot do is say *what* was refused: a refused
`fork` is a bare `PermissionError: [Errno 1] Operation not permitted`. In CPython this audit hook
refuses the same actions one step earlier, as a `PermissionError` that names the action. It is a
courtesy, not a boundary (native code bypasses audit hooks; the kernel does not let it through).

RustPython has no audit hooks: there the same functions are replaced by ones that raise the named
`PermissionError` (code that reached the system calls another way still meets the kernel's refusal).

The runtime starts sandboxed workers with REMOTEMEDIA_SANDBOX=1; `remotemedia` installs these
when it is imported there, before any node's module.
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


def install_named_refusals() -> None:
    """Refuse the sandbox's forbidden actions with a PermissionError naming them: an audit hook in
    CPython, replaced functions in interpreters without audit hooks (RustPython)."""
    if sys.implementation.name == "cpython":
        sys.addaudithook(_hook)
    else:
        _replace_refused_functions()


# os functions -> the audit event CPython raises for them (the key of _REFUSED).
_OS_FUNCTIONS = {
    "system": "os.system",
    "fork": "os.fork",
    "forkpty": "os.forkpty",
    "posix_spawn": "os.posix_spawn",
    "posix_spawnp": "os.posix_spawn",
    **{name: "os.exec" for name in ("execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe")},
    **{name: "os.spawn" for name in ("spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp")},
}


def _refusal(event: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(f"the sandbox refuses {_REFUSED[event]}: {event}")

    return refused


def _replace_refused_functions() -> None:
    import os
    import socket
    import subprocess

    for name, event in _OS_FUNCTIONS.items():
        if hasattr(os, name):
            setattr(os, name, _refusal(event))
    subprocess.Popen.__init__ = _refusal("subprocess.Popen")
    socket.getaddrinfo = _refusal("socket.getaddrinfo")
    socket.create_connection = _refusal("socket.connect")
    opened = socket.socket.__init__

    def open_socket(self: socket.socket, family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None) -> None:
        # As the audit hook: Unix sockets reach nothing by themselves (the kernel decides).
        if fileno is None and family != _AF_UNIX:
            raise PermissionError(f"the sandbox refuses opening a network socket: socket.socket{(family, type, proto)}")
        opened(self, family, type, proto, fileno)

    socket.socket.__init__ = open_socket
