"""Which embedded interpreter a pure-Python node runs in, through the real binary.

A node that declares `capabilities.cpu.cores` (the SDK: `Node.get_capabilities()`) gets a RustPython
interpreter of its own, so CPU-bound stages run in parallel; the others share one. Users see the
difference in module-level state: nodes in one interpreter share a module's globals, nodes in
different interpreters do not. `--interpreters shared|per-node|auto` overrides the rule.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

EXIT_FAILURE = 1
EXIT_INVALID = 2

# Every node counts its items in one module-level global: what a node reads back at cleanup says
# which nodes share its interpreter.
STAGES_MODULE = """
    from remotemedia.core.node import Node

    ITEMS_SEEN = 0
    MODULUS = 2**31


    def step(state, rounds):
        for _ in range(rounds):
            state = (state * 1103515245 + 12345) % MODULUS
        return state


    class Stage(Node):
        \"\"\"CPU-bound: it declares a core, so it runs in an interpreter of its own.\"\"\"

        def __init__(self, rounds=1000, **kwargs):
            super().__init__(**kwargs)
            self.rounds = rounds
            self.items = 0

        def get_capabilities(self):
            return {"cpu": {"cores": 1}}

        def initialize(self):
            print("initialized")

        def process(self, data):
            global ITEMS_SEEN
            if isinstance(data, dict):  # an upstream stage's flush report: passed on
                return data
            ITEMS_SEEN += 1
            self.items += 1
            return step(data, self.rounds)

        def flush(self):
            yield {"node": self.name, "items": self.items}

        def cleanup(self):
            print(f"cleanup: module saw {ITEMS_SEEN} items")


    class Light(Node):
        \"\"\"Declares nothing: it shares the run's interpreter.\"\"\"

        def process(self, data):
            global ITEMS_SEEN
            ITEMS_SEEN += 1
            return data

        def cleanup(self):
            print(f"cleanup: module saw {ITEMS_SEEN} items")


    class Failing(Stage):
        def process(self, data):
            return data // 0
    """


def write_stages(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "stages.py").write_text(textwrap.dedent(STAGES_MODULE))
    return directory


def sdk_manifest(run_python, tmp_path: Path, modules: Path, nodes: str) -> Path:
    """The manifest the SDK serializes for a chain of `nodes` (Python expressions over `stages`)."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(modules)!r})
        import stages
        from remotemedia.core.pipeline import Pipeline

        pipeline = Pipeline("interpreters")
        for node in [{nodes}]:
            pipeline.add_node(node)
        print(pipeline.serialize())
        """)
    manifest = tmp_path / "interpreters.json"
    manifest.write_text(run_python("-c", script).stdout)
    return manifest


def lcg(state: int, rounds: int) -> int:
    for _ in range(rounds):
        state = (state * 1103515245 + 12345) % 2**31
    return state


def outputs(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines()]


def cleanup_counts(stderr: str) -> dict[str, int]:
    """`{node id: items its module saw}` from the `[id] cleanup: module saw N items` lines."""
    counts = {}
    for line in stderr.splitlines():
        if "] cleanup: module saw " in line:
            label, _, rest = line.partition("] cleanup: module saw ")
            counts[label.lstrip("[")] = int(rest.split()[0])
    return counts


def test_cpu_bound_stages_each_run_in_their_own_interpreter(run_python, run_remotemedia, tmp_path):
    modules = write_stages(tmp_path / "modules")
    manifest = sdk_manifest(run_python, tmp_path, modules,
                            "stages.Stage(name='first', rounds=500), stages.Stage(name='second', rounds=700), "
                            "stages.Light(name='tap_a'), stages.Light(name='tap_b')")
    assert json.loads(manifest.read_text())["nodes"][0]["capabilities"] == {"cpu": {"cores": 1}}
    inputs = list(range(1, 9))

    result = run_remotemedia("run", manifest, "--python-path", modules, *[f"--input={i}" for i in inputs])

    assert result.returncode == 0, result.stderr
    # Each stage's flush report travels on through the later nodes, as any output does.
    assert outputs(result.stdout) == [lcg(lcg(i, 500), 700) for i in inputs] + [
        {"node": "first_0", "items": len(inputs)}, {"node": "second_1", "items": len(inputs)}]
    counts = cleanup_counts(result.stderr)
    # Each stage's module is its own; the two light nodes share one module, in the shared interpreter:
    # `tap_b` cleans up last and has seen the items of both (inputs and reports).
    assert counts["first_0"] == counts["second_1"] == len(inputs), result.stderr
    assert counts["tap_b_3"] == 2 * (len(inputs) + 2), result.stderr
    for node in ("first_0", "second_1"):
        assert f"[{node}] initialized" in result.stderr.splitlines(), result.stderr


def test_an_exception_in_a_node_with_its_own_interpreter_names_the_node_and_its_traceback(
        run_python, run_remotemedia, tmp_path):
    modules = write_stages(tmp_path / "modules")
    manifest = sdk_manifest(run_python, tmp_path, modules,
                            "stages.Stage(name='upstream', rounds=10), stages.Failing(name='breaks', rounds=10)")

    result = run_remotemedia("run", manifest, "--python-path", modules, "--input", "3")

    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "breaks_1" in result.stderr and "ZeroDivisionError" in result.stderr, result.stderr
    assert "stages.py" in result.stderr and "return data // 0" in result.stderr, result.stderr
    # Both nodes were cleaned up in their own interpreters, also after the failure.
    counts = cleanup_counts(result.stderr)
    assert set(counts) == {"upstream_0", "breaks_1"}, result.stderr


def test_interpreters_flag_overrides_the_rule_for_the_whole_run(run_python, run_remotemedia, tmp_path):
    modules = write_stages(tmp_path / "modules")
    manifest = sdk_manifest(run_python, tmp_path, modules,
                            "stages.Stage(name='cpu_a', rounds=10), stages.Stage(name='cpu_b', rounds=10), "
                            "stages.Light(name='light_a'), stages.Light(name='light_b')")
    inputs = ["--input", "1", "--input", "2"]

    shared = run_remotemedia("run", manifest, "--python-path", modules, "--interpreters", "shared", *inputs)
    per_node = run_remotemedia("run", manifest, "--python-path", modules, "--interpreters", "per-node", *inputs)

    assert shared.returncode == 0, shared.stderr
    assert per_node.returncode == 0, per_node.stderr
    assert outputs(shared.stdout) == outputs(per_node.stdout)
    # Shared: every node counts into the one module; the sink cleans up last, having seen them all
    # (stages count the 2 inputs, light nodes the 2 stage reports too).
    assert cleanup_counts(shared.stderr)["light_b_3"] == 2 + 2 + 4 + 4, shared.stderr
    # Per node: each sees only its own items.
    assert cleanup_counts(per_node.stderr) == {"cpu_a_0": 2, "cpu_b_1": 2, "light_a_2": 4, "light_b_3": 4}, per_node.stderr


def test_an_unknown_interpreters_choice_is_an_invalid_invocation(run_remotemedia, tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"version": "v1", "metadata": {"name": "m"},
                                    "nodes": [{"id": "only", "node_type": "PassThroughNode"}]}))

    result = run_remotemedia("run", manifest, "--interpreters", "some", "--input", "1")

    assert result.returncode == EXIT_INVALID
    assert "--interpreters" in result.stderr and "per-node" in result.stderr, result.stderr
