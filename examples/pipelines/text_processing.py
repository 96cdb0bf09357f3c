"""Text clean-up: collapse whitespace, fix a product name, then title-case each line.

Run locally: PYTHONPATH=python python examples/pipelines/text_processing.py
Manifest:    examples/manifests/text_processing.json
"""

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.io_nodes import DataSinkNode, DataSourceNode
from remotemedia.nodes.text import TextTransformNode


def build() -> Pipeline:
    return (
        Pipeline(name="text-processing")
        .add_node(DataSourceNode(name="lines"))
        .add_node(TextTransformNode(name="tidy", operation="normalize_whitespace"))
        .add_node(TextTransformNode(name="brand", operation="replace", old="remote media", new="remotemedia"))
        .add_node(TextTransformNode(name="title", operation="title"))
        .add_node(DataSinkNode(name="results"))
    )


if __name__ == "__main__":
    print(build().run(["  pipelines   with remote media  ", "run\tanywhere"]))
