"""The Ray side of remotemedia's cluster engine: a small driver process the executable starts.

The `remotemedia` executable never links libpython; it runs this script with a CPython that has
`ray` installed (`python -c <this file>`), and talks to it in JSON Lines: requests on stdin,
answers and events on stdout (stderr is Ray's own log). Ray does placement and lifecycle only:
each node placed on the cluster gets one actor, started with the node's resources, which starts a
node worker (`remotemedia serve --one-run`) on the machine Ray chose and hands back its address;
the node's items then travel on the worker's own gRPC stream, never through Ray.

Requests (one JSON object per line):
  {"op": "check", "id": ID, "request": {...}}           can any machine of the cluster ever hold it?
  {"op": "place", "id": ID, "request": {...}, "name": NAME, "executable": PATH or null,
   "token": TOKEN, "profile": {...}, "timeout_s": S}     start the node's actor and worker
  {"op": "release", "id": ID}                            kill the node's actor
Answers: {"re": OP, "id": ID, "ok": true, ...} or {"re": OP, "id": ID, "ok": false, "error": TEXT}.
Events: {"event": "lost", "id": ID, "reason": TEXT} when a node's actor or worker dies.

The actors are owned by this driver: when it exits — its stdin closed because the executable
ended, however it ended — Ray kills them, and each worker exits when its actor (its stdin) goes.
Every actor class is defined here, in `__main__`, so Ray ships it by value: the cluster's
machines need `ray` and a `remotemedia` worker (`worker_command`), not this script.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from typing import Any

WRITE_LOCK = threading.Lock()
INIT_FAILURE = "Initialization failure from server"
"""Ray's client server could not start the server it forks for this client: worth a new driver."""
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
RAY_CLIENT_PORT = 10001
"""Where a head's Ray client server listens unless told otherwise (`ray://HOST`)."""


def say(message: dict[str, Any]) -> None:
    """One line on stdout, whole (events come from other threads)."""
    with WRITE_LOCK:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def fail(text: str) -> None:
    """Says why the driver could not connect, and exits (at once: Ray's threads are no reason to
    wait). `retry` tells the executable a new driver may succeed."""
    say({"re": "connect", "ok": False, "error": text, "retry": INIT_FAILURE in text})
    os._exit(0)


try:
    import ray
except ImportError as error:  # the interpreter has no ray: say which one
    fail(f"{sys.executable} cannot import ray ({error}); install it with `pip install 'ray[client]'`")


class NodeWorker:
    """One node's Ray actor: runs `remotemedia serve --one-run` where Ray placed it."""

    def __init__(self) -> None:
        self.process: Any = None

    def start(self, executable: str | None, token: str, profile: dict[str, Any], node_id: str) -> str:
        import platform
        import subprocess
        import tempfile

        command = worker_command(executable)
        # What Ray granted this actor is the machine the node is checked against, not what the
        # host has: a GPU another actor holds is not this node's.
        granted = ray.get_runtime_context().get_assigned_resources()
        profile = dict(profile)
        profile["cpu"] = {"cores": max(1, int(granted.get("CPU", 1))), "arch": platform.machine()}
        if granted.get("GPU", 0) <= 0:
            profile["gpus"] = []
        workdir = tempfile.mkdtemp(prefix="remotemedia-worker-")
        with open(os.path.join(workdir, "token"), "w", encoding="utf-8") as file:
            file.write(token)
        with open(os.path.join(workdir, "profile.json"), "w", encoding="utf-8") as file:
            json.dump(profile, file)
        address = ray.util.get_node_ip_address()
        env = dict(os.environ)
        env.setdefault("REMOTEMEDIA_PYTHON", sys.executable)
        self.process = subprocess.Popen(
            [
                *command,
                "serve",
                "--one-run",
                "--listen",
                f"{address}:0",
                "--token-file",
                os.path.join(workdir, "token"),
                "--capabilities",
                os.path.join(workdir, "profile.json"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            env=env,
        )
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            code = self.process.wait()
            raise RuntimeError(f"the worker for `{node_id}` did not start (exit {code}): {line.strip()!r}")
        return line.removeprefix("listening on ").strip()

    def wait(self) -> int:
        """Blocks until the worker exits; its exit code."""
        return self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()


PACKAGE_MAIN = "import sys; from remotemedia._native import main; sys.exit(main())"
"""The wheel's `remotemedia` command (its console script) as a `python -c` program."""


def worker_command(executable: str | None) -> list[str]:
    """The node worker's command on this machine: the `remotemedia` executable at `executable`
    (the client's, a cargo build's, or REMOTEMEDIA_CLUSTER_WORKER); else the `remotemedia` package
    of this interpreter (the wheel installed beside `ray`), run by it; else the `remotemedia` on
    PATH."""
    import importlib.util
    import shutil

    if executable and os.path.isfile(executable):
        return [executable]
    try:
        packaged = importlib.util.find_spec("remotemedia._native") is not None
    except ImportError:  # no remotemedia package at all
        packaged = False
    if packaged:
        return [sys.executable, "-c", PACKAGE_MAIN]
    on_path = shutil.which("remotemedia")
    if on_path is not None:
        return [on_path]
    tried = f"not at {executable}, " if executable else ""
    raise RuntimeError(
        f"no remotemedia worker on {ray.util.get_node_ip_address()}: {tried}no remotemedia package in "
        f"{sys.executable} and no remotemedia on PATH (install the remotemedia wheel beside ray there, "
        "or set REMOTEMEDIA_CLUSTER_WORKER)"
    )


def feasible(request: dict[str, Any]) -> str | None:
    """Why no machine of the cluster could ever hold `request`, or None if one could."""
    wanted = {
        "CPU": request.get("num_cpus", 0),
        "GPU": request.get("num_gpus", 0),
        "memory": request.get("memory", 0),
        **request.get("resources", {}),
    }
    wanted = {name: amount for name, amount in wanted.items() if amount}
    machines = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    if any(all(machine.get(name, 0) >= amount for name, amount in wanted.items()) for machine in machines):
        return None
    shortfalls = []
    for name, amount in wanted.items():
        largest = max((machine.get(name, 0) for machine in machines), default=0)
        if largest < amount:
            shown = f"{largest / 1e9:g} GB" if name == "memory" else f"{largest:g}"
            asked = f"{amount / 1e9:g} GB" if name == "memory" else f"{amount:g}"
            shortfalls.append(f"{name} {asked} (the most any machine offers: {shown})")
    if not shortfalls:
        shortfalls.append("all of " + ", ".join(f"{n} {a:g}" for n, a in wanted.items()) + " on one machine")
    return f"no machine of the cluster offers {'; '.join(shortfalls)}"


class Driver:
    def __init__(self) -> None:
        self.actors: dict[str, Any] = {}
        self.lock = threading.Lock()

    def check(self, message: dict[str, Any]) -> dict[str, Any]:
        why = feasible(message["request"])
        return {"ok": why is None, "error": why}

    def place(self, message: dict[str, Any]) -> dict[str, Any]:
        node_id, request = message["id"], message["request"]
        why = feasible(request)
        if why is not None:
            return {"ok": False, "error": why}
        actor_class = ray.remote(NodeWorker)
        actor = actor_class.options(
            name=message["name"],
            num_cpus=request.get("num_cpus", 1),
            num_gpus=request.get("num_gpus", 0),
            memory=request.get("memory") or None,
            resources=request.get("resources") or None,
            max_concurrency=2,
            max_restarts=0,
        ).remote()
        with self.lock:
            self.actors[node_id] = actor
        started = actor.start.remote(message["executable"], message["token"], message["profile"], node_id)
        ready, _ = ray.wait([started], timeout=message["timeout_s"])
        if not ready:
            self.release({"id": node_id})
            return {
                "ok": False,
                "error": f"Ray did not start it within {message['timeout_s']:g} s (the machines "
                "that could hold it are busy, or starting a worker failed)",
            }
        try:
            address = ray.get(started)
        except Exception as error:
            self.release({"id": node_id})
            return {"ok": False, "error": reason(error)}
        threading.Thread(target=self.watch, args=(node_id, actor), daemon=True).start()
        return {"ok": True, "address": address}

    def watch(self, node_id: str, actor: Any) -> None:
        """Reports the actor's death, or its worker's exit, while the node is placed."""
        try:
            code = ray.get(actor.wait.remote())
            why = f"its worker exited with code {code}"
        except Exception as error:
            why = reason(error)
        with self.lock:
            placed = self.actors.get(node_id) is actor
        if placed:
            say({"event": "lost", "id": node_id, "reason": why})

    def release(self, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            actor = self.actors.pop(message["id"], None)
        if actor is not None:
            ray.kill(actor, no_restart=True)
        return {"ok": True}

    def release_all(self) -> None:
        """Kills every actor still placed; the driver is going away (Ray reaps what this misses)."""
        for node_id in list(self.actors):
            with contextlib.suppress(Exception):
                self.release({"id": node_id})


def reason(error: BaseException) -> str:
    """Ray's words for why an actor call failed, on one line, without its terminal colours."""
    text = " ".join(ANSI_ESCAPE.sub("", str(error)).split())
    return text[:600]


def unreachable(address: str, timeout_s: float) -> str | None:
    """Why nothing listens at a `ray://HOST:PORT` address, or None when something does. Ray's
    client retries a refused connection for about half a minute; this says so at once."""
    parts = urllib.parse.urlsplit(address)
    if parts.scheme != "ray" or not parts.hostname:
        return None
    try:
        port = parts.port or RAY_CLIENT_PORT
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return None
    except (OSError, ValueError) as error:
        return f"nothing answers at {parts.hostname}:{parts.port or RAY_CLIENT_PORT} ({error})"


def local_gcs(address: str) -> str | None:
    """The GCS address behind `ray://HOST:PORT` when HOST:PORT is a Ray client server of this
    machine (a client on the cluster's head), or None. The client server's command line names the
    GCS it serves. A driver connected to that GCS directly skips the client server, which now and
    then fails to start the per-client server it forks (Ray reports it after ~20 s)."""
    parts = urllib.parse.urlsplit(address)
    if parts.scheme != "ray" or not parts.hostname:
        return None
    try:
        import psutil  # Ray's own dependency

        port = parts.port or RAY_CLIENT_PORT
        hosts = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)}
        for process in psutil.process_iter(["cmdline"]):
            args = process.info["cmdline"] or []
            if "ray.util.client.server" not in args:
                continue
            options = dict(arg[2:].split("=", 1) for arg in args if arg.startswith("--") and "=" in arg)
            if options.get("mode") != "proxy" or options.get("port") != str(port) or "address" not in options:
                continue
            # The server listens on HOST itself, or on every address and HOST is one of ours.
            if options.get("host") in hosts or (options.get("host") in ("0.0.0.0", "::") and any(map(ours, hosts))):
                return options["address"]
    except Exception:  # whatever goes wrong here, the client server remains
        return None
    return None


def ours(host: str) -> bool:
    """Whether `host` (an IP address) is one of this machine's: only then can a socket bind it."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, 0))
        return True
    except OSError:
        return False


def report_init_failure_at_once(outcome: dict[str, Any]) -> threading.Event:
    """An event set, with `outcome["error"]`, as soon as Ray's client server says it could not
    start the server it forks for this client (it does now and then). Ray's client raises that
    only after closing its log stream, which the client server holds open for ~40 s more; a new
    driver (the executable starts one) connects in seconds instead."""
    failed = threading.Event()
    try:
        from ray.util.client.worker import Worker
    except ImportError:  # another Ray: its error comes when it comes
        return failed
    server_init = Worker._server_init

    def reporting(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return server_init(self, *args, **kwargs)
        except ConnectionAbortedError as error:
            if INIT_FAILURE in str(error):
                outcome["error"] = reason(error)
                failed.set()
            raise

    Worker._server_init = reporting
    return failed


def main() -> None:
    address, connect_timeout = sys.argv[1], float(sys.argv[2])
    outcome: dict[str, Any] = {}
    why = unreachable(address, min(10.0, connect_timeout))
    if why is not None:
        fail(why)

    def init(target: str) -> None:
        ray.init(address=target, logging_level="ERROR", log_to_driver=False, namespace="remotemedia")
        outcome["resources"] = ray.cluster_resources()
        outcome.pop("error", None)

    def connect() -> None:
        gcs = local_gcs(address)
        if gcs is not None:
            try:
                init(gcs)
                outcome["via"] = f"the GCS at {gcs}"
                return
            except Exception as error:  # the client server may still serve
                outcome["error"] = reason(error)
                with contextlib.suppress(Exception):
                    ray.shutdown()
        try:
            init(address)
            outcome["via"] = "the Ray client" if address.startswith("ray://") else f"the GCS at {address}"
        except Exception as error:  # any failure to connect is reported the same way
            outcome["error"] = reason(error)

    init_failed = report_init_failure_at_once(outcome)
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    deadline = time.monotonic() + connect_timeout
    while thread.is_alive() and not init_failed.is_set() and time.monotonic() < deadline:
        thread.join(0.05)
    if thread.is_alive() and not init_failed.is_set():
        fail(f"no answer within {connect_timeout:g} s")
    if "error" in outcome:
        fail(outcome["error"])
    say({"re": "connect", "ok": True, "resources": outcome["resources"], "via": outcome["via"]})

    driver = Driver()
    handlers = {"check": driver.check, "place": driver.place, "release": driver.release}

    def serve(message: dict[str, Any]) -> None:
        try:
            answer = handlers[message["op"]](message)
        except Exception as error:
            answer = {"ok": False, "error": reason(error)}
        say({"re": message["op"], "id": message.get("id"), **answer})

    for line in sys.stdin:
        message = json.loads(line)
        # Placing waits for Ray: nodes are placed in parallel, each request on its own thread.
        threading.Thread(target=serve, args=(message,), daemon=True).start()
    # The executable is gone (or done): nothing of this run may outlive it.
    driver.release_all()
    os._exit(0)


if __name__ == "__main__":
    main()
