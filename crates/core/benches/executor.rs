//! The executor's cost per item and per hop, with native Rust nodes (no interpreter): chains of
//! 1 and 4 pass-through nodes, each on its own thread, joined by bounded channels.
//!
//! `cargo bench --bench executor`. The difference between the two chains, divided by 3, is the
//! cost of one channel hop (send, wake-up, receive, metrics) per item.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use remotemedia_core::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec};
use remotemedia_core::executor::{self, PlannedNode, RunOptions};
use remotemedia_core::graph::Graph;
use remotemedia_core::manifest::Manifest;
use remotemedia_core::value::Value;
use serde_json::json;

const ITEMS: i64 = 10_000;

/// Runs every node as a native pass-through.
#[derive(Debug)]
struct NativeEngine;

#[derive(Debug)]
struct Pass;

impl Engine for NativeEngine {
    fn name(&self) -> &str {
        "native"
    }

    fn create(&self, _spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        Ok(Box::new(Pass))
    }
}

impl NodeInstance for Pass {
    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        Ok(out.emit(item)?)
    }
}

fn chain(length: usize) -> (Graph, Vec<PlannedNode>) {
    let ids: Vec<String> = (0..length).map(|index| format!("pass{index}")).collect();
    let manifest = Manifest::from_value(json!({
        "version": "v1",
        "metadata": {"name": "executor-bench"},
        "nodes": ids.iter().map(|id| json!({"id": id, "node_type": "Pass"})).collect::<Vec<_>>(),
        "connections": ids.windows(2).map(|pair| json!({"from": pair[0], "to": pair[1]})).collect::<Vec<_>>(),
    }))
    .expect("a valid chain manifest");
    let graph = manifest.graph();
    let engine: Arc<dyn Engine> = Arc::new(NativeEngine);
    let nodes = ids
        .into_iter()
        .map(|id| PlannedNode {
            spec: NodeSpec {
                node_type: "Pass".to_owned(),
                id,
                module: None,
                params: Default::default(),
                capabilities: None,
            },
            engine: Arc::clone(&engine),
        })
        .collect();
    (graph, nodes)
}

fn run_chain(graph: &Graph, nodes: &[PlannedNode]) -> usize {
    let inputs: Vec<Value> = (0..ITEMS).map(Value::Int).collect();
    let mut run = executor::start(graph, nodes.to_vec(), inputs, &RunOptions::default())
        .expect("threads start");
    let outputs = run.by_ref().count();
    run.finish().expect("the chain runs");
    assert_eq!(outputs, ITEMS as usize, "every item comes out");
    outputs
}

fn channel_hops(c: &mut Criterion) {
    let mut group = c.benchmark_group("executor");
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.sample_size(20);
    for length in [1, 4] {
        let (graph, nodes) = chain(length);
        group.bench_with_input(BenchmarkId::new("chain", length), &length, |b, _| {
            b.iter(|| run_chain(&graph, &nodes))
        });
    }
    group.finish();
}

criterion_group!(benches, channel_hops);
criterion_main!(benches);
