"""Nodes record their constructor arguments as manifest params without any help from subclasses."""

from __future__ import annotations

import re

import pytest
from remotemedia.core.exceptions import ConfigurationError, SerializationError
from remotemedia.core.node import Node
from remotemedia.nodes.calculator import CalculatorNode
from remotemedia.nodes.simple_math import MultiplyNode


class Scale(Node):
    """A user node declaring ordinary keyword arguments and never forwarding them."""

    def __init__(self, factor: float = 1.0, offset: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.offset = offset

    def process(self, data):
        return data * self.factor + self.offset


class Configured(Node):
    """A node without __init__: any keyword is configuration."""

    def process(self, data):
        return self.config["prefix"] + data


def test_name_defaults_to_class_name_and_can_be_given():
    assert Scale().name == "Scale"
    assert Scale(name="scaler").name == "scaler"


def test_keyword_arguments_become_params_but_not_the_name():
    node = Scale(name="s", factor=2.5)
    assert node.config == {"factor": 2.5}
    assert node.to_manifest()["params"] == {"factor": 2.5}


def test_positional_arguments_are_named_by_the_signature():
    assert CalculatorNode("multiply", 3).config == {"operation": "multiply", "operand": 3}
    assert Scale(3.0, 1.0, name="s").config == {"factor": 3.0, "offset": 1.0}


def test_subclass_of_a_catalogue_node_records_its_own_arguments():
    node = MultiplyNode(factor=4)
    assert node.to_manifest()["params"] == {"factor": 4}
    assert node.process(2) == 8


def test_node_without_init_keeps_any_keyword_as_config():
    node = Configured(name="greeter", prefix="hello ")
    assert node.config == {"prefix": "hello "}
    assert node.process("you") == "hello you"


def test_misspelled_keyword_is_an_error_not_a_silent_param():
    with pytest.raises(TypeError, match="'factr'"):
        Scale(factr=2)


@pytest.mark.parametrize("name", ["my node", "", "trailing\n", "café", 7])
def test_node_name_must_fit_a_manifest_id(name: object) -> None:
    with pytest.raises(ConfigurationError, match=f"invalid node name {re.escape(repr(name))}"):
        Scale(name=name)


def test_node_name_may_use_letters_digits_dots_dashes_and_underscores() -> None:
    assert Scale(name="Stage-2.left_0").name == "Stage-2.left_0"


def test_user_node_manifest_names_its_module_and_catalogue_node_does_not():
    assert Scale().to_manifest()["module"] == __name__
    assert "module" not in CalculatorNode().to_manifest()


def test_capabilities_only_when_declared():
    class NeedsGpu(Node):
        def get_capabilities(self):
            return {"gpu": {"type": "cuda", "min_memory_gb": 4.0, "required": False}}

        def process(self, data):
            return data

    assert NeedsGpu().to_manifest()["capabilities"]["gpu"]["type"] == "cuda"
    assert "capabilities" not in NeedsGpu().to_manifest(include_capabilities=False)
    assert "capabilities" not in Scale().to_manifest()


def test_param_without_json_form_names_node_and_param():
    with pytest.raises(SerializationError, match=r"node 'bad' \(Scale\): parameter 'factor'"):
        Scale(name="bad", factor=object()).to_manifest()


def test_arguments_swallowed_by_star_args_cannot_be_serialized():
    class Variadic(Node):
        def __init__(self, *parts, **kwargs):
            super().__init__(**kwargs)
            self.parts = parts

    with pytest.raises(SerializationError, match="positional argument"):
        Variadic(1, 2, name="v").to_manifest()


def test_process_must_be_implemented():
    with pytest.raises(NotImplementedError, match="Configured2 must implement process"):
        type("Configured2", (Node,), {})().process(1)
