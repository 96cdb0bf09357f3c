"""Remote execution across real processes: `remotemedia serve` on loopback, `remotemedia run/plan` as clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# A hang guard only.
RUN_TIMEOUT_S = 60
# A silent host is found by the keepalive ping (every 2 s, 3 s to answer): ~5 s, plus a margin for
# a loaded machine.
DEAD_HOST_BOUND_S = 5 + 1.5


def load_manifest(name: str) -> dict[str, Any]:
    return json.loads((REPO_ROOT / "examples" / "manifests" / f"{name}.json").read_text())


def place_on(manifest: dict[str, Any], host: str, node_ids: list[str], capabilities: dict[str, Any]) -> dict[str, Any]:
    """A copy of `manifest` whose `node_ids` name `host` and need `capabilities`."""
    placed = json.loads(json.dumps(manifest))
    for node in placed["nodes"]:
        if node["id"] in node_ids:
            node["host"] = host
            node["capabilities"] = capabilities
    return placed


CUDA = {"gpu": {"type": "cuda"}}
OPTIONAL_CUDA = {"gpu": {"type": "cuda", "required": False}}


def _plan(remotemedia, manifest: Path, *args: str | Path) -> dict:
    result = remotemedia("plan", manifest, "--json", *args)
    assert result.returncode == 0, result.stderr
    return {node["id"]: node for node in json.loads(result.stdout)["nodes"]}


@pytest.mark.parametrize(
    ("example", "remote_nodes", "inputs"),
    [
        ("calculator", ["plus_five_1", "double_2"], ["1", "2", "-7", "1e3", "12345678901234567890"]),
        ("fan_out_fan_in", ["double_1"], ["3", "4", "5"]),
        ("text_processing", ["title_3"], ['"  hello   remote\\tworld "', '"ÉTÉ à Paris"']),
    ],
)
def test_nodes_needing_what_the_host_has_run_there_with_the_local_outputs(
    serve, remotemedia, profile, write_manifest, example, remote_nodes, inputs
):
    server = serve("--capabilities", profile("cuda-8gb"))
    original = load_manifest(example)
    remote = write_manifest(place_on(original, server.address, remote_nodes, CUDA))
    input_args = [arg for value in inputs for arg in ("--input", value)]

    plan = _plan(remotemedia, remote, "--capabilities", profile("no-gpu"))
    for node_id in remote_nodes:
        assert plan[node_id]["engine"] == {"kind": "remote", "host": server.address}
        assert "checked: it meets them" in plan[node_id]["reason"]

    local = remotemedia("run", write_manifest(original, "local"), *input_args)
    assert local.returncode == 0, local.stderr
    remote_run = remotemedia("run", remote, "--capabilities", profile("no-gpu"), *input_args)
    assert remote_run.returncode == 0, remote_run.stderr
    if example == "fan_out_fan_in":
        # A fan-in merges its branches as items arrive: the same outputs, interleaved differently.
        assert sorted(remote_run.stdout.splitlines()) == sorted(local.stdout.splitlines())
    else:
        assert remote_run.stdout == local.stdout
    assert remote_run.stdout.strip()
    for node_id in remote_nodes:
        assert f"node stream opened node={node_id}" in server.log()


def test_audio_buffers_cross_the_wire_unchanged(serve, remotemedia, profile, write_manifest):
    """WAV frames go to the host as typed arrays, come back mixed down and resampled, bit for bit."""
    server = serve("--capabilities", profile("cuda-8gb"))
    audio = load_manifest("speech_vad")
    audio["nodes"] = audio["nodes"][:3]
    audio["connections"] = audio["connections"][:2]
    remote = write_manifest(place_on(audio, server.address, ["mono_1", "resample_2"], CUDA), "remote")

    local = remotemedia("run", write_manifest(audio, "local"), "--input", "null")
    remote_run = remotemedia("run", remote, "--capabilities", profile("no-gpu"), "--input", "null")
    assert local.returncode == 0, local.stderr
    assert remote_run.returncode == 0, remote_run.stderr
    assert len(local.stdout.splitlines()) > 100
    assert remote_run.stdout == local.stdout


def test_a_memory_requirement_the_client_profile_lacks_goes_to_the_host(serve, remotemedia, profile, write_manifest):
    server = serve("--capabilities", profile("cuda-8gb"))
    manifest = place_on(load_manifest("calculator"), server.address, ["double_2"], {"memory_gb": 16})
    path = write_manifest(manifest)

    plan = _plan(remotemedia, path, "--capabilities", profile("small-memory-2gb"))
    assert plan["double_2"]["engine"]["kind"] == "remote"
    # The same manifest on a machine with the memory runs everything locally (local first).
    assert _plan(remotemedia, path, "--capabilities", profile("cuda-8gb"))["double_2"]["engine"]["kind"] == "rustpython"

    run = remotemedia("run", path, "--capabilities", profile("small-memory-2gb"), "--input", "4")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(((4 + 5) * 2) ** 2)]
    assert "node stream opened node=double_2" in server.log()


def test_an_optional_gpu_uses_the_host_that_has_one_and_falls_back_here_otherwise(
    serve, remotemedia, profile, write_manifest
):
    with_gpu = serve("--capabilities", profile("cuda-8gb"))
    without_gpu = serve("--capabilities", profile("no-gpu"))
    for server, expected in ((with_gpu, "remote"), (without_gpu, "rustpython")):
        path = write_manifest(place_on(load_manifest("calculator"), server.address, ["double_2"], OPTIONAL_CUDA))
        result = remotemedia("plan", path, "--json", "--capabilities", profile("no-gpu"))
        assert result.returncode == 0, result.stderr
        node = {n["id"]: n for n in json.loads(result.stdout)["nodes"]}["double_2"]
        assert node["engine"]["kind"] == expected
        run = remotemedia("run", path, "--capabilities", profile("no-gpu"), "--input", "1")
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["144"]
    assert "warning: not on host" in node["reason"] and "no cuda GPU there too" in node["reason"]
    assert "runs here without what it prefers" in result.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_host_fails_the_plan_naming_node_host_and_reason(remotemedia, profile, write_manifest, tmp_path):
    host = f"127.0.0.1:{_closed_port()}"
    path = write_manifest(place_on(load_manifest("calculator"), host, ["double_2"], CUDA))
    for command in (["plan", path], ["run", path, "--input", "1"]):
        result = remotemedia(*command, "--capabilities", profile("no-gpu"))
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert "node `double_2`" in result.stderr
        assert host in result.stderr
        assert "cannot connect" in result.stderr and "refused" in result.stderr.lower()

    optional = write_manifest(place_on(load_manifest("calculator"), host, ["double_2"], OPTIONAL_CUDA), "optional")
    run = remotemedia("run", optional, "--capabilities", profile("no-gpu"), "--input", "1")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["144"]
    assert f"not on host {host}" in run.stderr


CLEANUP_MARKER = '''
from remotemedia.core.node import Node


class CleanupMarker(Node):
    """Passes items through; appends `cleanup` to `log` when cleaned up."""

    def __init__(self, log: str, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def process(self, data):
        return data

    def cleanup(self):
        with open(self.log, "a") as log:
            log.write("cleanup\\n")
'''


def test_a_host_dying_mid_stream_fails_the_run_naming_node_and_host(
    serve, remotemedia_bin, profile, write_manifest, tmp_path
):
    server = serve("--capabilities", profile("cuda-8gb"))
    (tmp_path / "markers.py").write_text(CLEANUP_MARKER)
    log = tmp_path / "cleanup.log"
    manifest = {
        "version": "v1",
        "metadata": {"name": "dies"},
        "nodes": [
            {"id": "before", "node_type": "CleanupMarker", "module": "markers", "params": {"log": str(log)}},
            {
                "id": "far",
                "node_type": "MultiplyNode",
                "params": {"factor": 3},
                "host": server.address,
                "capabilities": CUDA,
            },
            {"id": "after", "node_type": "CleanupMarker", "module": "markers", "params": {"log": str(log)}},
        ],
        "connections": [{"from": "before", "to": "far"}, {"from": "far", "to": "after"}],
    }
    client = subprocess.Popen(
        [
            str(remotemedia_bin),
            "run",
            str(write_manifest(manifest)),
            "--input-file",
            "-",
            "--capabilities",
            str(profile("no-gpu")),
            "--python-path",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    outputs: list[str] = []
    for number in range(1, 6):
        client.stdin.write(f"{number}\n")
        client.stdin.flush()
        outputs.append(client.stdout.readline())
    assert outputs == [f"{3 * n}\n" for n in range(1, 6)]

    server.kill()
    # Inputs keep coming; the run must end on its own, not hang.
    feeder = threading.Thread(target=_keep_feeding, args=(client,), daemon=True)
    feeder.start()
    rest, stderr = client.communicate(timeout=RUN_TIMEOUT_S)

    assert client.returncode == 1, stderr
    assert "node `far` failed" in stderr
    assert server.address in stderr
    assert "lost host" in stderr
    produced = outputs + rest.splitlines(keepends=True)
    assert produced == [f"{3 * n}\n" for n in range(1, len(produced) + 1)]
    assert log.read_text() == "cleanup\ncleanup\n"


def _keep_feeding(client: subprocess.Popen[str]) -> None:
    try:
        for number in range(6, 100_000):
            client.stdin.write(f"{number}\n")
            client.stdin.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass


def test_tokens_are_required_and_checked(serve, remotemedia, profile, write_manifest, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("correct horse battery staple\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("correct horse battery stapler\n")
    server = serve("--capabilities", profile("cuda-8gb"), "--token-file", secret)
    path = write_manifest(place_on(load_manifest("calculator"), server.address, ["double_2"], CUDA))
    base = ["run", path, "--capabilities", profile("no-gpu"), "--input", "2"]

    missing = remotemedia(*base)
    assert missing.returncode == 2
    assert "refused the token" in missing.stderr and "node `double_2`" in missing.stderr
    wrong_token = remotemedia(*base, "--token-file", wrong)
    assert wrong_token.returncode == 2
    assert "refused the token" in wrong_token.stderr

    from_file = remotemedia(*base, "--token-file", secret)
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout.split() == ["196"]
    from_env = remotemedia(*base, env={"REMOTEMEDIA_TOKEN": "correct horse battery staple"})
    assert from_env.returncode == 0, from_env.stderr
    assert from_env.stdout.split() == ["196"]


def test_serve_refuses_a_non_loopback_address_without_a_token(remotemedia):
    result = remotemedia("serve", "--listen", "0.0.0.0:0")
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0:0 without a token" in result.stderr
    assert "--insecure" in result.stderr
    assert result.stdout == ""


def test_twenty_concurrent_runs_against_one_server_are_all_correct(serve, remotemedia, profile, write_manifest):
    server = serve("--capabilities", profile("cuda-8gb"))
    path = write_manifest(place_on(load_manifest("calculator"), server.address, ["plus_five_1", "double_2"], CUDA))

    def run(client: int) -> tuple[int, subprocess.CompletedProcess[str]]:
        numbers = [client * 1000 + k for k in range(25)]
        stdin = "".join(f"{n}\n" for n in numbers)
        return client, remotemedia("run", path, "--capabilities", profile("no-gpu"), "--input-file", "-", stdin=stdin)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(run, range(20)))
    for client, result in results:
        assert result.returncode == 0, result.stderr
        expected = [str(((client * 1000 + k + 5) * 2) ** 2) for k in range(25)]
        assert result.stdout.split() == expected
    assert server.log().count("node stream closed") == 40


USER_NODE = '''
from remotemedia.core.node import Node


class Heavy(Node):
    """Scales numbers; claims 16 GB of memory so small machines send it to a host."""

    def __init__(self, scale: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def get_capabilities(self):
        return {"memory_gb": 16}

    def process(self, data):
        return data * self.scale
'''


def test_a_sdk_remote_execution_node_runs_on_its_host_from_the_hosts_python_path(
    serve, remotemedia, profile, write_manifest, tmp_path
):
    """The client has no copy of the node's module: the host runs its own."""
    host_modules = tmp_path / "host-modules"
    host_modules.mkdir()
    (host_modules / "heavy_nodes.py").write_text(USER_NODE)
    server = serve("--capabilities", profile("cuda-8gb"), "--python-path", host_modules)
    host, port = server.address.rsplit(":", 1)
    script = f"""
import json, sys
sys.path.insert(0, {str(host_modules)!r})
from heavy_nodes import Heavy
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.remote import RemoteExecutionNode, RemoteExecutorConfig

pipeline = Pipeline("sdk-remote")
pipeline.add_node(CalculatorNode(operation="add", operand=1))
pipeline.add_node(RemoteExecutionNode(Heavy(scale=10), RemoteExecutorConfig({host!r}, {port})))
print(pipeline.serialize())
"""
    made = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT / "python")},
        timeout=RUN_TIMEOUT_S,
    )
    assert made.returncode == 0, made.stderr
    manifest = json.loads(made.stdout)
    assert manifest["nodes"][1]["host"] == server.address
    assert manifest["nodes"][1]["module"] == "heavy_nodes"

    run = remotemedia(
        "run", write_manifest(manifest), "--capabilities", profile("small-memory-2gb"), "--input", "4", "--input", "5"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["50", "60"]


def test_a_remote_node_written_the_upstream_way_is_the_same_node_on_the_same_host(
    serve, remotemedia, profile, write_manifest, tmp_path
):
    """Upstream's keyword form (class name, RemoteExecutorConfig with protocol, node_config) writes
    the manifest our form writes, and that manifest runs on the host."""
    host_modules = tmp_path / "host-modules"
    host_modules.mkdir()
    (host_modules / "heavy_nodes.py").write_text(USER_NODE)
    server = serve("--capabilities", profile("cuda-8gb"), "--python-path", host_modules)
    host, port = server.address.rsplit(":", 1)
    script = f"""
import json, sys
sys.path.insert(0, {str(host_modules)!r})
from heavy_nodes import Heavy
from remotemedia import Pipeline
from remotemedia.core.node import RemoteExecutorConfig
from remotemedia.nodes import CalculatorNode, RemoteExecutionNode

config = RemoteExecutorConfig(host={host!r}, port={port}, protocol="grpc", timeout=10.0)
manifests = []
for remote in (
    RemoteExecutionNode(name="heavy", node_to_execute="heavy_nodes:Heavy", remote_config=config,
                        node_config={{"scale": 10}}),
    RemoteExecutionNode(Heavy(name="heavy", scale=10), config),
):
    pipeline = Pipeline(name="upstream-remote", nodes=[CalculatorNode(operation="add", operand=1), remote])
    pipeline.created_at = "2025-10-22T12:00:00Z"
    manifests.append(pipeline.serialize())
print(json.dumps(manifests))
"""
    made = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT / "python")},
        timeout=RUN_TIMEOUT_S,
    )
    assert made.returncode == 0, made.stderr
    upstream, ours = json.loads(made.stdout)
    assert upstream == ours
    manifest = json.loads(upstream)
    assert manifest["nodes"][1]["host"] == server.address and manifest["nodes"][1]["params"] == {"scale": 10}

    run = remotemedia(
        "run", write_manifest(manifest), "--capabilities", profile("small-memory-2gb"), "--input", "4", "--input", "5"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["50", "60"]
    assert "node stream opened node=heavy_1" in server.log()


def _make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    ca_key, ca, key, request, cert = (directory / name for name in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem"))
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        ["req", "-x509", *curve, "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=remotemedia test CA"],
        ["req", *curve, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
        [
            "x509",
            "-req",
            "-in",
            request,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "1",
            "-extfile",
            ext,
        ],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True, timeout=RUN_TIMEOUT_S)
    return ca, cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificates")
def test_tls_with_a_token(serve, remotemedia, profile, write_manifest, tmp_path):
    ca, cert, key = _make_certificates(tmp_path)
    secret = tmp_path / "token"
    secret.write_text("over tls")
    server = serve("--capabilities", profile("cuda-8gb"), "--tls-cert", cert, "--tls-key", key, "--token-file", secret)
    path = write_manifest(place_on(load_manifest("calculator"), server.address, ["double_2"], CUDA))
    base = ["run", path, "--capabilities", profile("no-gpu"), "--token-file", secret, "--input", "3"]

    secured = remotemedia(*base, "--tls-ca", ca)
    assert secured.returncode == 0, secured.stderr
    assert secured.stdout.split() == ["256"]
    # Plain HTTP/2 to a TLS server, or a CA that did not sign its certificate: refused at plan time.
    plain = remotemedia(*base)
    assert plain.returncode == 2
    assert "node `double_2`" in plain.stderr and server.address in plain.stderr
    other = tmp_path / "other"
    other.mkdir()
    other_ca, _, _ = _make_certificates(other)
    untrusted = remotemedia(*base, "--tls-ca", other_ca)
    assert untrusted.returncode == 2
    assert "certificate" in untrusted.stderr.lower(), untrusted.stderr
    print(plain.stderr, untrusted.stderr)


HUGE_NODE = '''
from remotemedia.core.node import Node


class Huge(Node):
    """Claims more memory than any test machine has: only a host whose profile says so takes it."""

    def __init__(self, scale: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def get_capabilities(self):
        return {"memory_gb": 100000}

    def process(self, data):
        return [data, data * self.scale]
'''


def test_pipeline_run_on_the_runtime_uses_the_same_remote_engine(serve, remotemedia_bin, tmp_path):
    """`Pipeline.run()` in Python, on the runtime in-process: the node goes to its host, with the token."""
    native = remotemedia_bin.parent / "libremotemedia_python_ext.so"
    if not native.is_file():
        pytest.fail(f"the native module is missing at {native}; build it with `make build`", pytrace=False)
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "huge_nodes.py").write_text(HUGE_NODE)
    big_host = tmp_path / "big-host.json"
    big_host.write_text(
        json.dumps({"name": "big", "cpu": {"cores": 4, "arch": "x86_64"}, "memory": {"total_gb": 200000}})
    )
    secret = tmp_path / "token"
    secret.write_text("from python")
    server = serve("--capabilities", big_host, "--python-path", modules, "--token-file", secret)
    host, port = server.address.rsplit(":", 1)
    script = f"""
import sys
sys.path.insert(0, {str(modules)!r})
from huge_nodes import Huge
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.remote import RemoteExecutionNode, RemoteExecutorConfig

pipeline = Pipeline("python-remote")
pipeline.add_node(CalculatorNode(operation="add", operand=1))
pipeline.add_node(RemoteExecutionNode(Huge(scale=3), RemoteExecutorConfig({host!r}, {port})))
print(pipeline.run([1, 2], engine="runtime"))
"""
    env = {
        "PYTHONPATH": str(REPO_ROOT / "python"),
        "REMOTEMEDIA_NATIVE_MODULE": str(native),
        "REMOTEMEDIA_TOKEN": "from python",
        "PATH": os.environ.get("PATH", ""),
    }
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=RUN_TIMEOUT_S
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[[2, 6], [3, 9]]"
    assert "node stream opened node=Huge_1" in server.log()


def test_a_frozen_host_fails_the_run_instead_of_hanging(serve, remotemedia_bin, profile, write_manifest):
    """A host that stops answering without closing its connection (SIGSTOP) is found by keepalive pings."""
    server = serve("--capabilities", profile("cuda-8gb"))
    path = write_manifest(place_on(load_manifest("calculator"), server.address, ["double_2"], CUDA))
    client = subprocess.Popen(
        [str(remotemedia_bin), "run", str(path), "--input-file", "-", "--capabilities", str(profile("no-gpu"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    client.stdin.write("1\n")
    client.stdin.flush()
    assert client.stdout.readline() == "144\n"
    server.process.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        client.stdin.write("2\n")
        client.stdin.flush()
        rest, stderr = client.communicate(timeout=RUN_TIMEOUT_S)
        took = time.monotonic() - stopped
    finally:
        server.process.send_signal(signal.SIGCONT)
    assert client.returncode == 1, stderr
    # docs/remote.md: "within ~5 s when it goes silent" (a ping every 2 s, 3 s to answer).
    assert took < DEAD_HOST_BOUND_S, f"the run ended {took:.2f} s after its host froze"
    assert "node `double_2` failed in process: lost host" in stderr
    assert server.address in stderr
    assert rest == ""
