"""These tests pin the reference semantics: `Pipeline.run()` here is the pure-CPython local run.
The runtime engine (`Pipeline.run()`'s default) is tested against it in tests/cpython."""

import pytest


@pytest.fixture(autouse=True)
def pure_cpython_pipeline_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOTEMEDIA_ENGINE", "python")
