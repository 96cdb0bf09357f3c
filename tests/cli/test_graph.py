"""`remotemedia graph`: the pipeline as Graphviz dot or Mermaid, labelled with the planned engines."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

EXIT_INVALID = 2
HOST = "gpu-box:50051"

# A diamond: source fans out to a local VAD and a GPU ASR with a host, both fan in to the sink.
NODES = [
    {"id": "source", "node_type": "AudioSource"},
    {"id": "vad", "node_type": "VADNode", "runtime_hint": "cpython"},
    {"id": "asr", "node_type": "WhisperTranscriptionNode", "host": HOST, "capabilities": {"gpu": {"type": "cuda"}}},
    {"id": "sink", "node_type": "PassThroughNode"},
]
CONNECTIONS = [("source", "vad"), ("source", "asr"), ("vad", "sink"), ("asr", "sink")]

DOT_NODE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" \[label="((?:[^"\\]|\\.)*)", fillcolor="#[0-9a-f]{6}"\];$')
DOT_EDGE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)";$')
MERMAID_NODE = re.compile(r'^\s*(n\d+)\["([^"]*)"\]$')
MERMAID_EDGE = re.compile(r"^\s*(n\d+) --> (n\d+)$")


def dot_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


@pytest.fixture(scope="module")
def dot_bin() -> str:
    """Graphviz's `dot`, to prove the output is valid dot; CI installs it (see .ci/run)."""
    found = shutil.which("dot")
    if found is None:
        message = "Graphviz `dot` is not installed (apt-get install graphviz)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def render_svg_texts(dot_bin: str, source: str) -> list[str]:
    """Renders with Graphviz (which rejects invalid dot) and returns the texts drawn in the SVG."""
    from xml.etree import ElementTree

    result = subprocess.run([dot_bin, "-Tsvg"], input=source, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"dot rejected the graph: {result.stderr}\n{source}"
    root = ElementTree.fromstring(result.stdout)
    return [element.text or "" for element in root.iter("{http://www.w3.org/2000/svg}text")]


def parse_dot(source: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Node labels by id, and the edges, from our dot output (one statement per line)."""
    labels, edges = {}, []
    for line in source.splitlines():
        if node := DOT_NODE.match(line):
            labels[dot_unescape(node.group(1))] = dot_unescape(node.group(2))
        elif edge := DOT_EDGE.match(line):
            edges.append((dot_unescape(edge.group(1)), dot_unescape(edge.group(2))))
    return labels, edges


def test_dot_draws_every_node_with_type_and_engine(run_remotemedia, manifest_file, profile, dot_bin):
    manifest = manifest_file(NODES, CONNECTIONS, name="diamond")
    result = run_remotemedia("graph", manifest, "--format", "dot", "--capabilities", profile("with-cpython"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('digraph "diamond" {')
    labels, edges = parse_dot(result.stdout)
    assert labels == {
        "source": "source\nAudioSource\nrustpython",
        "vad": "vad\nVADNode\ncpython",
        "asr": f"asr\nWhisperTranscriptionNode\nremote {HOST}",
        "sink": "sink\nPassThroughNode\nrustpython",
    }
    assert sorted(edges) == sorted(CONNECTIONS)
    # Nodes placed on a host are grouped in a box named after it.
    cluster = re.search(r"subgraph cluster_\w+ \{(.*?)\n  \}", result.stdout, re.S)
    assert cluster is not None, result.stdout
    assert f'label="remote {HOST}"' in cluster.group(1)
    assert '"asr" [label=' in cluster.group(1) and '"vad"' not in cluster.group(1)

    drawn = render_svg_texts(dot_bin, result.stdout)
    for text in ("source", "AudioSource", "cpython", "WhisperTranscriptionNode", f"remote {HOST}"):
        assert text in drawn


def test_the_picture_follows_the_machine(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(NODES, CONNECTIONS, name="diamond")
    on_gpu = run_remotemedia("graph", manifest, "--capabilities", profile("cuda-8gb"), "--format", "dot")
    # No cpython on this profile: force RustPython so the graph can be planned.
    on_gpu_pure = run_remotemedia(
        "graph", manifest, "--capabilities", profile("cuda-8gb"), env={"REMOTEMEDIA_PYTHON_RUNTIME": "rustpython"}
    )

    assert on_gpu.returncode == EXIT_INVALID, "vad needs CPython, which cuda-8gb lacks"
    assert "node `vad` needs the CPython engine" in on_gpu.stderr
    assert on_gpu_pure.returncode == 0, on_gpu_pure.stderr
    labels, _ = parse_dot(on_gpu_pure.stdout)
    assert labels["asr"] == "asr\nWhisperTranscriptionNode\nrustpython"
    assert "subgraph" not in on_gpu_pure.stdout


def test_dot_is_the_default_format(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(NODES, CONNECTIONS, name="diamond")
    result = run_remotemedia("graph", manifest, "--capabilities", profile("with-cpython"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('digraph "diamond" {')


def test_mermaid_draws_every_node_edge_and_host(run_remotemedia, manifest_file, profile):
    manifest = manifest_file(NODES, CONNECTIONS, name="diamond")
    result = run_remotemedia("graph", manifest, "--format", "mermaid", "--capabilities", profile("with-cpython"))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    labels = {m.group(1): m.group(2) for line in lines if (m := MERMAID_NODE.match(line))}
    by_id = {label.split("<br/>")[0]: mermaid_id for mermaid_id, label in labels.items()}
    assert labels[by_id["vad"]] == "vad<br/>VADNode<br/>cpython"
    assert labels[by_id["asr"]] == f"asr<br/>WhisperTranscriptionNode<br/>remote {HOST}"
    edges = [(m.group(1), m.group(2)) for line in lines if (m := MERMAID_EDGE.match(line))]
    assert sorted(edges) == sorted((by_id[a], by_id[b]) for a, b in CONNECTIONS)
    # Every mermaid id used is declared, each subgraph is closed, each class names declared nodes.
    assert {mermaid_id for edge in edges for mermaid_id in edge} <= set(labels)
    openings = [line for line in lines if line.strip().startswith("subgraph ")]
    assert openings == [f'  subgraph host0["remote {HOST}"]']
    assert sum(line.strip() == "end" for line in lines) == len(openings)
    classes = [line.split()[1:] for line in lines if line.strip().startswith("class ")]
    assert {name for _, name in classes} == {"rustpython", "cpython", "remote"}
    assert {node for members, _ in classes for node in members.split(",")} == set(labels)


def test_awkward_names_stay_valid_in_both_formats(run_remotemedia, manifest_file, profile, dot_bin):
    # Node ids are restricted by the schema, but `end` is a Mermaid keyword; types and the
    # pipeline name are free text.
    types = ['say "hi"', "a<b>#1", "back\\slash", "plugins.audio:Gain"]
    ids = ["end", "v1.2", "with-dash", "under_score"]
    nodes = [{"id": node_id, "node_type": node_type} for node_id, node_type in zip(ids, types)]
    manifest = manifest_file(nodes, list(zip(ids, ids[1:])), name='quote " name')

    dot = run_remotemedia("graph", manifest, "--capabilities", profile("no-gpu"))
    assert dot.returncode == 0, dot.stderr
    assert dot.stdout.startswith('digraph "quote \\" name" {')
    labels, edges = parse_dot(dot.stdout)
    assert labels == {node_id: f"{node_id}\n{node_type}\nrustpython" for node_id, node_type in zip(ids, types)}
    assert edges == list(zip(ids, ids[1:]))
    drawn = render_svg_texts(dot_bin, dot.stdout)
    assert set(types) <= set(drawn)

    mermaid = run_remotemedia("graph", manifest, "--format", "mermaid", "--capabilities", profile("no-gpu"))
    assert mermaid.returncode == 0, mermaid.stderr
    lines = mermaid.stdout.splitlines()
    declared = [m.group(2) for line in lines if (m := MERMAID_NODE.match(line))]
    assert declared == [
        "end<br/>say #quot;hi#quot;<br/>rustpython",
        "v1.2<br/>a#lt;b#gt;#35;1<br/>rustpython",
        "with-dash<br/>back\\slash<br/>rustpython",
        "under_score<br/>plugins.audio:Gain<br/>rustpython",
    ]
    # `end` only ever appears inside a label, never as a statement that would close a subgraph.
    assert "end" not in [line.strip() for line in lines]


def test_an_unplaceable_pipeline_is_not_drawn(run_remotemedia, manifest_file, profile):
    manifest = manifest_file([{"id": "asr", "node_type": "Whisper", "capabilities": {"gpu": {"type": "cuda"}}}])
    result = run_remotemedia("graph", manifest, "--format", "mermaid", "--capabilities", profile("no-gpu"))
    assert result.returncode == EXIT_INVALID
    assert result.stdout == ""
    assert "node `asr` needs gpu cuda — no cuda GPU" in result.stderr


def test_an_unknown_format_is_a_usage_error(run_remotemedia, manifest_file):
    manifest = manifest_file([{"id": "a", "node_type": "X"}])
    result = run_remotemedia("graph", manifest, "--format", "png")
    assert result.returncode == EXIT_INVALID
    assert "invalid value 'png'" in result.stderr
    assert "dot" in result.stderr and "mermaid" in result.stderr
