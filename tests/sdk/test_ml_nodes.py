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
    "model, device, gpu",
    [
        ("large", "auto", {"type": "cuda", "min_memory_gb": 10.0, "required": False}),
        ("large-v3", "cuda", {"type": "cuda", "min_memory_gb": 10.0, "required": True}),
        ("tiny.en", "auto", {"type": "cuda", "min_memory_gb": 1.0, "required": False}),
        ("distil-small.en", "auto", {"type": "cuda", "min_memory_gb": 2.0, "required": False}),
        ("/models/faster-whisper-medium", "cuda", {"type": "cuda", "min_memory_gb": 5.0, "required": True}),
        ("/models/my-own-model", "cuda", {"type": "cuda", "min_memory_gb": 10.0, "required": True}),
        ("medium", "cpu", None),
    ],
)
def test_whisper_capabilities_follow_model_size_and_device(model, device, gpu):
    capabilities = WhisperTranscriptionNode(model=model, device=device).get_capabilities()
    assert capabilities.get("gpu") == gpu


def test_whisper_takes_model_size_as_the_earlier_name_of_model():
    assert WhisperTranscriptionNode(model_size="small").model == "small"
    with pytest.raises(ConfigurationError, match="not both"):
        WhisperTranscriptionNode(model="base", model_size="small")


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
        .add_node(WhisperTranscriptionNode(model="small"))
        .add_node(TransformersPipelineNode(task="summarization"))
    )
    manifest = pipeline.export_definition()
    assert validate(manifest) == []
    assert [node["runtime_hint"] for node in manifest["nodes"]] == ["cpython", "cpython"]
    assert manifest["nodes"][0]["params"] == {"model": "small"}


def test_bad_ml_parameters_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="unknown Whisper model size 'huge'"):
        WhisperTranscriptionNode(model="huge")
    with pytest.raises(ConfigurationError, match="backend must be one of faster-whisper, openai-whisper"):
        WhisperTranscriptionNode(backend="whisper.cpp")
    with pytest.raises(ConfigurationError, match="segmentation must be one of window, vad"):
        WhisperTranscriptionNode(segmentation="silence")
    with pytest.raises(ConfigurationError, match=r"window_seconds must be in \[5, 30\]"):
        WhisperTranscriptionNode(window_seconds=45)
    with pytest.raises(ConfigurationError, match="model_path must be a list of directories"):
        WhisperTranscriptionNode(model_path="/models")
    with pytest.raises(ConfigurationError, match="device must be one of auto, cpu, cuda"):
        TransformersPipelineNode(device="gpu")


@pytest.mark.parametrize(
    "node, package",
    [
        (WhisperTranscriptionNode(), "faster-whisper"),
        (WhisperTranscriptionNode(backend="openai-whisper"), "openai-whisper"),
        (TransformersPipelineNode(), "transformers"),
    ],
)
def test_missing_library_is_a_clear_error_at_initialize(monkeypatch, node, package):
    for module in ("faster_whisper", "whisper", "transformers"):
        monkeypatch.setitem(sys.modules, module, None)  # makes the import fail, installed or not
    message = f"needs the '{package}' package, which is not installed: pip install {package}"
    with pytest.raises(NodeError, match=message):
        Pipeline("ml").add_node(node).run([])


def test_importing_ml_nodes_does_not_import_their_libraries(run_python):
    code = (
        "import sys, remotemedia.nodes.ml.whisper_transcription, remotemedia.nodes.ml.transformers_pipeline; "
        "heavy = {'torch', 'whisper', 'faster_whisper', 'ctranslate2', 'transformers', 'numpy'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    assert run_python("-c", code).stdout.strip() == "[]"
