"""`run --channel-capacity N` takes effect (issue 16, point 7): a producer ahead of a consumer that
holds its first item gets exactly as far as the edge between them lets it — at most N hand-offs of
up to min(N, 8) items (crates/core/src/executor/handoff.rs), plus the batch it is filling and the
item the consumer holds — and no further. Counting the items the producer made proves the bound;
with the default capacity it gets further, which proves the flag changed something."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import pytest

HANG_GUARD_S = 60
# The producer's count must stay put this long to be taken as where backpressure stopped it.
SETTLED_S = 1.0
ITEMS = 1000

NODES = textwrap.dedent(
    """
    import os
    import time
    from remotemedia.core.node import Node

    class Produce(Node):
        '''Yields 0 .. n-1, counting each in its log before it yields it.'''
        def __init__(self, log, **kwargs):
            super().__init__(**kwargs)
            self.log = log

        def process(self, n):
            for value in range(n):
                with open(self.log, "a") as log:
                    log.write(f"{value}\\n")
                yield value

    class Hold(Node):
        '''Holds its first item until the release file exists; then passes everything through.'''
        def __init__(self, release, **kwargs):
            super().__init__(**kwargs)
            self.release = release

        def process(self, value):
            deadline = time.monotonic() + 60
            while not os.path.exists(self.release):
                if time.monotonic() > deadline:
                    raise RuntimeError("never released")
                time.sleep(0.005)
            return value
    """
)


def produced_while_held(remotemedia_bin: Path, binary_env, manifest_file, tmp_path: Path, *args: str) -> int:
    """How many items the producer made while the consumer held the first one."""
    run_dir = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    run_dir.mkdir()
    (run_dir / "capacity_nodes.py").write_text(NODES)
    log, release = run_dir / "produced.log", run_dir / "release"
    manifest = manifest_file(
        [{"id": "produce", "node_type": "capacity_nodes:Produce", "params": {"log": str(log)}},
         {"id": "hold", "node_type": "capacity_nodes:Hold", "params": {"release": str(release)}}],
        [("produce", "hold")],
        name=f"capacity-{run_dir.name}",
    )
    with subprocess.Popen(
        [remotemedia_bin, "run", manifest, "--python-path", run_dir, "--input", str(ITEMS), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=binary_env(),
    ) as process:
        count, since, started = -1, time.monotonic(), time.monotonic()
        while True:
            assert process.poll() is None, process.communicate()
            now_count = len(log.read_text().split()) if log.exists() else 0
            if now_count != count:
                count, since = now_count, time.monotonic()
            elif count > 0 and time.monotonic() - since > SETTLED_S:
                break
            assert time.monotonic() - started < HANG_GUARD_S, "the producer never settled"
            time.sleep(0.02)
        release.touch()
        stdout, stderr = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == 0, stderr
    assert [int(line) for line in stdout.split()] == list(range(ITEMS))
    return count


DEFAULT_CAPACITY = 16  # remotemedia_runtime::executor::DEFAULT_CHANNEL_CAPACITY


@pytest.mark.parametrize("capacity", [1, 3, None], ids=["1", "3", "default"])
def test_a_producer_gets_exactly_as_far_ahead_as_the_channel_capacity_allows(
    remotemedia_bin, binary_env, manifest_file, tmp_path, capacity
):
    args = ("--channel-capacity", str(capacity)) if capacity else ()
    produced = produced_while_held(remotemedia_bin, binary_env, manifest_file, tmp_path, *args)
    # The producer has no input waiting (one input line), so it hands each item over alone: the
    # edge holds `capacity` items, the consumer holds one, and the producer made one more that
    # waits for room. The documented bound with batching is capacity × min(capacity, 8) + …; this
    # run shows the capacity itself, which the default (16) would exceed for 1 and 3.
    assert produced == (capacity or DEFAULT_CAPACITY) + 2
