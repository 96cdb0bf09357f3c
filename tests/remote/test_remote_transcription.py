"""The Whisper node placed on a `remotemedia serve` host with a GPU profile: the same transcript as
when it runs here. (The host is this machine, so Whisper runs on its CPU there too: what crosses
the wire — audio frames and VAD segments in, transcripts out — is what is tested.)"""

from __future__ import annotations

import json
import sys

from test_remote import CUDA, load_manifest, place_on

# A hang guard only: each run loads CPython, faster-whisper and the model.
TIMEOUT_S = 300


def test_whisper_on_a_gpu_host_gives_the_local_transcript(
    serve, remotemedia, profile, write_manifest, monkeypatch, tmp_path
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("REMOTEMEDIA_PYTHON", sys.executable)
    server = serve("--capabilities", profile("cuda-8gb-cpython"))
    manifest = load_manifest("transcribe")
    subtitles = next(node for node in manifest["nodes"] if node["id"] == "subtitles_5")
    subtitles["params"]["path"] = str(tmp_path / "local.srt")
    local = remotemedia("run", write_manifest(manifest, "local"), "--input", "null", timeout=TIMEOUT_S)
    assert local.returncode == 0, local.stderr

    subtitles["params"]["path"] = str(tmp_path / "remote.srt")
    remote = write_manifest(place_on(manifest, server.address, ["whisper_4"], CUDA), "remote")
    plan = remotemedia("plan", remote, "--json", "--capabilities", profile("no-gpu"))
    assert plan.returncode == 0, plan.stderr
    engines = {node["id"]: node["engine"] for node in json.loads(plan.stdout)["nodes"]}
    assert engines["whisper_4"] == {"kind": "remote", "host": server.address}

    remote_run = remotemedia("run", remote, "--input", "null", "--capabilities", profile("no-gpu"), timeout=TIMEOUT_S)
    assert remote_run.returncode == 0, remote_run.stderr
    transcripts = [json.loads(line) for line in local.stdout.splitlines()]
    assert len(transcripts) == 3 and all(t["text"] for t in transcripts)
    assert remote_run.stdout == local.stdout
    assert "node stream opened node=whisper_4" in server.log()
    assert (tmp_path / "remote.srt").read_text() == (tmp_path / "local.srt").read_text()
