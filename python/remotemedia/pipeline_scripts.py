"""Pipeline scripts: Python files that define `build() -> Pipeline`, like examples/pipelines/*.py.

Loading them by path (not by import name) lets `python -m remotemedia export` and the tests turn
any such file into its manifest; the first paragraph of the script's docstring becomes the manifest description.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.pipeline import Pipeline


def load_script(path: Path | str) -> ModuleType:
    """Execute a pipeline script as a module named after its file."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"remotemedia_pipeline_{path.stem}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ConfigurationError(f"cannot load pipeline script {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_pipeline(path: Path | str) -> Pipeline:
    """The pipeline returned by the script's `build()`."""
    return _build(load_script(path), path)


def export_manifest(path: Path | str) -> str:
    """The script's pipeline serialized, described by the first paragraph of the script's docstring."""
    module = load_script(path)
    first_paragraph = (module.__doc__ or "").strip().split("\n\n")[0]
    description = " ".join(first_paragraph.split()) or None
    return _build(module, path).serialize(description=description)


def _build(module: ModuleType, path: Path | str) -> Pipeline:
    build = getattr(module, "build", None)
    if not callable(build):
        raise ConfigurationError(f"pipeline script {path} must define build() -> Pipeline")
    pipeline = build()
    if not isinstance(pipeline, Pipeline):
        raise ConfigurationError(f"build() in {path} returned {type(pipeline).__name__}, not a Pipeline")
    return pipeline
