"""The one contract between the runtime's Python engines and the SDK (`remotemedia.engine_api`):
what the Rust side calls must exist here, and the pieces behave as both engines rely on."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from remotemedia import engine_api
from remotemedia.core.driver import NodeDriver
from remotemedia.nodes.base import PassThroughNode

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "crates" / "core" / "src" / "python_contract.rs"


def rust_contract() -> dict[str, str]:
    """`pub const NAME: &str = "value";` of the Rust side, by constant name."""
    return dict(re.findall(r'pub const ([A-Z_]+): &str = "([^"]+)";', CONTRACT.read_text()))


def test_every_name_the_engines_call_is_defined_here():
    contract = rust_contract()
    assert contract.pop("MODULE") == engine_api.__name__
    assert contract, "the Rust side names the functions it calls"
    for constant, name in contract.items():
        assert callable(getattr(engine_api, name, None)), f"{constant} = {name!r} is not in engine_api"
    assert sorted(contract.values()) == sorted(engine_api.__all__)


def test_load_node_class_and_the_catalogue_agree():
    for node_type in engine_api.catalogue():
        if node_type in {"WhisperTranscriptionNode", "TransformersPipelineNode"}:
            continue  # their modules import fine, but the classes are checked in tests/sdk/test_ml_nodes.py
        assert engine_api.load_node_class(node_type).__name__ == node_type


def test_class_engine_reads_a_declared_hint():
    assert engine_api.class_engine("PassThroughNode") == ("pure", "")
    assert engine_api.class_engine("SincResampleNode") == ("declares", "cpython")
    verdict, detail = engine_api.class_engine("NoSuchNode")
    assert verdict == "not-found" and "unknown node type 'NoSuchNode'" in detail


def test_the_driver_outputs_lazy_results_and_passes_plain_values():
    driver = engine_api.NodeDriver(PassThroughNode(name="p"))
    assert engine_api.NodeDriver is NodeDriver
    assert list(driver.process(3)) == [3]
    assert list(driver.outputs(x for x in (1, 2))) == [1, 2]
    lazy = engine_api.lazy_result_types()
    assert isinstance((x for x in ()), lazy) and not isinstance(3, lazy)


def test_labelled_output_gives_whole_lines_labelled_by_thread():
    written: list[str] = []
    stream = engine_api.LabelledOutput("<stdout>", written.append)

    def node(label: str) -> None:
        engine_api.set_node_label(label)
        stream.write("half ")
        stream.write("line\nsecond")
        stream.flush()

    threads = [threading.Thread(target=node, args=(label,)) for label in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(written) == ["[a] half line\n", "[a] second\n", "[b] half line\n", "[b] second\n"]
