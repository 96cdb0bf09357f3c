"""`remotemedia run` on Python nodes: the real binary, its embedded RustPython, user modules on disk."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

EXIT_FAILURE = 1
EXIT_INVALID = 2


def json_lines(stdout: str) -> list:
    """Every stdout line must be JSON: nothing else may reach the results stream."""
    return [json.loads(line) for line in stdout.splitlines()]


def write_module(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_seed_example_serialized_by_the_sdk_runs_in_the_binary(run_python, run_remotemedia, tmp_path):
    manifest = tmp_path / "seed.json"
    manifest.write_text(run_python("examples/seed_pipeline.py").stdout)

    result = run_remotemedia("run", manifest, "--input", "10")

    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [15]


def test_print_and_logging_reach_stderr_labelled_with_the_node_id(run_remotemedia, manifest_file, tmp_path):
    modules = tmp_path / "modules"
    write_module(modules, "chatty", """
        import logging
        from remotemedia.core.node import Node

        class Chatty(Node):
            def initialize(self):
                print("ready")

            def process(self, data):
                print("got", data, end="")
                print("!")
                logging.getLogger("chatty").warning("item %s", data)
                return data
        """)
    manifest = manifest_file([{"id": "talker_7", "node_type": "chatty:Chatty"}], name="chatty")

    result = run_remotemedia("run", manifest, "--python-path", modules, "--input", "1", "--input", '"two"')

    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == [1, "two"]
    lines = result.stderr.splitlines()
    for expected in ["[talker_7] ready", "[talker_7] got 1!", "[talker_7] item 1", "[talker_7] got two!",
                     "[talker_7] item two"]:
        assert expected in lines, result.stderr


def test_one_interpreter_serves_every_node_of_a_run(run_remotemedia, manifest_file, tmp_path):
    """The module is imported once for three nodes, and its globals are shared, as in CPython."""
    modules = tmp_path / "modules"
    imports = tmp_path / "imports.txt"
    write_module(modules, "counted", f"""
        import itertools
        from remotemedia.core.node import Node

        with open({str(imports)!r}, "a") as log:
            log.write("imported\\n")
        TICKETS = itertools.count()

        class Ticket(Node):
            def process(self, data):
                return next(TICKETS)
        """)
    manifest = manifest_file([{"id": f"t{i}", "node_type": "counted:Ticket"} for i in range(3)],
                             [("t0", "t1"), ("t1", "t2")], name="tickets")

    result = run_remotemedia("run", manifest, "--python-path", modules, "--input", "0", "--input", "0")

    assert result.returncode == 0, result.stderr
    assert imports.read_text() == "imported\n"
    # Six draws from one shared counter: each item is drawn by t0, then t1, then t2, so the sink's
    # first draw comes after at least two others and its second is the last of all six. (Separate
    # interpreters would each count from 0.)
    first, second = json_lines(result.stdout)
    assert 2 <= first < 5 and second == 5


def test_nodes_importing_one_package_lazily_at_once_do_not_deadlock(run_remotemedia, manifest_file, tmp_path):
    """One node imports a package whose `__init__` imports a slow submodule; another imports that
    submodule directly, both in `initialize`. Done at once on two threads, Python's import locks
    would report a deadlock; the engine sets nodes up one at a time, as the SDK's local run does."""
    modules = tmp_path / "modules"
    write_module(modules / "slowpkg", "__init__", "from slowpkg import part\n")
    write_module(modules / "slowpkg", "part", "import time\ntime.sleep(0.3)\nVALUE = 42\n")
    write_module(modules, "lazy", """
        from remotemedia.core.node import Node

        class WholePackage(Node):
            def initialize(self):
                import slowpkg
                self.value = slowpkg.part.VALUE

            def process(self, data):
                return self.value

        class JustThePart(WholePackage):
            def initialize(self):
                from slowpkg.part import VALUE
                self.value = VALUE
        """)
    manifest = manifest_file([{"id": "whole", "node_type": "lazy:WholePackage"},
                              {"id": "part", "node_type": "lazy:JustThePart"}], name="lazy-imports")

    result = run_remotemedia("run", manifest, "--python-path", modules, "--input", "0")

    assert result.returncode == 0, result.stderr
    outputs = sorted(json_lines(result.stdout), key=lambda line: line["sink"])
    assert outputs == [{"sink": "part", "value": 42}, {"sink": "whole", "value": 42}]


def test_an_exception_names_the_node_its_type_and_shows_the_traceback(run_remotemedia, manifest_file):
    manifest = manifest_file(
        [{"id": "calc_1", "node_type": "CalculatorNode", "params": {"operation": "divide", "operand": 0}}],
        name="divide",
    )

    result = run_remotemedia("run", manifest, "--input", "4")

    assert result.returncode == EXIT_FAILURE
    assert result.stdout == ""
    assert "node `calc_1` failed in process" in result.stderr
    assert "NodeError: division by zero" in result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert "ZeroDivisionError" in result.stderr


def test_a_syntax_error_in_a_user_module_names_file_and_line(run_remotemedia, manifest_file, tmp_path):
    modules = tmp_path / "modules"
    broken = write_module(modules, "broken", """
        from remotemedia.core.node import Node

        class Broken(Node):
            def process(self, data)
                return data
        """)
    manifest = manifest_file([{"id": "b", "node_type": "Broken", "module": "broken"}], name="broken")

    result = run_remotemedia("run", manifest, "--python-path", modules, "--input", "1")

    # Found when node types are checked, before the run creates any node.
    assert result.returncode == EXIT_INVALID, result.stderr
    assert "node `b` (Broken): " in result.stderr
    assert f"({broken}, line 5)" in result.stderr


def test_a_user_node_imports_a_package_installed_with_pip_target(run_remotemedia, manifest_file, tmp_path):
    """humanize: a pure-Python package with submodules, data files and an importlib.metadata version."""
    packages = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--target", str(packages), "humanize==4.*"],
        capture_output=True, text=True, timeout=300,
    )
    assert pip.returncode == 0, f"pip install --target failed:\n{pip.stderr}"
    modules = tmp_path / "modules"
    write_module(modules, "sizes", """
        import humanize
        from remotemedia.core.node import Node

        class HumanSize(Node):
            def process(self, data):
                return {"size": humanize.naturalsize(data), "count": humanize.intword(data * 1000),
                        "version": humanize.__version__}
        """)
    manifest = manifest_file([{"id": "h", "node_type": "sizes:HumanSize"}], name="humanize")

    # Modules from --python-path, the package from REMOTEMEDIA_PYTHON_PATH: both are searched.
    result = run_remotemedia("run", manifest, "--python-path", modules, "--input", "123456",
                             env={"REMOTEMEDIA_PYTHON_PATH": str(packages)})

    assert result.returncode == 0, result.stderr
    [output] = json_lines(result.stdout)
    assert output["size"] == "123.5 kB"
    assert output["count"] == "123.5 million"
    assert output["version"].startswith("4.")


def test_a_python_path_that_is_not_a_directory_is_invalid_input(run_remotemedia, manifest_file, tmp_path):
    manifest = manifest_file([{"id": "p", "node_type": "PassThroughNode"}], name="pass")

    result = run_remotemedia("run", manifest, "--python-path", tmp_path / "nowhere", "--input", "1")

    assert result.returncode == EXIT_INVALID
    assert "--python-path" in result.stderr and "nowhere" in result.stderr


def test_the_environment_of_a_cpython_install_does_not_leak_in(run_remotemedia, manifest_file, tmp_path):
    """A PYTHONPATH meant for CPython (here: a module shadowing `json`) must not change the run."""
    shadow = tmp_path / "shadow"
    write_module(shadow, "json", "raise ImportError('the CPython PYTHONPATH leaked into the binary')\n")
    manifest = manifest_file([{"id": "sink", "node_type": "DataSinkNode",
                               "params": {"path": str(tmp_path / "out.jsonl")}}], name="sink")

    result = run_remotemedia("run", manifest, "--input", '{"a": [1]}', env={"PYTHONPATH": str(shadow)})

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.jsonl").read_text() == '{"a": [1]}\n'


STREAMING_NODES = """
    import asyncio
    import time
    from remotemedia.core.node import Node

    class Marked(Node):
        '''Writes `<name> cleaned up` to `marks` in cleanup (the runtime names a node by its id).'''
        def __init__(self, marks, **kwargs):
            super().__init__(**kwargs)
            self.marks = marks

        def mark(self, text):
            with open(self.marks, "a") as f:
                f.write(text + "\\n")

        def cleanup(self):
            self.mark(f"{self.name} cleaned up")

    class Source(Marked):
        def process(self, data):
            return data

    class Ticker(Marked):
        '''An async generator streaming `data` ticks, slowly: still mid-stream when the other branch fails.'''
        async def process(self, data):
            try:
                for tick in range(data):
                    await asyncio.sleep(0.002)
                    yield tick
                    # Runs once the tick was emitted: the count of ticks delivered so far.
                    with open(self.marks + ".ticks", "w") as f:
                        f.write(str(tick + 1))
            finally:
                self.mark(f"{self.name} closed")

    class FailsWhileTicking(Marked):
        '''Fails on its first item, once the ticker is well into its stream for that same input.'''
        def ticks(self):
            try:
                with open(self.marks + ".ticks") as f:
                    return int(f.read() or 0)
            except FileNotFoundError:
                return 0

        def process(self, data):
            deadline = time.monotonic() + 30
            while self.ticks() < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            raise RuntimeError(f"item {data!r} refused")
"""


def test_a_failing_branch_stops_a_streaming_branch_and_everything_is_cleaned_up(
        run_remotemedia, manifest_file, tmp_path):
    modules = tmp_path / "modules"
    write_module(modules, "branches", STREAMING_NODES)
    marks = tmp_path / "marks.txt"

    def node(node_id: str, cls: str) -> dict:
        return {"id": node_id, "node_type": f"branches:{cls}", "params": {"marks": str(marks)}}

    manifest = manifest_file(
        [node("source", "Source"), node("ticker", "Ticker"), node("strict", "FailsWhileTicking")],
        [("source", "ticker"), ("source", "strict")],
        name="fan-out-failure",
    )

    result = run_remotemedia("run", manifest, "--python-path", modules,
                             *[arg for _ in range(5) for arg in ("--input", "5000")])

    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "node `strict` failed in process" in result.stderr
    assert "RuntimeError: item 5000 refused" in result.stderr
    # The ticker was stopped mid-stream on the failing input (its generator closed, no later
    # input started); what it emitted before the failure was still delivered.
    ticks = [line["value"] for line in json_lines(result.stdout) if line["sink"] == "ticker"]
    assert 10 <= len(ticks) < 5000
    assert ticks == list(range(len(ticks)))
    done = marks.read_text().splitlines()
    assert sorted(done) == ["source cleaned up", "strict cleaned up", "ticker cleaned up", "ticker closed"]


def test_nodes_lists_the_frozen_catalogue(run_remotemedia):
    result = run_remotemedia("nodes", "--json")

    assert result.returncode == 0, result.stderr
    catalogue = {entry["node_type"]: entry["module"] for entry in json.loads(result.stdout)}
    assert catalogue["CalculatorNode"] == "remotemedia.nodes.calculator"
    assert catalogue["WavReaderNode"] == "remotemedia.nodes.audio.wav"
    from remotemedia.engine_api import catalogue as sdk_catalogue
    assert catalogue == sdk_catalogue()
