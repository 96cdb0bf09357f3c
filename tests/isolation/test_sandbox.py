"""The sandbox through the real binary: a node that tries to reach the machine is refused with the
documented error (docs/isolation.md), in CPython (where an audit hook names the action) and in
RustPython (where the kernel's error is all there is); a well-behaved node gives the same outputs
sandboxed as not."""

from __future__ import annotations

import contextlib
import errno
import json
import platform
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from isolation_helpers import alive, worker_pids

EXIT_FAILURE = 1

ATTEMPTS_MODULE = textwrap.dedent(
    '''
    import os

    from remotemedia.core.node import Node


    class Attempt(Node):
        """Tries `action` on every item; outputs what it got if the sandbox let it through."""

        def __init__(self, action: str, target: str = "", **kwargs):
            super().__init__(**kwargs)
            self.action = action
            self.target = target

        def process(self, item):
            action, target = self.action, self.target
            if action == "read_passwd":
                with open("/etc/passwd") as file:
                    return file.read()
            if action == "write_file":
                with open(target, "w") as file:
                    file.write("escaped")
                return "written"
            if action == "connect":
                import socket
                host, port = target.split(":")
                connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                connection.connect((host, int(port)))
                return "connected"
            if action == "raw_socket":
                import _socket
                _socket.socket(2, 1)  # AF_INET, SOCK_STREAM, beneath the socket module
                return "opened"
            if action == "raw_fork":
                import posix
                pid = posix.fork()  # beneath os.fork
                if pid == 0:
                    posix._exit(0)
                return "forked"
            if action == "subprocess":
                import subprocess
                return subprocess.run(["/bin/true"]).returncode
            if action == "fork":
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                return "forked"
            if action == "ctypes":
                import ctypes
                ctypes.CDLL(target)
                return "loaded"
            if action == "environment":
                return {key: value for key, value in os.environ.items() if "SECRET" in key}
            if action == "parent_environment":
                with open(f"/proc/{os.getppid()}/environ", "rb") as file:
                    return file.read().decode(errors="replace")
            if action == "allocate":
                return len(bytearray(10 * 1024 * 1024 * 1024))
            if action == "spin":
                while True:
                    pass
            if action == "compute":
                # Well-behaved: reads a data file beside its module (on the Python path).
                here = os.path.dirname(__file__)
                with open(os.path.join(here, "weights.json")) as file:
                    weights = __import__("json").load(file)
                return sum(w * item for w in weights) + len(os.environ.get("HOME", "")) * 0
            raise ValueError(action)
    '''
)


@pytest.fixture
def attempts_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "sandboxed"
    directory.mkdir()
    (directory / "attempts.py").write_text(ATTEMPTS_MODULE)
    (directory / "weights.json").write_text("[1, 2, 3.5]")
    return directory


@pytest.fixture
def attempt(run_remotemedia, chain, attempts_dir, tmp_path, cpython_env):
    """Runs one `Attempt` node, sandboxed, on the engine given, after an in-process node; checks
    that no worker is left."""

    def run(action: str, engine: str, target: str = "", args: tuple[str, ...] = (), env: dict | None = None):
        nodes = [
            {"id": "source", "node_type": "PassThroughNode"},
            {
                "id": "attempt",
                "node_type": "Attempt",
                "module": "attempts",
                "runtime_hint": engine,
                "isolation": "sandbox",
                "params": {"action": action, "target": target},
            },
        ]
        path = chain(nodes, name=f"{action}-{engine}")
        result = run_remotemedia(
            "run",
            path,
            "--input",
            "1",
            "--python-path",
            attempts_dir,
            *args,
            env={**cpython_env, **(env or {})},
        )
        for pid in worker_pids(result.stderr):
            assert not alive(pid), f"worker {pid} left behind"
        return result

    return run


ENGINES = ["cpython", "rustpython"]


def refused(result, *expected: str) -> str:
    """Asserts the node failed with a PermissionError (and each of `expected`) and wrote nothing."""
    assert result.returncode == EXIT_FAILURE, result.stdout + result.stderr
    error = result.stderr
    assert "node `attempt` failed in process: PermissionError" in error, error
    for text in expected:
        assert text in error, error
    assert result.stdout == ""
    return error


@pytest.mark.parametrize("engine", ENGINES)
def test_reading_outside_the_python_path_is_refused(engine, attempt) -> None:
    refused(attempt("read_passwd", engine), "Permission denied", "/etc/passwd")


@pytest.mark.parametrize("engine", ENGINES)
def test_writing_a_file_is_refused(engine, attempt, tmp_path) -> None:
    target = tmp_path / "escaped.txt"
    refused(attempt("write_file", engine, target=str(target)), "Permission denied")
    assert not target.exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_connecting_a_socket_is_refused(engine, attempt) -> None:
    accepted: list[socket.socket] = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]

        def accept() -> None:
            with contextlib.suppress(OSError):
                accepted.append(listener.accept()[0])

        error = refused(attempt("connect", engine, target=f"127.0.0.1:{port}"))
        accept()
    # Named in both engines: CPython's audit hook, RustPython's replaced functions.
    assert "the sandbox refuses opening a network socket" in error
    assert accepted == [], "the listener got a connection"


@pytest.mark.parametrize("engine", ENGINES)
def test_starting_a_process_is_refused(engine, attempt) -> None:
    error = refused(attempt("subprocess", engine))
    assert "the sandbox refuses starting a process (subprocess)" in error


@pytest.mark.parametrize("engine", ENGINES)
def test_forking_is_refused(engine, attempt) -> None:
    error = refused(attempt("fork", engine))
    assert "the sandbox refuses creating a process (os.fork)" in error


@pytest.mark.parametrize("action", ["raw_socket", "raw_fork"])
def test_the_kernel_refuses_what_gets_past_the_named_refusals(action, attempt) -> None:
    """The named refusals are a courtesy: in RustPython, calling the modules beneath the replaced
    functions reaches the system call, which the seccomp filter refuses all the same."""
    refused(attempt(action, "rustpython"), "Operation not permitted")


def test_loading_a_native_library_with_ctypes_is_refused(attempt) -> None:
    """CPython: the audit hook names it. (The embedded RustPython has no ctypes at all.)"""
    refused(attempt("ctypes", "cpython", target="libsqlite3.so.0"), "the sandbox refuses loading a native library")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_parents_environment_is_not_inherited(engine, attempt) -> None:
    result = attempt("environment", engine, env={"SANDBOX_SECRET": "hunter2"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}
    error = refused(attempt("parent_environment", engine, env={"SANDBOX_SECRET": "hunter2"}), "Permission denied")
    assert "hunter2" not in error


@pytest.mark.parametrize("engine", ENGINES)
def test_allocating_10_gb_fails_with_memory_error(engine, attempt) -> None:
    result = attempt("allocate", engine)
    assert result.returncode == EXIT_FAILURE
    assert "node `attempt` failed in process: MemoryError" in result.stderr


@pytest.mark.parametrize("engine", ENGINES)
def test_spinning_forever_is_stopped_by_the_cpu_limit(engine, attempt) -> None:
    result = attempt("spin", engine, args=("--cpu-limit", "2"))
    assert result.returncode == EXIT_FAILURE
    assert "node `attempt` failed in process" in result.stderr
    assert "SIGXCPU" in result.stderr and "(limit: 2 s)" in result.stderr


@pytest.mark.parametrize("engine", ENGINES)
def test_a_well_behaved_node_gives_the_same_outputs_sandboxed(
    engine, run_remotemedia, chain, attempts_dir, cpython_env
) -> None:
    node = {
        "id": "compute",
        "node_type": "Attempt",
        "module": "attempts",
        "runtime_hint": engine,
        "params": {"action": "compute"},
    }
    inputs = [a for i in (1, 2, 5) for a in ("--input", str(i))]
    plain = run_remotemedia("run", chain([node], name="plain"), *inputs, "--python-path", attempts_dir, env=cpython_env)
    sandboxed = run_remotemedia(
        "run",
        chain([{**node, "isolation": "sandbox"}], name="sandboxed"),
        *inputs,
        "--python-path",
        attempts_dir,
        env=cpython_env,
    )
    switched = run_remotemedia(
        "run",
        chain([node], name="switched"),
        *inputs,
        "--python-path",
        attempts_dir,
        "--sandbox",
        env=cpython_env,
    )
    assert plain.returncode == sandboxed.returncode == switched.returncode == 0, sandboxed.stderr + switched.stderr
    assert plain.stdout == sandboxed.stdout == switched.stdout == "6.5\n13.0\n32.5\n"


WITHOUT_LANDLOCK = textwrap.dedent(
    """
    import ctypes, os, sys

    # struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }: load the call's number, compare it with
    # landlock_create_ruleset (444 on every architecture), answer the errno given, or let it through.
    error = int(sys.argv[1])
    program = (ctypes.c_uint64 * 4)(*(
        code | jt << 16 | jf << 24 | k << 32
        for code, jt, jf, k in [
            (0x20, 0, 0, 0),                    # BPF_LD | BPF_W | BPF_ABS: seccomp_data.nr
            (0x15, 0, 1, 444),                  # BPF_JMP | BPF_JEQ | BPF_K
            (0x06, 0, 0, 0x0005_0000 | error),  # BPF_RET: SECCOMP_RET_ERRNO | error
            (0x06, 0, 0, 0x7FFF_0000),          # BPF_RET: SECCOMP_RET_ALLOW
        ]
    ))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or libc.prctl(
        PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(SockFprog(4, ctypes.addressof(program))), 0, 0
    ):
        sys.exit(f"cannot install the test's seccomp filter: {os.strerror(ctypes.get_errno())}")
    os.execv(sys.argv[2], sys.argv[2:])
    """
)
"""Runs `argv[2:]` with `landlock_create_ruleset` answering `argv[1]` (an errno), as a kernel without
Landlock would: a seccomp filter, installed by this fresh interpreter and kept across exec."""


@pytest.mark.skipif(platform.system() != "Linux", reason="Landlock and seccomp are Linux's")
@pytest.mark.parametrize(
    ("error", "reason"),
    [(errno.ENOSYS, "the kernel predates Landlock"), (errno.EOPNOTSUPP, "Landlock is built in but not enabled")],
    ids=["kernel-without-landlock", "landlock-not-enabled"],
)
def test_without_landlock_the_sandbox_is_refused_not_weakened(
    error, reason, remotemedia_bin, binary_env, chain, attempts_dir, cpython_env
) -> None:
    """The documented fallback: where the kernel offers no Landlock, a sandboxed node fails before
    its worker starts, naming why (exit 1, nothing written); the same run unsandboxed, under the
    same filter, works, so it is the sandbox that refuses and not the filter that breaks the run."""
    node = {"id": "compute", "node_type": "Attempt", "module": "attempts", "params": {"action": "compute"}}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", WITHOUT_LANDLOCK, str(error), str(remotemedia_bin), "run"]
            + [str(chain([node], name="no-landlock")), "--input", "1", "--python-path", str(attempts_dir), *args],
            capture_output=True,
            text=True,
            env=binary_env(cpython_env),
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    refused_run = run("--sandbox")
    assert refused_run.returncode == EXIT_FAILURE, refused_run.stderr
    assert "node `compute` failed" in refused_run.stderr, refused_run.stderr
    assert "the sandbox needs Landlock, which this kernel does not offer" in refused_run.stderr
    assert reason in refused_run.stderr and "refusing to run the node unsandboxed" in refused_run.stderr
    assert refused_run.stdout == ""
    assert worker_pids(refused_run.stderr) == set(), "a worker was started"
    isolated = run("--isolate")
    assert isolated.returncode == 0, isolated.stderr
    assert isolated.stdout == "6.5\n"
