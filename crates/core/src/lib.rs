//! The remotemedia core (public API): everything a pipeline needs except the code that runs its
//! nodes — values, the engine contract, manifests, graphs, placement and the streaming executor.
//! It has no Python and no network in it: engines (RustPython, CPython, remote hosts, native Rust
//! nodes) are crates of their own that implement [`engine::Engine`], and `remotemedia-runtime`
//! wires the default ones together. `examples/embed_rust_node.rs` is the smallest embedding: the
//! executor running a node written in Rust (`cargo run --release --example embed_rust_node`).
//!
//! - [`value`]: the items that flow between nodes.
//! - [`buffer`]: a typed array's elements, in the heap or in memory an embedder provides.
//! - [`engine`]: the whole contract between the executor and whatever runs a node.
//! - [`engines`]: how runs and hosts get the engines of this process, without knowing them.
//! - [`manifest`]: the versioned JSON manifest, parsed and validated once.
//! - [`graph`]: the manifest's connections as a DAG (roots, sinks, order).
//! - [`machine`]: what a machine offers, detected or from a profile.
//! - [`placement`]: which engine runs each node on a given machine, and why.
//! - [`executor`]: one thread per node, bounded channels, the node lifecycle, metrics.
//! - [`hosts`]: how placement reaches other remotemedia instances (implemented elsewhere).
//! - [`process`]: running a helper program with a time limit (machine probes).
//! - [`python_contract`]: the SDK module and functions the Python engines call, named once.
//! - [`env_vars`]: every environment variable the runtime reads.

pub mod buffer;
pub mod cluster;
pub mod engine;
pub mod engines;
pub mod env_vars;
pub mod executor;
pub mod graph;
pub mod hosts;
pub mod machine;
pub mod manifest;
pub mod placement;
pub mod process;
pub mod python_contract;
pub mod value;
