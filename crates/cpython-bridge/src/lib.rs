//! The remotemedia CPython engine (internal crate of the `remotemedia` runtime): nodes whose code
//! needs C extensions — numpy, onnxruntime, webrtcvad … — run in CPython through PyO3.
//!
//! It is the only crate besides the Python extension module that touches Python's C API, and it
//! never links libpython. It is used two ways:
//!
//! - **As the bridge** (`libremotemedia_cpython_bridge.so`, this crate's cdylib): the `remotemedia`
//!   executable locates an interpreter, loads its libpython with `RTLD_GLOBAL`, loads this library
//!   and calls [`bridge::remotemedia_cpython_engine`] (see
//!   `remotemedia_cpython`). That starts CPython once per process, pointed at the
//!   interpreter's own `sys.path` so its site-packages import, with the SDK's sources embedded.
//! - **In a Python process** (the `remotemedia._native` extension module): [`CPythonEngine::new`]
//!   runs nodes in the calling interpreter, optionally on the live node objects the caller built.
//!
//! Nodes are resolved and driven exactly as in the RustPython engine — the SDK's
//! `load_node_class` and `NodeDriver` — so both engines give the same outputs. Values convert
//! directly between [`Value`](remotemedia_core::Value) and Python objects ([`convert`]); typed
//! arrays reach nodes as read-only numpy arrays sharing the runtime's buffer (no copy) when numpy
//! is installed, as `array.array` otherwise.

pub mod bridge;
pub mod convert;
mod engine;
mod error;
mod helper;
mod node;

pub use engine::CPythonEngine;
pub use error::node_error;
