"""Code written for the upstream SDK, run by the real binary: node modules in the upstream style
in the embedded interpreter, manifests serialized with upstream's argument order, timestamps with
UTC offsets. (The SDK side of each is in tests/sdk/test_upstream_usage.py.)"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

# Imports as upstream code writes them; an async initialize/cleanup that awaits the base class's;
# self.logger. Nothing here is specific to this SDK.
UPSTREAM_STYLE_NODES = textwrap.dedent(
    '''
    from remotemedia import Node
    from remotemedia.nodes import PassThroughNode


    class Scale(Node):
        def __init__(self, factor=2, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor
            self.ready = False

        async def initialize(self):
            await super().initialize()
            self.logger.warning("scale ready, factor %s", self.factor)
            self.ready = True

        def process(self, data):
            if not self.ready:
                raise RuntimeError("process before initialize")
            return data * self.factor

        async def cleanup(self):
            await super().cleanup()


    class Tap(PassThroughNode):
        pass
    '''
)

# Run at import inside the binary's interpreter: is a catalogue module loaded before and after its
# class is imported from `remotemedia.nodes`? (Nothing else in the test pipeline loads it.)
LAZY_PROBE = textwrap.dedent(
    '''
    import sys

    import remotemedia.nodes
    from remotemedia.core.node import Node

    BEFORE = "remotemedia.nodes.text" in sys.modules
    from remotemedia.nodes import TextTransformNode  # noqa: E402
    AFTER = "remotemedia.nodes.text" in sys.modules and TextTransformNode.__module__ == "remotemedia.nodes.text"


    class Probe(Node):
        def process(self, data):
            return {"before": BEFORE, "after": AFTER}
    '''
)

BUILD_PIPELINE = textwrap.dedent(
    '''
    import sys
    sys.path.insert(0, sys.argv[1])
    from remotemedia import Pipeline
    from remotemedia.nodes import DataSinkNode, DataSourceNode
    from upstream_nodes import Scale, Tap

    pipeline = Pipeline(name="upstream-style")
    pipeline.add_node(DataSourceNode(name="input"))
    pipeline.add_node(Scale(name="scale", factor=3))
    pipeline.add_node(Tap(name="tap"))
    pipeline.add_node(DataSinkNode(name="output"))
    print(pipeline.serialize(False, "Written the upstream way"))
    '''
)


def test_nodes_written_the_upstream_way_run_in_the_binary(run_python, run_remotemedia, tmp_path: Path) -> None:
    (tmp_path / "upstream_nodes.py").write_text(UPSTREAM_STYLE_NODES)
    made = run_python("-c", BUILD_PIPELINE, str(tmp_path))
    manifest = json.loads(made.stdout)
    assert manifest["metadata"]["description"] == "Written the upstream way"
    assert [node.get("module") for node in manifest["nodes"]] == [None, "upstream_nodes", "upstream_nodes", None]
    path = tmp_path / "upstream.json"
    path.write_text(made.stdout)

    result = run_remotemedia("run", path, "--python-path", tmp_path, "--input", "1", "--input", "2.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "7.5"]
    assert "[scale_1] scale ready, factor 3" in result.stderr


def test_package_names_load_lazily_in_the_embedded_interpreter(run_remotemedia, tmp_path: Path) -> None:
    (tmp_path / "lazy_probe.py").write_text(LAZY_PROBE)
    manifest = tmp_path / "probe.json"
    manifest.write_text(json.dumps({
        "version": "v1",
        "metadata": {"name": "lazy"},
        "nodes": [{"id": "probe", "node_type": "lazy_probe:Probe", "runtime_hint": "rustpython"}],
    }))
    result = run_remotemedia("run", manifest, "--python-path", tmp_path, "--input", "null")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"before": False, "after": True}


def test_a_manifest_stamped_with_a_utc_offset_validates_and_runs(run_remotemedia, tmp_path: Path) -> None:
    manifest = tmp_path / "offset.json"
    manifest.write_text(json.dumps({
        "version": "v1",
        "metadata": {"name": "offset", "created_at": "2025-10-22T12:00:00+00:00"},
        "nodes": [{"id": "calc", "node_type": "CalculatorNode", "params": {"operation": "add", "operand": 5}}],
    }))
    assert run_remotemedia("validate", manifest).returncode == 0
    result = run_remotemedia("run", manifest, "--input", "10")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["15"]
