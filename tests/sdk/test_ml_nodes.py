"""ML nodes: capabilities follow their parameters; missing libraries give a clear error."""

from __future__ import annotations

import sys

import pytest
from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.pipeline import Pipeline
from remotemedia.manifest import validate
from remotemedia.nodes.ml.transformers_pipeline import TransformersPipelineNode
from remotemedia.nodes.ml.whisper_transcription import WhisperTranscriptionNode


@pytest.mark.parametrize(
    "model_size, device, gpu",
    [
        ("large", "auto", {"type": "cuda", "min_memory_gb": 10.0, "required": False}),
        ("large-v3", "cuda", {"type": "cuda", "min_memory_gb": 10.0, "required": True}),
        ("tiny.en", "auto", {"type": "cuda", "min_memory_gb": 1.0, "required": False}),
        ("medium", "cpu", None),
    ],
)
def test_whisper_capabilities_follow_model_size_and_device(model_size, device, gpu):
    capabilities = WhisperTranscriptionNode(model_size=model_size, device=device).get_capabilities()
    assert capabilities.get("gpu") == gpu


@pytest.mark.parametrize(
    "task, device, gpu",
    [
        ("text-generation", "auto", {"type": "cuda", "min_memory_gb": 8.0, "required": False}),
        ("text-generation", "cpu", None),
        ("text-classification", "auto", None),
        ("text-classification", "cuda", {"type": "cuda", "min_memory_gb": 2.0, "required": True}),
    ],
)
def test_transformers_capabilities_follow_task_and_device(task, device, gpu):
    capabilities = TransformersPipelineNode(task=task, device=device).get_capabilities() or {}
    assert capabilities.get("gpu") == gpu


def test_ml_manifests_are_valid_and_ask_for_cpython():
    pipeline = (
        Pipeline("ml")
        .add_node(WhisperTranscriptionNode(model_size="small"))
        .add_node(TransformersPipelineNode(task="summarization"))
    )
    manifest = pipeline.export_definition()
    assert validate(manifest) == []
    assert [node["runtime_hint"] for node in manifest["nodes"]] == ["cpython", "cpython"]
    assert manifest["nodes"][0]["params"] == {"model_size": "small"}


def test_bad_ml_parameters_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="unknown Whisper model size 'huge'"):
        WhisperTranscriptionNode(model_size="huge")
    with pytest.raises(ConfigurationError, match="device must be one of auto, cpu, cuda"):
        TransformersPipelineNode(device="gpu")


@pytest.mark.parametrize(
    "node, package",
    [
        (WhisperTranscriptionNode(), "openai-whisper"),
        (TransformersPipelineNode(), "transformers"),
    ],
)
def test_missing_library_is_a_clear_error_at_initialize(monkeypatch, node, package):
    for module in ("whisper", "transformers"):
        monkeypatch.setitem(sys.modules, module, None)  # makes the import fail, installed or not
    message = f"needs the '{package}' package, which is not installed: pip install {package}"
    with pytest.raises(NodeError, match=message):
        Pipeline("ml").add_node(node).run([])


def test_importing_ml_nodes_does_not_import_their_libraries(run_python):
    code = (
        "import sys, remotemedia.nodes.ml.whisper_transcription, remotemedia.nodes.ml.transformers_pipeline; "
        "print(sorted({'torch', 'whisper', 'transformers', 'numpy'} & set(sys.modules)))"
    )
    assert run_python("-c", code).stdout.strip() == "[]"
