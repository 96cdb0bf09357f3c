//! The smallest embedding: the executor with one node written in Rust — no Python, no manifest
//! file, only `remotemedia-core`. A `Doubler` engine creates the node; a two-node graph (double,
//! then double again) runs over five inputs, and each output prints as it is produced.
//!
//! ```text
//! cargo run --release --example embed_rust_node
//! ```

use std::sync::Arc;

use remotemedia_core::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec, ParamError};
use remotemedia_core::executor::{self, PlannedNode, RunOptions};
use remotemedia_core::manifest::Manifest;
use remotemedia_core::value::Value;

/// Creates `Doubler` nodes.
struct Doubling;

impl Engine for Doubling {
    fn name(&self) -> &str {
        "doubling"
    }

    fn create(&self, _spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        Ok(Box::new(Doubler))
    }
}

/// Emits twice each integer it receives.
struct Doubler;

impl NodeInstance for Doubler {
    fn initialize(&mut self) -> Result<(), NodeError> {
        Ok(())
    }

    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        match item {
            Value::Int(number) => Ok(out.emit(Value::Int(number * 2))?),
            other => Err(NodeError::new(format!(
                "expected an integer, got {}",
                other.to_json()
            ))),
        }
    }

    fn flush(&mut self, _out: &mut dyn Emitter) -> Result<(), NodeError> {
        Ok(())
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        Ok(())
    }
}

// `pub` so the test suite runs this very code (crates/core/tests/it/embedding.rs).
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = Manifest::from_json_str(
        r#"{"version": "v1", "metadata": {"name": "doubling"},
            "nodes": [{"id": "double", "node_type": "Doubler"}, {"id": "again", "node_type": "Doubler"}],
            "connections": [{"from": "double", "to": "again"}]}"#,
    )?;
    let engine: Arc<dyn Engine> = Arc::new(Doubling);
    let nodes = manifest
        .nodes
        .iter()
        .map(|node| {
            Ok(PlannedNode {
                spec: NodeSpec::from_manifest(node)?,
                engine: Arc::clone(&engine),
            })
        })
        .collect::<Result<Vec<_>, ParamError>>()?;
    let inputs: Vec<Value> = (1..=5).map(Value::Int).collect();
    let mut run = executor::start(&manifest.graph(), nodes, inputs, &RunOptions::default())?;
    for output in run.by_ref() {
        println!("{} produced {}", output.sink, output.value.to_json());
    }
    run.finish()?;
    Ok(())
}
