"""`remotemedia plan`: where each node runs, on which engine and why — the real binary on real files."""

from __future__ import annotations

import json
import os
import platform
import stat
import subprocess
from pathlib import Path

import pytest

EXIT_INVALID = 2
HOST = "gpu-box:50051"
STUBS = "placement_stubs"


@pytest.fixture
def stubs(tmp_path: Path) -> Path:
    """Where the stub module of the placement cases' own node classes is written."""
    directory = tmp_path / "stubs"
    directory.mkdir()
    return directory


@pytest.fixture
def manifest_file(manifest_file, stubs: Path):
    """These cases are about placement, with node types of their own (AudioSource, SpeechToText, X
    …). `plan` checks that every node type resolves, so each of them is a class of a stub module
    (`"module": "placement_stubs"`, found by `run_remotemedia` below); catalogue names stay bare."""
    from remotemedia.catalogue import CATALOGUE

    def write(nodes, connections=(), name="placement-test"):
        own = sorted({node["node_type"] for node in nodes if node["node_type"] not in CATALOGUE})
        classes = "".join(f"\n\nclass {cls}(Node):\n    def process(self, data):\n        return data\n" for cls in own)
        (stubs / f"{STUBS}.py").write_text(f"from remotemedia.core.node import Node\n{classes}")
        nodes = [node if node["node_type"] in CATALOGUE else {**node, "module": STUBS} for node in nodes]
        return manifest_file(nodes, connections, name=name)

    return write


@pytest.fixture
def run_remotemedia(run_remotemedia, stubs: Path):
    """The binary, finding the stub module on its Python path."""

    def run(*args, env=None, **kwargs):
        return run_remotemedia(*args, env={"REMOTEMEDIA_PYTHON_PATH": str(stubs), **(env or {})}, **kwargs)

    return run

# A voice pipeline: plain source, an optional-GPU VAD, a GPU ASR that has a host, a 2-core sink.
VOICE_NODES = [
    {"id": "source", "node_type": "AudioSource"},
    {
        "id": "vad",
        "node_type": "VADNode",
        "capabilities": {"gpu": {"type": "cuda", "min_memory_gb": 2, "required": False}},
    },
    {
        "id": "asr",
        # Not the catalogue's WhisperTranscriptionNode: its class declares runtime_hint cpython, and
        # these cases are about capabilities, not engines.
        "node_type": "SpeechToText",
        "host": HOST,
        "capabilities": {"gpu": {"type": "cuda", "min_memory_gb": 4}, "memory_gb": 8},
    },
    {"id": "sink", "node_type": "PassThroughNode", "capabilities": {"cpu": {"cores": 2}}},
]
VOICE_CONNECTIONS = [("source", "vad"), ("vad", "asr"), ("asr", "sink")]


def parse_table(stdout: str) -> tuple[str, dict[str, dict[str, str]]]:
    """The machine line, and each row of the table by node id, split at the header's columns."""
    lines = stdout.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("NODE"))
    header = lines[header_at]
    starts = [header.index(title) for title in ("NODE", "TYPE", "ENGINE", "REASON")]
    rows = {}
    for line in lines[header_at + 1 :]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        rows[cells[0]] = {"type": cells[1], "engine": cells[2], "reason": cells[3]}
    return lines[0], rows


def test_table_shows_engine_and_reason_per_node(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(VOICE_NODES, VOICE_CONNECTIONS, name="voice")
    # The host is fictional: place by requirements alone.
    result = run_remotemedia("plan", manifest, "--capabilities", profile("no-gpu"), "--offline")

    assert result.returncode == 0, result.stderr
    machine, rows = parse_table(result.stdout)
    assert machine.startswith("Pipeline `voice` on `no-gpu` (profile ")
    assert machine.endswith("8 cores x86_64, 16 GB memory (12 GB available), no GPU, engines: rustpython")
    assert list(rows) == ["source", "vad", "asr", "sink"]
    assert rows["source"] == {
        "type": "AudioSource",
        "engine": "rustpython",
        "reason": "runs locally: no requirements; rustpython (runtime_hint auto)",
    }
    assert rows["vad"]["engine"] == "rustpython"
    assert rows["vad"]["reason"].startswith(
        "runs locally: needs gpu cuda ≥ 2 GB (optional) — no cuda GPU, runs on CPU"
    )
    assert rows["asr"]["engine"] == f"remote {HOST}"
    assert rows["asr"]["reason"] == (
        f"runs on {HOST}, not locally: needs gpu cuda ≥ 4 GB — no cuda GPU"
    )
    assert rows["sink"]["reason"].startswith("runs locally: requirements met (≥ 2 cpu cores)")


def test_json_output_is_machine_readable(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(VOICE_NODES, VOICE_CONNECTIONS, name="voice")
    result = run_remotemedia("plan", manifest, "--capabilities", profile("small-memory-2gb"), "--json", "--offline")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["pipeline"] == "voice"
    assert report["machine"]["profile"] == str(profile("small-memory-2gb"))
    assert report["machine"]["capabilities"]["memory"] == {"total_gb": 2.0, "available_gb": 1.2}
    nodes = {entry["id"]: entry for entry in report["nodes"]}
    assert [entry["id"] for entry in report["nodes"]] == ["source", "vad", "asr", "sink"]
    assert nodes["source"]["engine"] == {"kind": "rustpython"}
    assert nodes["asr"]["engine"] == {"kind": "remote", "host": HOST}
    assert nodes["asr"]["node_type"] == "SpeechToText"
    assert nodes["asr"]["unmet"] == [
        {
            "requirement": {"capability": "gpu", "kind": "cuda", "min_memory_gb": 4.0},
            "required": True,
            "found": "no cuda GPU",
        },
        {"requirement": {"capability": "memory", "gb": 8.0}, "required": True, "found": "only 2 GB total"},
    ]
    assert nodes["vad"]["unmet"][0]["required"] is False
    assert "runs on CPU" in nodes["vad"]["reason"]


def test_a_capable_machine_runs_everything_locally_even_with_a_host(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(VOICE_NODES, VOICE_CONNECTIONS, name="voice")
    result = run_remotemedia("plan", manifest, "--capabilities", profile("cuda-8gb"), "--json")

    assert result.returncode == 0, result.stderr
    nodes = {entry["id"]: entry for entry in json.loads(result.stdout)["nodes"]}
    assert {entry["engine"]["kind"] for entry in nodes.values()} == {"rustpython"}
    assert f"so host {HOST} is not needed (local first)" in nodes["asr"]["reason"]
    assert all(entry["unmet"] == [] for entry in nodes.values())


def test_unplaceable_nodes_are_all_named_with_what_they_lack(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(
        [
            {"id": "source", "node_type": "AudioSource"},
            {"id": "asr", "node_type": "Whisper", "capabilities": {"gpu": {"type": "cuda", "min_memory_gb": 4}}},
            {"id": "tts", "node_type": "Tts", "capabilities": {"gpu": {"type": "cuda", "required": False}}},
            {"id": "llm", "node_type": "Llm", "capabilities": {"memory_gb": 64}},
        ]
    )
    result = run_remotemedia("plan", manifest, "--capabilities", profile("small-memory-2gb"))

    assert result.returncode == EXIT_INVALID
    assert result.stdout == ""
    assert f"cannot plan `{manifest}` on `small-memory-2gb`" in result.stderr
    assert "2 nodes cannot be placed:" in result.stderr
    assert "node `asr` needs gpu cuda ≥ 4 GB — no cuda GPU" in result.stderr
    assert "node `llm` needs ≥ 64 GB memory — only 2 GB total" in result.stderr
    assert "`tts`" not in result.stderr, "an optional GPU never fails a plan"
    assert "panicked" not in result.stderr


def test_too_few_cores_fails_the_plan(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(VOICE_NODES, VOICE_CONNECTIONS)
    result = run_remotemedia("plan", manifest, "--capabilities", profile("one-core"))

    assert result.returncode == EXIT_INVALID
    assert "node `sink` needs ≥ 2 cpu cores — only 1 core" in result.stderr
    # `asr` lacks a GPU too, but it has a host to go to.
    assert "`asr`" not in result.stderr


def test_cpython_hint_needs_a_cpython(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(
        [{"id": "numpy_features", "node_type": "SpectralFeatures", "runtime_hint": "cpython"}]
    )
    missing = run_remotemedia("plan", manifest, "--capabilities", profile("no-gpu"))
    assert missing.returncode == EXIT_INVALID
    assert "node `numpy_features` needs the CPython engine" in missing.stderr
    assert "REMOTEMEDIA_PYTHON" in missing.stderr

    present = run_remotemedia("plan", manifest, "--capabilities", profile("with-cpython"), "--json")
    assert present.returncode == 0, present.stderr
    (entry,) = json.loads(present.stdout)["nodes"]
    assert entry["engine"] == {"kind": "cpython"}
    assert entry["reason"].endswith("cpython (runtime_hint cpython)")


@pytest.mark.parametrize(
    ("override", "profile_name", "expected"),
    [
        ("rustpython", "no-gpu", {"numpy": "rustpython", "plain": "rustpython"}),
        ("cpython", "with-cpython", {"numpy": "cpython", "plain": "cpython"}),
        ("auto", "with-cpython", {"numpy": "cpython", "plain": "rustpython"}),
    ],
)
def test_runtime_override_from_the_environment(
    run_remotemedia, manifest_file, profile, override, profile_name, expected
):
    manifest = manifest_file(
        [
            {"id": "numpy", "node_type": "SpectralFeatures", "runtime_hint": "cpython"},
            {"id": "plain", "node_type": "PassThroughNode"},
        ]
    )
    result = run_remotemedia(
        "plan", manifest, "--capabilities", profile(profile_name), "--json",
        env={"REMOTEMEDIA_PYTHON_RUNTIME": override},
    )

    assert result.returncode == 0, result.stderr
    nodes = {entry["id"]: entry for entry in json.loads(result.stdout)["nodes"]}
    assert {node_id: entry["engine"]["kind"] for node_id, entry in nodes.items()} == expected
    if override != "auto":
        assert f"REMOTEMEDIA_PYTHON_RUNTIME={override}" in nodes["numpy"]["reason"]


def test_forcing_cpython_without_one_names_every_node(run_remotemedia, manifest_file, profile):
    manifest = manifest_file([{"id": "a", "node_type": "X"}, {"id": "b", "node_type": "Y"}])
    result = run_remotemedia(
        "plan", manifest, "--capabilities", profile("no-gpu"), env={"REMOTEMEDIA_PYTHON_RUNTIME": "cpython"}
    )
    assert result.returncode == EXIT_INVALID
    assert "node `a` needs the CPython engine" in result.stderr
    assert "node `b` needs the CPython engine" in result.stderr


def test_an_unknown_runtime_override_is_rejected(run_remotemedia, manifest_file, profile):
    manifest = manifest_file([{"id": "a", "node_type": "X"}])
    result = run_remotemedia(
        "plan", manifest, "--capabilities", profile("no-gpu"), env={"REMOTEMEDIA_PYTHON_RUNTIME": "pypy"}
    )
    assert result.returncode == EXIT_INVALID
    assert "REMOTEMEDIA_PYTHON_RUNTIME is `pypy`; expected auto, rustpython or cpython" in result.stderr


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('{"cpu": {"cores": 4, "arch": "x86_64"}, "memory": {"total_gb": 8, "availble_gb": 2}}', "memory.availble_gb"),
        ('{"cpu": {"cores": "many", "arch": "x86_64"}, "memory": {"total_gb": 8}}', "cpu.cores"),
        ('{"cpu": {"cores": 0, "arch": "x86_64"}, "memory": {"total_gb": 8}}', "cpu.cores"),
        ('{"cpu": {"cores": 4, "arch": "x86_64"}, "memory": {"total_gb": 8}, "gpus": [{"kind": "tpu", "name": "t"}]}',
         "gpus[0].kind"),
        ('{"cpu": {"cores": 4, "arch": "x86_64"}, "memory": {"total_gb": 8},'
         ' "gpus": [{"kind": "cuda", "name": "t", "memory_gb": -8}]}', "gpus[0].memory_gb"),
    ],
)
def test_a_bad_profile_names_file_and_field(run_remotemedia, manifest_file, tmp_path, content, field):
    manifest = manifest_file([{"id": "a", "node_type": "X"}])
    bad = tmp_path / "bad-profile.json"
    bad.write_text(content)
    result = run_remotemedia("plan", manifest, "--capabilities", bad)

    assert result.returncode == EXIT_INVALID
    assert f"invalid machine profile `{bad}`" in result.stderr
    assert f"field `{field}`" in result.stderr
    assert "panicked" not in result.stderr


def test_a_profile_that_is_not_json_or_missing(run_remotemedia, manifest_file, tmp_path):
    manifest = manifest_file([{"id": "a", "node_type": "X"}])
    garbage = tmp_path / "garbage.json"
    garbage.write_text("cores: 4\n")
    result = run_remotemedia("plan", manifest, "--capabilities", garbage)
    assert result.returncode == EXIT_INVALID
    assert f"invalid machine profile `{garbage}`" in result.stderr
    assert "line 1" in result.stderr

    absent = tmp_path / "absent.json"
    result = run_remotemedia("plan", manifest, "--capabilities", absent)
    assert result.returncode == EXIT_INVALID
    assert f"failed to read machine profile `{absent}`" in result.stderr


def test_an_invalid_manifest_gives_its_validation_errors(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(
        [{"id": "a", "node_type": "X", "capabilitys": {}}, {"id": "b", "node_type": "Y"}],
        [("a", "b"), ("b", "a")],
    )
    result = run_remotemedia("plan", manifest, "--capabilities", profile("no-gpu"))

    assert result.returncode == EXIT_INVALID
    assert f"cannot plan `{manifest}`: invalid manifest" in result.stderr
    assert "/nodes/0" in result.stderr and "capabilitys" in result.stderr
    assert result.stdout == ""


def test_a_missing_manifest_names_its_path(run_remotemedia, tmp_path):
    absent = tmp_path / "nowhere.json"
    result = run_remotemedia("plan", absent)
    assert result.returncode == EXIT_INVALID
    assert str(absent) in result.stderr


def test_detects_this_machine_without_a_profile(run_remotemedia, manifest_file):
    manifest = manifest_file([{"id": "a", "node_type": "X"}])
    result = run_remotemedia("plan", manifest, "--json")

    assert result.returncode == 0, result.stderr
    machine = json.loads(result.stdout)["machine"]
    assert machine["profile"] is None
    capabilities = machine["capabilities"]
    # The cores this process may use: its affinity mask, or fewer under a cgroup CPU quota.
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert 1 <= capabilities["cpu"]["cores"] <= usable
    assert capabilities["cpu"]["arch"] == platform.machine().replace("arm64", "aarch64")
    assert 0 < capabilities["memory"]["available_gb"] <= capabilities["memory"]["total_gb"]
    # python3 runs these tests, so the CPython engine has an interpreter to load.
    assert capabilities["engines"] == {"rustpython": True, "cpython": True}

    table = run_remotemedia("plan", manifest)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("Pipeline `placement-test` on this machine: ")


def fake_tool(directory: Path, name: str, script: str) -> None:
    """Puts an executable `name` running `script` (sh) in `directory`."""
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def path_with(directory: Path) -> dict[str, str]:
    return {"PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_detects_nvidia_gpus_through_nvidia_smi(run_remotemedia, manifest_file, tmp_path):
    tools = tmp_path / "bin"
    fake_tool(
        tools,
        "nvidia-smi",
        'case "$*" in *--query-gpu=name,memory.total*) printf "NVIDIA Test GPU, 8192\\n";; *) exit 9;; esac',
    )
    manifest = manifest_file(
        [{"id": "asr", "node_type": "Whisper", "capabilities": {"gpu": {"type": "cuda", "min_memory_gb": 8}}}]
    )
    result = run_remotemedia("plan", manifest, "--json", env=path_with(tools))

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    cuda = [gpu for gpu in report["machine"]["capabilities"]["gpus"] if gpu["kind"] == "cuda"]
    assert [gpu["name"] for gpu in cuda] == ["NVIDIA Test GPU"]
    assert cuda[0]["memory_gb"] == pytest.approx(8192 * 2**20 / 1e9)
    assert report["nodes"][0]["engine"] == {"kind": "rustpython"}
    assert "requirements met (gpu cuda ≥ 8 GB)" in report["nodes"][0]["reason"]


def test_detects_rocm_gpus_through_rocm_smi(run_remotemedia, manifest_file, tmp_path):
    tools = tmp_path / "bin"
    card = {"card0": {"Card Series": "Radeon Test", "VRAM Total Memory (B)": "17163091968"}}
    fake_tool(tools, "rocm-smi", f"echo '{json.dumps(card)}'")
    manifest = manifest_file([{"id": "a", "node_type": "X", "capabilities": {"gpu": {"type": "rocm"}}}])
    result = run_remotemedia("plan", manifest, "--json", env=path_with(tools))

    assert result.returncode == 0, result.stderr
    gpus = json.loads(result.stdout)["machine"]["capabilities"]["gpus"]
    assert {"kind": "rocm", "name": "Radeon Test", "memory_gb": pytest.approx(17.163091968)} in gpus


@pytest.mark.parametrize(
    "script",
    ["exec sleep 60", "echo 'NVIDIA-SMI has failed because it could not communicate with the driver'; exit 9"],
    ids=["hangs", "fails"],
)
def test_a_broken_gpu_tool_means_no_gpu_not_a_failed_plan(run_remotemedia, manifest_file, tmp_path, script):
    tools = tmp_path / "bin"
    fake_tool(tools, "nvidia-smi", script)
    manifest = manifest_file(
        [{"id": "vad", "node_type": "Vad", "capabilities": {"gpu": {"type": "cuda", "required": False}}}]
    )
    result = run_remotemedia("plan", manifest, "--json", env=path_with(tools))

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [gpu for gpu in report["machine"]["capabilities"]["gpus"] if gpu["kind"] == "cuda"] == []
    assert "runs on CPU" in report["nodes"][0]["reason"]


def test_a_reader_that_stops_early_is_no_error(remotemedia_bin, manifest_file, profile):
    # Far more than a pipe holds, so the binary is still writing when the reader goes away.
    manifest = manifest_file([{"id": f"node_{i}", "node_type": "PassThroughNode"} for i in range(2000)])
    process = subprocess.Popen(
        [str(remotemedia_bin), "plan", str(manifest), "--capabilities", str(profile("no-gpu"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().startswith("Pipeline `placement-test`")
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 0, stderr
    assert "panicked" not in stderr
