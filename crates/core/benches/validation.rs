//! Manifest validation throughput: parse, JSON Schema, semantic rules and graph building of a
//! 200-node manifest, in-process (what `remotemedia run` does before anything starts).
//!
//! `cargo bench --bench validation`; `make bench` reports it as manifests/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use remotemedia_core::manifest::Manifest;
use serde_json::json;

/// Nodes in the benchmarked manifest.
const NODES: usize = 200;

/// A realistic large manifest: a chain of mixed catalogue nodes with params, every tenth node
/// also feeding one five places on (fan-out and fan-in), some capability requirements.
fn manifest_text(nodes: usize) -> String {
    let node = |index: usize| {
        let id = format!("node_{index:03}");
        match index % 4 {
            0 => json!({"id": id, "node_type": "PassThroughNode", "params": {}}),
            1 => json!({"id": id, "node_type": "CalculatorNode",
                        "params": {"operation": "multiply", "operand": index}}),
            2 => json!({"id": id, "node_type": "ResampleNode", "params": {"target_rate": 16000},
                        "capabilities": {"cpu": {"cores": 1}, "memory_gb": 0.5}}),
            _ => json!({"id": id, "node_type": "my_nodes:Custom", "runtime_hint": "auto",
                        "params": {"labels": ["a", "b"], "threshold": 0.5, "nested": {"depth": 2}}}),
        }
    };
    let mut connections: Vec<_> = (1..nodes)
        .map(|to| json!({"from": format!("node_{:03}", to - 1), "to": format!("node_{to:03}")}))
        .collect();
    connections.extend((0..nodes.saturating_sub(5)).step_by(10).map(
        |from| json!({"from": format!("node_{from:03}"), "to": format!("node_{:03}", from + 5)}),
    ));
    json!({
        "version": "v1",
        "metadata": {"name": "validation-bench", "created_at": "2026-01-01T00:00:00Z"},
        "nodes": (0..nodes).map(node).collect::<Vec<_>>(),
        "connections": connections,
    })
    .to_string()
}

fn validation(c: &mut Criterion) {
    let text = manifest_text(NODES);
    // Fail loudly rather than time the error path.
    Manifest::from_json_str(&text).expect("the bench manifest is valid");

    let mut group = c.benchmark_group("validation");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("{NODES} nodes"), |b| {
        b.iter(|| {
            let manifest = Manifest::from_json_str(black_box(&text)).expect("valid");
            manifest.graph()
        })
    });
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
