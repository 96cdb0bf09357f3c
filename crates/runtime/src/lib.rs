//! The remotemedia runtime for embedders: validates pipeline manifests, decides where every node
//! runs, and streams data through the graph, with the default engines wired in — the native
//! engine for the catalogue's audio nodes (Rust, no interpreter), the embedded RustPython
//! interpreter for pure-Python nodes and CPython (loaded at run time) for nodes that need C
//! extensions. It is the library behind the `remotemedia` executable.
//!
//! ```no_run
//! use remotemedia_runtime::{Pipeline, Value};
//!
//! // Validate the manifest, build its graph and plan every node for this machine.
//! let pipeline = Pipeline::load("examples/manifests/calculator.json")?;
//! // Start a run: every node initializes, then the inputs stream through.
//! let mut run = pipeline.run(vec![Value::Int(1), Value::Int(2)])?;
//! // Outputs arrive as the sink nodes produce them.
//! for output in run.by_ref() {
//!     println!("{}: {}", output.sink, output.value.to_json());
//! }
//! // How the run ended, with per-node metrics.
//! let report = run.finish()?;
//! for node in &report.metrics {
//!     println!("{}: {} in, {} out in {:?}", node.node, node.items_in, node.items_out, node.process_time);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/embed.rs` is the same program, runnable with `cargo run --release --example embed`.
//! An application with engines of its own (Rust nodes, no Python at all) can use
//! `remotemedia-core` alone: `examples/embed_rust_node.rs`.
//!
//! # Concepts
//!
//! **Manifests.** A pipeline is described by a versioned JSON [`manifest`]: its nodes (a type,
//! params, optional capability requirements and host) and the connections between them.
//! [`Manifest::from_path`](manifest::Manifest::from_path) reports every problem at once, each with
//! the JSON pointer of where it is.
//!
//! **Graphs.** The connections form a directed acyclic [`graph`]: nodes without predecessors
//! (roots) receive every input of a run; nodes without successors (sinks) produce its outputs.
//!
//! **Placement.** [`placement`] matches each node's requirements against the machine's
//! capabilities (detected, or read from a profile) and picks the engine that runs it, saying why.
//! A requirement nothing can meet fails the plan, before anything runs.
//!
//! **Engines.** An [`Engine`](engine::Engine) creates node instances and runs their code — the
//! embedded RustPython interpreter for the Python node catalogue, or an engine of your own. The
//! [`engine`] module is the whole contract: `initialize`, `process` (any number of outputs per
//! input), `flush`, `cleanup`.
//!
//! **Runs.** The [`executor`] runs every node on its own thread, joined by bounded channels, so a
//! slow node holds its producers back and memory stays bounded however long the stream. All nodes
//! initialize before data flows; `cleanup` always runs; the first failure stops the run and names
//! the node, while outputs already produced are still delivered. A [`RunHandle`] cancels a run
//! from another thread (the CLI wires SIGINT to it) and reads its live [`NodeMetrics`].
//!
//! **Values.** Items are [`Value`]s: JSON-like data plus bytes and typed numeric arrays, shared
//! rather than copied when a node's output goes to several successors.
//!
//! [`Pipeline`] ties these together. The modules below are `remotemedia-core`'s, re-exported so an
//! embedder needs this one crate; [`engines`] are the engine crates this facade wires in.

pub use remotemedia_core::{
    cluster, engine, env_vars, executor, graph, hosts, manifest, placement, value,
};

/// The engines the default [`Config`] starts: each is a crate of its own.
pub mod engines {
    pub use remotemedia_cpython as cpython;
    pub use remotemedia_media as media;
    pub use remotemedia_rustpython as rustpython;
}

pub mod isolation;
pub mod pipeline;
mod resolve;

pub use executor::{
    NodeMetrics, Output, Run, RunError, RunHandle, RunReport, RunTiming, TimingSummary,
};
pub use pipeline::{Config, LoadError, Pipeline, StartError};
pub use value::Value;
