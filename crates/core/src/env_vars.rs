//! Every environment variable the runtime reads, named once so code, errors and docs agree.
//! The Python package names the ones its own code reads in `remotemedia/core/env_vars.py`;
//! those the nodes read, which users set for `remotemedia run`, are listed here too.

/// Forces the Python engine of every locally placed node: `auto`, `rustpython` or `cpython`.
/// Overrides the manifest's `runtime_hint`; `auto` leaves the hints as they are.
pub const PYTHON_RUNTIME: &str = "REMOTEMEDIA_PYTHON_RUNTIME";

/// The CPython interpreter whose libpython the CPython engine loads (issue 5).
pub const PYTHON: &str = "REMOTEMEDIA_PYTHON";

/// More directories for the modules of user-defined Python nodes, separated like `PATH`; searched
/// after those given with `--python-path`.
pub const PYTHON_PATH: &str = "REMOTEMEDIA_PYTHON_PATH";

/// The CPython bridge library (`libremotemedia_cpython_bridge.so`) to load, when it is not next to the
/// executable.
pub const CPYTHON_BRIDGE: &str = "REMOTEMEDIA_CPYTHON_BRIDGE";

/// The `remotemedia` executable a Ray cluster's actors start as node workers, as a path on the
/// cluster's machines; overrides the one `run --cluster` and `Pipeline.run(cluster=…)` find
/// themselves (docs/cluster.md).
pub const CLUSTER_WORKER: &str = "REMOTEMEDIA_CLUSTER_WORKER";

/// The token `run` and `plan` present to remote hosts, when `--token-file` is not given.
pub const TOKEN: &str = "REMOTEMEDIA_TOKEN";

/// Directories holding local models, separated like `PATH`, searched by the catalogue's model
/// nodes (`WhisperTranscriptionNode`) after their own `model_path`. Read by the Python nodes (named
/// in `remotemedia/core/env_vars.py`); nothing is ever downloaded at run time.
pub const MODEL_PATH: &str = "REMOTEMEDIA_MODEL_PATH";
