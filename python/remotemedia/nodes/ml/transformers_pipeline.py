"""Any Hugging Face `transformers` pipeline as a node."""

from __future__ import annotations

from typing import Any

from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.node import Node
from remotemedia.nodes.ml.requirements import check_device, gpu_capabilities, import_dependency, resolve_device

# Rough GPU memory, in GB, for the default model of tasks that want a GPU; other tasks run well on CPU.
GPU_TASK_MEMORY_GB = {
    "text-generation": 8.0,
    "text2text-generation": 4.0,
    "summarization": 4.0,
    "translation": 4.0,
    "automatic-speech-recognition": 4.0,
    "image-to-text": 4.0,
    "text-to-audio": 4.0,
}


class TransformersPipelineNode(Node):
    """Runs `transformers.pipeline(task, model=...)` on each item and emits its result.

    Capabilities follow the task: generation-style tasks ask for a CUDA GPU (required only when
    device="cuda"); light tasks such as text-classification ask for one only with device="cuda".
    """

    runtime_hint = "cpython"

    def __init__(
        self, task: str = "text-classification", model: str | None = None, device: str = "auto", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(task, str) or not task:
            raise ConfigurationError(f"task must name a transformers pipeline task, got {task!r}")
        self.task = task
        self.model = model
        self.device = check_device(device)
        self._pipeline: Any = None

    def get_capabilities(self) -> dict[str, Any] | None:
        memory = GPU_TASK_MEMORY_GB.get(self.task)
        if memory is None:
            return gpu_capabilities("cuda", 2.0, 4.0) if self.device == "cuda" else None
        return gpu_capabilities(self.device, min_memory_gb=memory, memory_gb=memory)

    def initialize(self) -> None:
        transformers = import_dependency("transformers", "transformers", type(self).__name__)
        torch = import_dependency("torch", "torch", type(self).__name__)
        self._pipeline = transformers.pipeline(self.task, model=self.model, device=resolve_device(self.device, torch))

    def process(self, data: Any) -> Any:
        return self._pipeline(data)

    def cleanup(self) -> None:
        self._pipeline = None
