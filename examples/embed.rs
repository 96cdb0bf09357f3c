//! Embedding the remotemedia runtime in a Rust program: load a manifest, run it over a few
//! inputs, print each output as it is produced, then the per-node metrics.
//!
//! The pipeline is `examples/manifests/calculator.json` — add 5, double, square — whose Python
//! nodes run in the embedded RustPython interpreter. From the repository root:
//!
//! ```text
//! cargo run --release --example embed
//! ```

use remotemedia_runtime::{Pipeline, Value};

// `pub` so the test suite runs this very code (crates/runtime/tests/pipeline.rs).
pub fn main() -> anyhow::Result<()> {
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/manifests/calculator.json"
    );
    let pipeline = Pipeline::load(manifest)?;

    let mut run = pipeline.run((1..=5).map(Value::Int).collect::<Vec<_>>())?;
    for output in run.by_ref() {
        println!("{} produced {}", output.sink, output.value.to_json());
    }

    let report = run.finish()?;
    for node in &report.metrics {
        println!(
            "{:<12} {} in, {} out, {:?} processing",
            node.node, node.items_in, node.items_out, node.process_time
        );
    }
    Ok(())
}
