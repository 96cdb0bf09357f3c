"""How items cross between the binary's node threads: batched when a node has a backlog, at once
when it has none. No timing: ordering, counts and handshakes only."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

HANDSHAKE_TIMEOUT_S = 60


def test_a_burst_through_a_chain_arrives_complete_in_order_and_counted_per_item(
        run_remotemedia, manifest_file, tmp_path):
    items = 20_000
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(f"{i}\n" for i in range(items)))
    ids = [f"pass_{i}" for i in range(4)]
    manifest = manifest_file([{"id": node_id, "node_type": "PassThroughNode"} for node_id in ids],
                             list(zip(ids, ids[1:])), name="burst")

    result = run_remotemedia("run", manifest, "--input-file", inputs, "--channel-capacity", "16",
                             "--metrics", "--json")

    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == list(range(items))
    metrics = json.loads(result.stderr.strip().splitlines()[-1])
    counts = {node["node"]: (node["items_in"], node["items_out"]) for node in metrics["nodes"]}
    assert counts == {node_id: (items, items) for node_id in ids}


HANDSHAKE_NODE = """
    import os
    import time
    from remotemedia.core.node import Node

    class Handshake(Node):
        '''Yields 0, 1, 2...; yields the next only once the reader acknowledged the last one.'''
        def __init__(self, acks, **kwargs):
            super().__init__(**kwargs)
            self.acks = acks

        def process(self, count):
            for value in range(count):
                yield value
                deadline = time.monotonic() + {timeout}
                while not os.path.exists(f"{{self.acks}}/{{value}}"):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"item {{value}} never reached the reader")
                    time.sleep(0.001)
"""


def test_a_generator_s_items_reach_the_reader_one_by_one_as_they_are_yielded(
        remotemedia_bin: Path, binary_env, manifest_file, tmp_path):
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "handshake.py").write_text(textwrap.dedent(HANDSHAKE_NODE.format(timeout=HANDSHAKE_TIMEOUT_S)))
    acks = tmp_path / "acks"
    acks.mkdir()
    manifest = manifest_file(
        [{"id": "generator", "node_type": "handshake:Handshake", "params": {"acks": str(acks)}},
         {"id": "relay", "node_type": "PassThroughNode"}],
        [("generator", "relay")],
        name="handshake",
    )

    with subprocess.Popen([str(remotemedia_bin), "run", str(manifest), "--python-path", str(modules),
                           "--input", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=binary_env()) as process:
        assert process.stdout is not None and process.stderr is not None
        received = []
        for line in process.stdout:
            value = json.loads(line)
            received.append(value)
            # The generator is waiting for this before it yields the next item.
            (acks / str(value)).touch()
        stderr = process.stderr.read()
        returncode = process.wait(timeout=HANDSHAKE_TIMEOUT_S)

    assert returncode == 0, stderr
    assert received == [0, 1, 2, 3, 4]
