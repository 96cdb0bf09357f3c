"""Every environment variable the Python package reads, named once so code, errors and docs agree.

The runtime's own variables are named in `crates/core/src/env_vars.rs`, which also lists these.
This module is imported by the embedded interpreters, so it holds names only.
"""

ENGINE = "REMOTEMEDIA_ENGINE"
"""The engine `Pipeline.run()` uses when none is given: `runtime` (default) or `python`."""

NATIVE_MODULE = "REMOTEMEDIA_NATIVE_MODULE"
"""A `libremotemedia_python_ext.so` built by cargo, loaded as `remotemedia._native` when the package has
none (a source checkout; the tests use the one `cargo build --release` made)."""

MODEL_PATH = "REMOTEMEDIA_MODEL_PATH"
"""Directories holding local models (e.g. a Whisper model directory named `base.en`), separated like
`PATH`; searched after a node's own `model_path`. Models are never downloaded at run time."""
