"""`remotemedia run --audio`: any audio file or a pipe into a manifest, streamed, and bad media
refused with errors that say what and where."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import wave
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
SPEECH_WAV = REPO / "examples" / "audio" / "speech.wav"
SPEECH_MP3 = REPO / "examples" / "audio" / "speech.mp3"
EXPECTED_SEGMENTS = [{"start": 0.27, "end": 1.59}, {"start": 2.55, "end": 3.78}, {"start": 4.74, "end": 5.31}]


@pytest.fixture
def speech_manifest(tmp_path: Path) -> Path:
    """examples/manifests/speech_audio.json, recording into the test's directory."""
    document = json.loads((REPO / "examples" / "manifests" / "speech_audio.json").read_text())
    for node in document["nodes"]:
        if node["node_type"] == "WavWriterNode":
            node["params"]["path"] = str(tmp_path / "recording.wav")
    path = tmp_path / "speech_audio.json"
    path.write_text(json.dumps(document))
    return path


def outputs(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines()]


def segments_of(lines: list) -> list:
    return [line["value"] for line in lines if line["sink"] == "vad_3"]


def test_audio_file_runs_the_manifest_like_a_reader_node(run_remotemedia, speech_manifest, tmp_path):
    result = run_remotemedia("run", speech_manifest, "--audio", SPEECH_WAV, "--quiet")
    assert result.returncode == 0, result.stderr
    lines = outputs(result.stdout)
    assert segments_of(lines) == EXPECTED_SEGMENTS
    # The same as the reader-node manifest it was made from.
    reader = run_remotemedia("run", REPO / "examples" / "manifests" / "speech_vad.json", "--input", "null", "--quiet")
    assert [line for line in outputs(reader.stdout)] == EXPECTED_SEGMENTS
    with wave.open(str(tmp_path / "recording.wav")) as written:
        assert (written.getframerate(), written.getnchannels(), written.getnframes()) == (16000, 1, 88520)


def test_an_mp3_gives_the_same_segments_within_30_ms(run_remotemedia, speech_manifest):
    result = run_remotemedia("run", speech_manifest, "--audio", SPEECH_MP3, "--quiet")
    assert result.returncode == 0, result.stderr
    found = segments_of(outputs(result.stdout))
    assert len(found) == len(EXPECTED_SEGMENTS)
    for got, want in zip(found, EXPECTED_SEGMENTS):
        assert abs(got["start"] - want["start"]) <= 0.03 + 1e-9 and abs(got["end"] - want["end"]) <= 0.03 + 1e-9, found


def test_a_sox_pipe_on_stdin(speech_manifest, remotemedia_bin, binary_env):
    """`sox speech.wav -t wav - | remotemedia run … --audio -`: sox announces a length it cannot know."""
    sox = shutil.which("sox")
    if sox is None:
        pytest.fail("sox is needed (apt-get install sox)", pytrace=False)
    producer = subprocess.Popen([sox, str(SPEECH_WAV), "-t", "wav", "-"], stdout=subprocess.PIPE)
    result = subprocess.run([str(remotemedia_bin), "run", str(speech_manifest), "--audio", "-", "--quiet"],
                            stdin=producer.stdout, capture_output=True, text=True, env=binary_env(), timeout=60)
    producer.stdout.close()
    assert producer.wait(timeout=10) == 0
    assert result.returncode == 0, result.stderr
    assert segments_of(outputs(result.stdout)) == EXPECTED_SEGMENTS


def test_frames_flow_while_the_writer_is_still_writing(tmp_path, remotemedia_bin, binary_env):
    """A writer sends the header and the first second of audio, then waits: the outputs for that
    second must come out before it sends anything more (a handshake, no timing assumptions)."""
    manifest = tmp_path / "gain.json"
    manifest.write_text(json.dumps({"version": "v1", "metadata": {"name": "gain"},
                                    "nodes": [{"id": "gain", "node_type": "GainNode", "params": {"gain_db": 0}}]}))
    with wave.open(str(SPEECH_WAV)) as source:
        rate, channels, width = source.getframerate(), source.getnchannels(), source.getsampwidth()
        pcm = source.readframes(source.getnframes())
    header = wave_header(rate, channels, width)
    first_second = pcm[: rate * channels * width]

    process = subprocess.Popen([str(remotemedia_bin), "run", str(manifest), "--audio", "-", "--quiet"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=binary_env())
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        process.stdin.write(header + first_second)
        process.stdin.flush()
        # Every 20 ms frame of the first second, less the one still being gathered.
        seen = 0.0
        while seen < 0.9:
            try:
                frame = json.loads(lines.get(timeout=30))
            except queue.Empty:
                pytest.fail(f"no output for the first second while the writer waits (last timestamp {seen})")
            seen = frame["timestamp"]
        process.stdin.write(pcm[len(first_second):])
        process.stdin.close()
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        process.kill()


def wave_header(rate: int, channels: int, width: int) -> bytes:
    """The header a writer to a pipe sends: the length it cannot know is 0x7ffff000, as sox writes."""
    import struct

    data = 0x7FFFF000
    return (b"RIFF" + struct.pack("<I", data + 36) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * width, channels * width, width * 8) +
            b"data" + struct.pack("<I", data))


def test_an_all_native_manifest_starts_no_interpreter(run_remotemedia, speech_manifest):
    debug = {"RUST_LOG": "remotemedia_rustpython=debug"}
    native = run_remotemedia("run", speech_manifest, "--audio", SPEECH_WAV, "--quiet", env=debug)
    assert native.returncode == 0, native.stderr
    assert "RustPython interpreter ready" not in native.stderr
    # The check can fail: a pure-Python node does start one.
    python = run_remotemedia("run", REPO / "examples" / "manifests" / "calculator.json", "--input", "1", env=debug)
    assert "RustPython interpreter ready" in python.stderr


def test_a_reader_at_the_root_is_refused_with_the_way_out(run_remotemedia):
    result = run_remotemedia("run", REPO / "examples" / "manifests" / "speech_vad.json", "--audio", SPEECH_WAV)
    assert result.returncode == 2
    assert "root node `reader_0` is a WavReaderNode" in result.stderr, result.stderr


# Bad media: (file contents, exit code, what stderr must say). Exit 2: nothing ran; exit 1: the
# audio broke off after frames had flowed.
def truncated_wav() -> bytes:
    """A WAV whose header announces 2 s of 16 kHz mono and holds 1 s."""
    import struct

    data = 16000 * 2 * 2
    header = (b"RIFF" + struct.pack("<I", data + 36) + b"WAVEfmt " +
              struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", data))
    return header + bytes(range(256)) * 125


def zero_channel_wav() -> bytes:
    import struct

    return (b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 0, 16000, 0, 0, 16) +
            b"data" + struct.pack("<I", 0))


def mp3_in_wav() -> bytes:
    """A WAV whose format tag (0x55) says its data is MP3: a codec the WAV reader does not decode."""
    import struct

    body = (b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 0x55, 1, 16000, 32000, 2, 16) +
            b"data" + struct.pack("<I", 2000) + b"\1" * 2000)
    return b"RIFF" + struct.pack("<I", len(body)) + body


BAD_MEDIA = {
    "empty.wav": (b"", 2, "the input is empty"),
    "garbage.mp3": (bytes((i * 7919) % 251 for i in range(20000)), 2, "not a supported audio format"),
    "header-only.wav": (truncated_wav()[:30], 2, "ends inside its header"),
    "zero-channels.wav": (zero_channel_wav(), 2, "0 channels (1 to 256 expected)"),
    "mp3-in.wav": (mp3_in_wav(), 2, "unsupported WAV audio"),
    "truncated.wav": (truncated_wav(), 1, "truncated: the header announces 32000 samples per channel, the data ends after 16000"),
}


@pytest.mark.parametrize("name", sorted(BAD_MEDIA))
def test_bad_media_fails_clearly_and_keeps_what_was_produced(name, run_remotemedia, tmp_path):
    content, code, message = BAD_MEDIA[name]
    path = tmp_path / name
    path.write_bytes(content)
    manifest = tmp_path / "gain.json"
    manifest.write_text(json.dumps({"version": "v1", "metadata": {"name": "gain"},
                                    "nodes": [{"id": "gain", "node_type": "GainNode"}]}))

    result = run_remotemedia("run", manifest, "--audio", path, "--quiet")

    assert result.returncode == code, result.stderr
    assert message in result.stderr and name in result.stderr, result.stderr
    assert "panicked" not in result.stderr
    if code == 1:
        # The second of audio before the cut went through: 50 frames of 20 ms.
        assert len(outputs(result.stdout)) == 50


def test_a_rate_change_mid_stream_is_an_error_after_the_first_part(run_remotemedia, tmp_path):
    lame, sox = shutil.which("lame"), shutil.which("sox")
    if lame is None or sox is None:
        pytest.fail("lame and sox are needed (apt-get install lame sox)", pytrace=False)
    for rate in (16000, 44100):
        subprocess.run([sox, "-n", "-r", str(rate), "-c", "1", "-b", "16", str(tmp_path / f"{rate}.wav"),
                        "synth", "0.5", "sine", "440"], check=True)
        subprocess.run([lame, "--quiet", str(tmp_path / f"{rate}.wav"), str(tmp_path / f"{rate}.mp3")], check=True)
    joined = tmp_path / "joined.mp3"
    joined.write_bytes((tmp_path / "16000.mp3").read_bytes() + (tmp_path / "44100.mp3").read_bytes())
    manifest = tmp_path / "gain.json"
    manifest.write_text(json.dumps({"version": "v1", "metadata": {"name": "gain"},
                                    "nodes": [{"id": "gain", "node_type": "GainNode"}]}))

    result = run_remotemedia("run", manifest, "--audio", joined, "--quiet")

    assert result.returncode == 1, result.stderr
    assert "changed from 16000 Hz, 1 channel(s) to 44100 Hz, 1 channel(s)" in result.stderr, result.stderr
    assert "joined.mp3" in result.stderr and "near byte" in result.stderr
    assert len(outputs(result.stdout)) >= 20  # the first half second went through


def test_a_reader_node_on_a_truncated_file_names_the_node(run_remotemedia, tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(truncated_wav())
    manifest = tmp_path / "read.json"
    manifest.write_text(json.dumps({"version": "v1", "metadata": {"name": "read"}, "nodes": [
        {"id": "reader", "node_type": "WavReaderNode", "params": {"path": str(path)}}]}))

    result = run_remotemedia("run", manifest, "--input", "null", "--quiet")

    assert result.returncode == 1
    assert "node `reader` failed in process" in result.stderr and "truncated" in result.stderr, result.stderr
    assert len(outputs(result.stdout)) == 50


def lying_wav(data_length: int, data: bytes, extra: bytes = b"") -> bytes:
    """A 16 kHz mono WAV whose RIFF length claims 4 GB and whose data chunk claims `data_length`."""
    import struct

    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", data_length) + data
    return b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + body


# Headers claiming gigabytes, in files of a few KB: file → {source: (exit code, what stderr must say)},
# read from the file and from stdin (where no length can be checked against the end of the input).
LYING_HEADERS = {
    # 1.5 GB announced, 1 s there: the second goes through, then the file is truncated; a stream
    # is read to its end.
    "data-1.5gb.wav": (lying_wav(1_500_000_000, b"\1\0" * 16000), {
        "file": (1, "truncated: the header announces 750000000 samples per channel, the data ends after 16000"),
        "stdin": (0, "")}),
    # 4 GB announced is what writers to a pipe announce: read to its end.
    "data-4gb.wav": (lying_wav(0xFFFFFFF0, b"\1\0" * 16000), {"file": (0, ""), "stdin": (0, "")}),
    # A LIST chunk claiming 4 GB before the data.
    "list-4gb.wav": (lying_wav(32000, b"\1\0" * 16000, b"LIST" + (0xFFFFFFF0).to_bytes(4, "little") + b"INFO" * 100), {
        "file": (2, "a chunk's size runs past the end of the file"),
        "stdin": (2, "stdin: the input ends inside its header")}),
}


@pytest.mark.parametrize("name", sorted(LYING_HEADERS))
def test_a_header_claiming_gigabytes_allocates_what_is_there(name, remotemedia_bin, binary_env, tmp_path):
    """Run with its address space capped at 256 MB (an all-native run needs far less: the 4 GB case
    reads its second of audio under it): a buffer sized by the header, 1.5 to 4 GB, cannot be
    allocated there and would abort the run."""
    import resource

    content, expected = LYING_HEADERS[name]
    path = tmp_path / name
    path.write_bytes(content)
    manifest = tmp_path / "gain.json"
    manifest.write_text(json.dumps({"version": "v1", "metadata": {"name": "gain"},
                                    "nodes": [{"id": "gain", "node_type": "GainNode"}]}))

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))

    for source, (code, message) in expected.items():
        argument, stdin = (str(path), None) if source == "file" else ("-", content)
        result = subprocess.run([str(remotemedia_bin), "run", str(manifest), "--audio", argument, "--quiet"],
                                input=stdin, capture_output=True, env=binary_env(), timeout=60,
                                preexec_fn=cap_memory)
        stderr = result.stderr.decode()
        assert result.returncode == code, (source, stderr)
        assert message in stderr and "panicked" not in stderr and "allocat" not in stderr, (source, stderr)
        if code != 2:
            assert len(result.stdout.splitlines()) == 50, (source, stderr)  # the second that is there
        if code == 1:
            assert name in stderr
