"""The catalogue: manifest node types resolve to classes, lazily, with clear errors."""

from __future__ import annotations

import pytest
from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.node import Node
from remotemedia.engine_api import catalogue, load_node_class


def test_every_catalogue_entry_loads_to_the_class_defined_there():
    for node_type, module in catalogue().items():
        cls = load_node_class(node_type)
        assert issubclass(cls, Node)
        assert (cls.__name__, cls.__module__) == (node_type, module)


def test_every_node_class_in_the_catalogue_modules_is_listed():
    import importlib

    listed = catalogue()
    for module_name in set(listed.values()):
        module = importlib.import_module(module_name)
        defined = {
            name
            for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, Node) and value.__module__ == module_name
        }
        assert defined <= set(listed), f"{module_name} defines unlisted nodes {defined - set(listed)}"


class Echo(Node):
    """A user-defined node, living outside the catalogue."""

    def process(self, data):
        return data


def test_user_nodes_resolve_by_module_or_colon_form():
    assert load_node_class("Echo", module=__name__) is Echo
    assert load_node_class(f"{__name__}:Echo") is Echo


def test_unknown_name_suggests_close_catalogue_names():
    with pytest.raises(ConfigurationError, match="Did you mean CalculatorNode"):
        load_node_class("CalculaterNode")


@pytest.mark.parametrize(
    "node_type, module, message",
    [
        ("Missing", __name__, "has no class 'Missing'"),
        ("X", "no_such_module_here", "cannot import module 'no_such_module_here'"),
        ("pytest:fixture", None, "is not a remotemedia Node subclass"),
        ("a.b:C", "other", "names module 'a.b' but module is 'other'"),
    ],
)
def test_unresolvable_nodes_say_why(node_type, module, message):
    with pytest.raises(ConfigurationError, match=message):
        load_node_class(node_type, module)


def test_importing_the_catalogue_imports_no_node_module(run_python):
    code = (
        "import sys, remotemedia.engine_api as api; api.catalogue(); "
        "print(sorted(m for m in sys.modules if m.startswith('remotemedia.nodes.')))"
    )
    assert run_python("-c", code).stdout.strip() == "[]"
